// Acknowledged writes survive kill -9 of the server process (CLI and engine together); SIGTERM is clean.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('../../apps/libsql/cli.ts', import.meta.url))
let dataDir: string

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-durability-'))
})

afterAll(() => rm(dataDir, { recursive: true, force: true }))

/** Starts the CLI in its own process group; resolves once it printed its URL. */
function startCli(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--port', '0', '--data', dataDir], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /libsql listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve({ child, url: match[1], output: () => output })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`cli exited early (${code}): ${output}`)))
  })
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

describe('durability', () => {
  it('loses no acknowledged write when the server and its engine are killed with SIGKILL', async () => {
    const first = await startCli()
    const db = createClient({ url: first.url })
    await db.execute('CREATE TABLE acked (id INTEGER PRIMARY KEY, v TEXT NOT NULL)')
    const written: number[] = []
    for (let i = 1; i <= 200; i++) {
      await db.execute({ sql: 'INSERT INTO acked (id, v) VALUES (?, ?)', args: [i, `row ${i}`] })
      written.push(i)
    }
    await db.batch(
      Array.from({ length: 50 }, (_, k) => ({
        sql: 'INSERT INTO acked (id, v) VALUES (?, ?)',
        args: [1000 + k, 'batch'],
      })),
      'write',
    )
    const tx = await db.transaction('write')
    await tx.execute("INSERT INTO acked (id, v) VALUES (5000, 'committed in tx')")
    await tx.commit()
    const open = await db.transaction('write')
    await open.execute("INSERT INTO acked (id, v) VALUES (6000, 'never committed')")
    // kill the whole process group (the CLI and the engine process) without any chance to clean up
    const gone = exited(first.child)
    process.kill(-(first.child.pid as number), 'SIGKILL')
    expect((await gone).signal).toBe('SIGKILL')
    db.close()

    const second = await startCli()
    const again = createClient({ url: second.url })
    try {
      const rows = await again.execute('SELECT id FROM acked ORDER BY id')
      const ids = rows.rows.map((r) => Number(r.id))
      expect(ids).toEqual([...written, ...Array.from({ length: 50 }, (_, k) => 1000 + k), 5000])
      expect((await again.execute('PRAGMA integrity_check')).rows[0]?.integrity_check).toBe('ok')
    } finally {
      again.close()
      const stopped = exited(second.child)
      second.child.kill('SIGTERM')
      await stopped
    }
  })

  it('stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = await startCli()
      const db = createClient({ url: server.url })
      await db.execute('CREATE TABLE IF NOT EXISTS clean (x)')
      await db.execute('INSERT INTO clean VALUES (1)')
      db.close()
      const stopped = exited(server.child)
      server.child.kill(signal)
      expect(await stopped).toEqual({ code: 0, signal: null })
      expect(server.output()).toContain(`${signal}, closing`)
    }
  })
})

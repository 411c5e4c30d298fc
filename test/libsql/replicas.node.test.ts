// Embedded replicas: the official client with `syncUrl` against the local server (started as its own
// process: the client's native sync blocks the event loop of the process it runs in).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('../../apps/libsql/cli.ts', import.meta.url))
const TOKEN = 'replica-secret'
let dir: string
let child: ChildProcess
let base: string
const clients: Client[] = []

/** The server's replication info for a database (a request, so it also captures the frame log). */
async function info(db: string): Promise<{ current_generation: number }> {
  const response = await fetch(`${base}/db/${db}/info`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return (await response.json()) as { current_generation: number }
}

/** Starts the CLI in its own process group; resolves with its URL once it listens. */
function startServer(data: string): Promise<{ server: ChildProcess; url: string }> {
  const args = ['--import', 'tsx', cli, '--port', '0', '--data', data, '--auth-token', TOKEN]
  const server = spawn(process.execPath, [...args, '--embedded-replicas', '--replica-log-frames', '300'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /libsql listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve({ server, url: match[1] })
    }
    server.stdout?.on('data', onData)
    server.stderr?.on('data', onData)
    server.once('exit', (code) => reject(new Error(`server exited (${code}): ${output}`)))
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-replicas-'))
  ;({ server: child, url: base } = await startServer(join(dir, 'data')))
}, 30_000)

afterAll(async () => {
  for (const c of clients) c.close()
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  await rm(dir, { recursive: true, force: true })
})

const primary = (db: string) => track(createClient({ url: `${base}/db/${db}/`, authToken: TOKEN }))
const replica = (db: string, file: string, authToken = TOKEN) =>
  track(createClient({ url: `file:${join(dir, file)}`, syncUrl: `${base}/db/${db}`, authToken }))

function track(client: Client): Client {
  clients.push(client)
  return client
}

async function rows(client: Client, sql: string): Promise<unknown[][]> {
  const result = await client.execute(sql)
  return result.rows.map((row) => result.columns.map((_, i) => row[i]))
}

describe('embedded replicas', () => {
  it('reads locally what sync() pulled from the primary', async () => {
    const p = primary('basic')
    await p.batch([
      'create table t (id integer primary key, v text)',
      "insert into t values (1, 'a'), (2, 'b')",
    ])
    const r = replica('basic', 'basic.db')
    await r.sync()
    expect(await rows(r, 'select * from t order by id')).toEqual([
      [1, 'a'],
      [2, 'b'],
    ])
    await p.execute("update t set v = 'z' where id = 1")
    expect(await rows(r, 'select v from t where id = 1')).toEqual([['a']]) // local until the next sync
    await r.sync()
    expect(await rows(r, 'select v from t where id = 1')).toEqual([['z']])
  })

  it('forwards writes to the primary and brings them back with sync()', async () => {
    const p = primary('writes')
    await p.execute('create table t (id integer primary key, v text)')
    const r = replica('writes', 'writes.db')
    await r.sync()
    await r.execute("insert into t values (10, 'from replica')")
    expect(await rows(p, 'select * from t')).toEqual([[10, 'from replica']])
    await p.execute("insert into t values (11, 'from primary')")
    await r.sync()
    expect(await rows(r, 'select * from t order by id')).toEqual([
      [10, 'from replica'],
      [11, 'from primary'],
    ])
  })

  it('catches up after 10,000 writes while offline (across pruned generations), row by row', async () => {
    const p = primary('offline')
    await p.execute('create table t (id integer primary key, v text, n integer)')
    await p.execute("insert into t values (0, 'seed', 0)")
    const r = replica('offline', 'offline.db')
    await r.sync()
    r.close()
    for (let batch = 0; batch < 100; batch++) {
      const statements = Array.from({ length: 100 }, (_, i) => {
        const id = batch * 100 + i + 1
        return {
          sql: 'insert into t values (?, ?, ?)',
          args: [id, `row-${id}-${'x'.repeat(id % 50)}`, id * 7],
        }
      })
      statements[0] = { sql: 'update t set n = n + 1 where id % 10 = ?', args: [batch % 10] }
      statements[1] = { sql: 'delete from t where id = ?', args: [batch * 50] }
      await p.batch(statements, 'write')
      // Every request captures the log (and cuts a generation past 300 frames), so the cuts do
      // not depend on the server's 500 ms capture timer.
      if (batch % 10 === 9) await info('offline')
    }
    const back = replica('offline', 'offline.db')
    await back.sync()
    const expected = await rows(p, 'select * from t order by id')
    expect(expected.length).toBeGreaterThan(9000)
    expect(await rows(back, 'select * from t order by id')).toEqual(expected)
    const fresh = replica('offline', 'offline-new.db')
    await fresh.sync()
    expect(await rows(fresh, 'select * from t order by id')).toEqual(expected)
    expect(await rows(fresh, 'pragma integrity_check')).toEqual([['ok']])
    expect((await info('offline')).current_generation).toBeGreaterThan(2)
  }, 120_000)

  it('refuses a wrong token', async () => {
    await primary('guarded').execute('create table t (a)')
    await expect(async () => {
      const r = replica('guarded', 'guarded.db', 'wrong')
      await r.sync()
    }).rejects.toThrow(/unauthorized/i)
  })

  it('errors for an invalid database name', async () => {
    await expect(async () => {
      const r = replica('No_Such!', 'invalid.db')
      await r.sync()
    }).rejects.toThrow()
  })
})

describe('embedded replicas across server restarts', () => {
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`keep syncing after ${signal} and a restart`, async () => {
      const data = join(dir, `restart-${signal}`)
      let { server, url } = await startServer(data)
      const stop = async () => {
        const exited = new Promise((resolve) => server.once('exit', resolve))
        process.kill(-(server.pid as number), signal)
        await exited
      }
      try {
        const p1 = createClient({ url: `${url}/db/r/`, authToken: TOKEN })
        await p1.execute('create table t (id integer primary key, v text)')
        for (let i = 0; i < 20; i++)
          await p1.execute({ sql: 'insert into t values (?, ?)', args: [i, `v${i}`] })
        const file = `restart-${signal}.db`
        const r1 = track(
          createClient({ url: `file:${join(dir, file)}`, syncUrl: `${url}/db/r`, authToken: TOKEN }),
        )
        await r1.sync()
        for (let i = 20; i < 40; i++)
          await p1.execute({ sql: 'insert into t values (?, ?)', args: [i, `v${i}`] })
        p1.close()
        r1.close()
        await stop()
        ;({ server, url } = await startServer(data))
        const p2 = createClient({ url: `${url}/db/r/`, authToken: TOKEN })
        await p2.execute("update t set v = 'after' where id % 3 = 0")
        const r2 = track(
          createClient({ url: `file:${join(dir, file)}`, syncUrl: `${url}/db/r`, authToken: TOKEN }),
        )
        await r2.sync()
        const expected = await rows(p2, 'select * from t order by id')
        expect(expected).toHaveLength(40)
        expect(await rows(r2, 'select * from t order by id')).toEqual(expected)
        p2.close()
      } finally {
        await stop()
      }
    }, 60_000)
  }
})

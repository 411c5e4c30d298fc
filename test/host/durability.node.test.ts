import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { openNodeDatabase } from '../../apps/host/sqlite-node'

it('loses no acknowledged write when the host is killed with SIGKILL mid-stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeblocks-host-kill-'))
  const fixture = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', '--no-warnings', fixture, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let lastAcked = 0
  let buffered = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) lastAcked = Number(line)
      if (lastAcked >= 300 && child.exitCode === null) {
        child.kill('SIGKILL')
        resolve()
      }
    })
  })
  await exited
  const files = readdirSync(join(dir, 'Writer')).filter((file) => file.endsWith('.sqlite'))
  expect(files).toHaveLength(1)
  const db = openNodeDatabase(join(dir, 'Writer', files[0] ?? ''))
  const { rows } = db.query('SELECT count(*) AS n, max(n) AS top FROM acked', [])
  db.close()
  const stored = rows[0] as { n: number; top: number }
  // Every write printed before the kill is on disk, with no gap.
  expect(stored.top).toBeGreaterThanOrEqual(lastAcked)
  expect(stored.n).toBe(stored.top)
})

/**
 * The local libSQL server (apps/libsql) under load from @libsql/client: point reads and
 * single-row inserts at 1 and 16 concurrent requests, next to the same statements on an
 * in-process `libsql` database (the floor: no HTTP, no IPC) and `GET /health` of the same
 * server (the HTTP cost alone). The servers run as their own processes, as `npm run libsql` and
 * the storage nodes do, so the client's work does not share the server's event loop. Rows marked "inline engine" run the engine inside the HTTP
 * process, which shows what the engine process isolation (one IPC round trip) costs; "raw Hrana
 * fetch" rows send the client's request by hand, which shows what @libsql/client itself costs.
 * Every database is a real file in WAL mode with synchronous=FULL, as the server runs by
 * default, so inserts include an fsync each. Bounded: ~1 s per row, ~17 s in total.
 */

import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import Database from 'libsql'
import { freePort } from '../scripts/platform-process.ts'
import { startLibsqlProcess } from '../scripts/storage-nodes.ts'
import { type LoadResult, loadRow, printTable, runLoad } from './harness.ts'

const DURATION_MS = 1_000
const WARMUP = 200
const ROWS = 10_000

const dir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-bench-'))
const servers: ChildProcess[] = []

function seedSql(table: string): string {
  return `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT ${ROWS})
    INSERT INTO ${table} (id, v) SELECT i, 'value ' || i FROM s;`
}

const load = (concurrency: number, op: (i: number) => Promise<unknown>): Promise<LoadResult> =>
  runLoad({ concurrency, durationMs: DURATION_MS, warmupOps: WARMUP, op })

try {
  // the floor: the same statements on an in-process connection with the server's pragmas
  const local = new Database(join(dir, 'floor.db'))
  local.defaultSafeIntegers(true)
  local.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL')
  local.exec(seedSql('kv'))
  const localRead = local.prepare('SELECT v FROM kv WHERE id = ?').raw(true)
  const localInsert = local.prepare('INSERT INTO kv (v) VALUES (?)')
  const floorRead = await load(1, async (i) => localRead.all([BigInt((i % ROWS) + 1)]))
  const floorInsert = await load(1, async (i) => localInsert.run([`new ${i}`]))
  local.close()

  const serverPort = await freePort()
  const inlinePort = await freePort()
  servers.push(await startLibsqlProcess(serverPort, join(dir, 'server')))
  servers.push(await startLibsqlProcess(inlinePort, join(dir, 'inline'), ['--isolation', 'inline']))
  const server = { url: `http://127.0.0.1:${serverPort}` }
  const inline = { url: `http://127.0.0.1:${inlinePort}` }
  const client = createClient({ url: server.url, concurrency: 32 })
  const inlineClient = createClient({ url: inline.url, concurrency: 32 })
  await client.executeMultiple(seedSql('kv'))
  await inlineClient.executeMultiple(seedSql('kv'))
  const read = (c: typeof client) => (i: number) =>
    c.execute({ sql: 'SELECT v FROM kv WHERE id = ?', args: [(i % ROWS) + 1] })
  const insert = (c: typeof client) => (i: number) =>
    c.execute({ sql: 'INSERT INTO kv (v) VALUES (?)', args: [`new ${i}`] })
  // the same point read as one raw Hrana request (what the client sends), to split client from server
  const raw = async (i: number) => {
    const res = await fetch(`${server.url}/v2/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT v FROM kv WHERE id = ?","args":[{"type":"integer","value":"${(i % ROWS) + 1}"}]}},{"type":"close"}]}`,
    })
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
  }
  const health = async () => {
    const res = await fetch(`${server.url}/health`)
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
  }

  const rows = [
    loadRow('in-process point read (floor)', floorRead),
    loadRow('in-process insert (floor)', floorInsert),
  ]
  for (const concurrency of [1, 16]) {
    rows.push(loadRow(`GET /health, c=${concurrency}`, await load(concurrency, health), floorRead))
    rows.push(loadRow(`point read, c=${concurrency}`, await load(concurrency, read(client)), floorRead))
    rows.push(
      loadRow(`point read, raw Hrana fetch, c=${concurrency}`, await load(concurrency, raw), floorRead),
    )
    rows.push(
      loadRow(
        `point read, inline engine, c=${concurrency}`,
        await load(concurrency, read(inlineClient)),
        floorRead,
      ),
    )
    rows.push(loadRow(`insert, c=${concurrency}`, await load(concurrency, insert(client)), floorInsert))
  }
  client.close()
  inlineClient.close()
  printTable(
    `libSQL server via @libsql/client vs in-process libsql (${DURATION_MS / 1000} s per row, WAL + synchronous=FULL; ratio vs the in-process floor)`,
    rows,
  )
} finally {
  await Promise.all(
    servers.map(
      (child) =>
        new Promise((resolveExit) => {
          child.once('exit', resolveExit)
          child.kill('SIGTERM')
        }),
    ),
  )
  await rm(dir, { recursive: true, force: true })
}

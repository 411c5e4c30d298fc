// A described write must not keep its connection's WAL write lock after the stream closes (the
// binding's all() leaves the EXPLAIN statement un-reset, which held the lock until garbage collection).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'libsql'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { pipeline } from './support.ts'

let server: LibsqlServer
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-describe-'))
  server = await startLibsqlServer({ port: 0, dataDir: dir })
})

afterAll(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

it('a described and executed write leaves the database unlocked', async () => {
  await pipeline(server.url, null, [
    { type: 'execute', stmt: { sql: 'CREATE TABLE t (a)' } },
    { type: 'describe', sql: 'INSERT INTO t VALUES (1)' },
    { type: 'execute', stmt: { sql: 'INSERT INTO t VALUES (1)' } },
    { type: 'close' },
  ])
  const other = new Database(join(dir, 'default.db'))
  try {
    other.exec('PRAGMA busy_timeout=0')
    other.exec('BEGIN IMMEDIATE') // SQLITE_BUSY while another connection holds the write lock
    other.exec('ROLLBACK')
    expect(other.prepare('SELECT count(*) FROM t').raw(true).get()).toEqual([1])
  } finally {
    other.close()
  }
})

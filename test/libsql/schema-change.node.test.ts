// A statement cached by a connection must answer with the columns of the schema it ran on: after
// another connection alters a table, `SELECT *` and its description list the new column.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'libsql'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { execute, pipeline } from './support.ts'

let server: LibsqlServer
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-schema-'))
  server = await startLibsqlServer({ port: 0, dataDir: dir, engineProcesses: 1 })
})

afterAll(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

const names = (result: { cols: Array<{ name: string }> }) => result.cols.map((col) => col.name)

it('answers with the columns of the current schema after another connection alters the table', async () => {
  const first = await pipeline(server.url, null, [
    execute('CREATE TABLE t (a)'),
    execute('INSERT INTO t VALUES (1)'),
    execute('SELECT * FROM t'),
    { type: 'describe', sql: 'SELECT * FROM t' },
    { type: 'close' },
  ])
  expect(names(first.results[2].response.result)).toEqual(['a'])
  expect(names(first.results[3].response.result)).toEqual(['a'])

  const other = new Database(join(dir, 'default.db'))
  try {
    other.exec("ALTER TABLE t ADD COLUMN b DEFAULT 'seven'")
  } finally {
    other.close()
  }

  const second = await pipeline(server.url, null, [
    execute('SELECT * FROM t'),
    { type: 'describe', sql: 'SELECT * FROM t' },
    { type: 'close' },
  ])
  const rows = second.results[0].response.result
  expect(names(rows)).toEqual(['a', 'b'])
  expect(rows.rows).toEqual([
    [
      { type: 'integer', value: '1' },
      { type: 'text', value: 'seven' },
    ],
  ])
  expect(names(second.results[1].response.result)).toEqual(['a', 'b'])
})

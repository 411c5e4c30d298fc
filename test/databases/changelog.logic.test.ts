/** The change log's SQL: schema diffs and the statements a replica applies. */
import { describe, expect, it } from 'vitest'
import {
  applyStatements,
  isCapturedTable,
  type SchemaObject,
  schemaDiff,
} from '../../workers/databases/changelog'

const table = (name: string, sql: string): SchemaObject => ({ type: 'table', name, tbl_name: name, sql })
const index = (name: string, on: string, sql: string): SchemaObject => ({
  type: 'index',
  name,
  tbl_name: on,
  sql,
})

describe('schemaDiff', () => {
  it('is empty when nothing changed', () => {
    const schema = [table('t', 'CREATE TABLE t (x)'), index('t_x', 't', 'CREATE INDEX t_x ON t (x)')]
    expect(schemaDiff(schema, schema)).toEqual({ statements: [], rebuilt: [] })
  })

  it('drops before it creates, and rebuilds a changed table with its indexes', () => {
    const before = [
      table('t', 'CREATE TABLE t (x)'),
      index('t_x', 't', 'CREATE INDEX t_x ON t (x)'),
      table('gone', 'CREATE TABLE gone (y)'),
      { type: 'view', name: 'v', tbl_name: 'v', sql: 'CREATE VIEW v AS SELECT x FROM t' },
    ]
    const after = [
      table('t', 'CREATE TABLE t (x, z)'),
      index('t_x', 't', 'CREATE INDEX t_x ON t (x)'),
      table('fresh', 'CREATE TABLE fresh (k) WITHOUT ROWID'),
      { type: 'view', name: 'v', tbl_name: 'v', sql: 'CREATE VIEW v AS SELECT x FROM t' },
    ]
    const diff = schemaDiff(before, after)
    expect(diff.statements).toEqual([
      'DROP TABLE IF EXISTS "t"',
      'DROP TABLE IF EXISTS "gone"',
      'CREATE TABLE t (x, z)',
      'DROP TABLE IF EXISTS "fresh"',
      'CREATE TABLE fresh (k) WITHOUT ROWID',
      'DROP INDEX IF EXISTS "t_x"',
      'CREATE INDEX t_x ON t (x)',
    ])
    // A WITHOUT ROWID table's schema replicates, its rows do not.
    expect(diff.rebuilt).toEqual(['t'])
  })

  it('knows which tables carry rows', () => {
    expect(isCapturedTable(table('a', 'CREATE TABLE a (x) STRICT'))).toBe(true)
    expect(isCapturedTable(table('b', 'CREATE TABLE b (x PRIMARY KEY) WITHOUT ROWID'))).toBe(false)
    expect(isCapturedTable(table('c', 'CREATE VIRTUAL TABLE c USING fts5(x)'))).toBe(false)
  })
})

describe('applyStatements', () => {
  it('turns each change into replica statements', () => {
    const row = '{"id":10,"s":"a"}'
    const update = applyStatements({ seq: 3, tbl: 't"q', op: 'U', rid: 10, old_rid: 1, row })
    expect(update.map((s) => s.sql.slice(0, 50))).toEqual([
      'DELETE FROM "t""q" WHERE rowid = ?',
      'INSERT OR REPLACE INTO "t""q" (rowid, "id", "s") V',
    ])
    expect(update[1]?.args).toEqual([row, 10])
    expect(applyStatements({ seq: 4, tbl: 't', op: 'D', rid: 2, old_rid: null, row: null })).toEqual([
      { sql: 'DELETE FROM "t" WHERE rowid = ?', args: [2] },
    ])
    const schema = applyStatements({
      seq: 5,
      tbl: null,
      op: 'S',
      rid: 9,
      old_rid: null,
      row: '["CREATE TABLE m (x)"]',
    })
    expect(schema[0]).toEqual({ sql: 'CREATE TABLE m (x)', args: [] })
    expect(schema[1]?.args).toEqual([9])
  })
})

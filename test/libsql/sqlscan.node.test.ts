// The SQL scanner agrees with SQLite: statement boundaries and parameter numbering/names.
import Database from 'libsql'
import { describe, expect, it } from 'vitest'
import { scanSql } from '../../apps/libsql/sqlscan.ts'

/** Parameter names by index as SQLite assigns them, read from the statement's bytecode. */
function sqliteParams(sql: string): Array<string | null> {
  const db = new Database(':memory:')
  try {
    db.exec('CREATE TABLE t (a, b, "c d", [e], `f$g`)')
    const program = db.prepare(`EXPLAIN ${sql}`).raw(true).all([]) as unknown[][]
    const names: Array<string | null> = []
    for (const op of program) {
      if (op[1] !== 'Variable') continue
      const index = Number(op[2])
      while (names.length < index) names.push(null)
      const p4 = op[5]
      names[index - 1] =
        typeof p4 === 'string' && p4 !== '' && !p4.startsWith('?') ? p4 : (names[index - 1] ?? null)
    }
    return names
  } finally {
    db.close()
  }
}

const namedOnly = (names: Array<string | null>) => names.map((n) => (n?.startsWith('?') ? null : n))

describe('parameters', () => {
  it.each([
    'SELECT ?',
    'SELECT ?, ?, ?',
    'SELECT ?3, ?1',
    'SELECT :a, :a, @b, $c, ?',
    'SELECT ?2, :x, ?',
    'SELECT :x, ?1',
    "SELECT ':not', '?' || ?, \"c d\" FROM t WHERE a = :real",
    'SELECT a FROM t WHERE [e] = $v::w(1) AND b = @y',
    'SELECT -- :comment\n ? /* @also ? */, ?',
    'SELECT `f$g`, a$b FROM t, (SELECT 1 AS a$b) WHERE a = :k',
    "SELECT x'00', ? WHERE 'it''s' = :q",
    'INSERT INTO t (a, b) VALUES (:a, :b) RETURNING a',
    'SELECT :ünï, ?',
  ])('numbers and names them like SQLite: %s', (sql) => {
    const [statement] = scanSql(sql)
    const expected = sqliteParams(sql)
    expect(statement?.params.count).toBe(expected.length)
    expect(namedOnly(statement?.params.names ?? [])).toEqual(expected)
  })

  it('names ?NNN parameters and marks unreferenced slots', () => {
    const [s] = scanSql('SELECT ?3, :a')
    expect(s?.params.names).toEqual([null, null, '?3', ':a'])
    expect(s?.params.referenced).toEqual([false, false, true, true])
  })
})

describe('statements', () => {
  it.each([
    ['', 0],
    ['  -- only a comment', 0],
    [';;;', 0],
    ['SELECT 1', 1],
    ['SELECT 1;', 1],
    ['SELECT 1; -- done', 1],
    ['SELECT 1; SELECT 2', 2],
    ['SELECT \';\'; SELECT "a;b"', 2],
    [
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO t VALUES (1); UPDATE t SET a = 2; END; SELECT 1',
      2,
    ],
    ['CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; END', 1],
    ['EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; SELECT 2', 2],
    ['SELECT 1 /* ; */; /* unterminated', 1],
  ])('%j has %i statement(s)', (sql, count) => {
    expect(scanSql(sql)).toHaveLength(count)
  })

  it('splits a script into statements keeping trigger bodies whole', () => {
    const sql =
      'CREATE TABLE x (a);\nCREATE TRIGGER tr AFTER INSERT ON x BEGIN\n  DELETE FROM x; SELECT 1;\nEND;\nINSERT INTO x VALUES (1)'
    expect(scanSql(sql).map((s) => s.text)).toEqual([
      'CREATE TABLE x (a);',
      'CREATE TRIGGER tr AFTER INSERT ON x BEGIN\n  DELETE FROM x; SELECT 1;\nEND;',
      'INSERT INTO x VALUES (1)',
    ])
  })

  it('reports the first keywords, EXPLAIN and RETURNING', () => {
    const [s] = scanSql('  create temp table x (returning_col); ')
    expect([s?.firstKeyword, s?.secondKeyword, s?.isExplain, s?.hasReturning]).toEqual([
      'CREATE',
      'TEMP',
      false,
      false,
    ])
    const [r] = scanSql("DELETE FROM t WHERE a = 'RETURNING' RETURNING *")
    expect(r?.hasReturning).toBe(true)
    expect(scanSql('explain query plan select 1')[0]?.isExplain).toBe(true)
  })
})

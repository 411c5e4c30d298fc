// Conformance of the local libSQL server, driven by the official @libsql/client over HTTP.
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { codeOf, pipeline, table } from './support.ts'

let server: LibsqlServer
let db: Client

beforeAll(async () => {
  server = await startLibsqlServer({ port: 0, dataDir: ':memory:' })
  db = createClient({ url: server.url, intMode: 'bigint' })
})

afterAll(async () => {
  db.close()
  await server.close()
})

describe('values', () => {
  it('round-trips every value type exactly', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v)`)
    const blob = new Uint8Array([0, 1, 2, 253, 254, 255])
    const values: unknown[] = [
      null,
      0n,
      -1n,
      9007199254740993n,
      9223372036854775807n,
      -9223372036854775807n,
      1.5,
      -0.25,
      1e300,
      '',
      'plain',
      'unicode ✓ ünïcödé 😀 汉字',
      blob,
    ]
    for (const v of values) await db.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: [v as null] })
    const rs = await db.execute(`SELECT v, typeof(v) AS type FROM ${t} ORDER BY id`)
    const got = rs.rows.map((r) => r.v)
    expect(got.slice(0, 12)).toEqual(values.slice(0, 12))
    expect(new Uint8Array(got[12] as ArrayBuffer)).toEqual(blob)
    expect(rs.rows.map((r) => r.type)).toEqual([
      'null',
      ...Array(5).fill('integer'),
      ...Array(3).fill('real'),
      ...Array(3).fill('text'),
      'blob',
    ])
  })

  it('keeps floats that are integral as floats and integers beyond 2^53 exact', async () => {
    const rs = await db.execute({ sql: 'SELECT ? AS f, typeof(?1) AS t, ? AS big', args: [2.0, 2n ** 62n] })
    expect(rs.rows[0]).toMatchObject({ f: 2, t: 'real', big: 2n ** 62n })
  })

  it('binds named arguments with and without their prefix, and positional ones', async () => {
    const rs = await db.execute({
      sql: 'SELECT :a AS a, @b AS b, $c AS c, ?4 AS d',
      args: { a: 1n, '@b': 'two', c: null, '?4': 4n },
    })
    expect(rs.rows[0]).toMatchObject({ a: 1n, b: 'two', c: null, d: 4n })
    const pos = await db.execute({ sql: 'SELECT ? AS x, ? AS y', args: ['p', 'q'] })
    expect(pos.rows[0]).toMatchObject({ x: 'p', y: 'q' })
  })

  it('rejects missing, surplus and unknown arguments with ARGS_INVALID', async () => {
    expect(await codeOf(db.execute({ sql: 'SELECT ?, ?', args: [1n] }))).toBe('ARGS_INVALID')
    expect(await codeOf(db.execute({ sql: 'SELECT ?', args: [1n, 2n] }))).toBe('ARGS_INVALID')
    expect(await codeOf(db.execute({ sql: 'SELECT :a', args: { b: 1n } }))).toBe('ARGS_INVALID')
  })

  it('returns integers as numbers in the default intMode', async () => {
    const plain = createClient({ url: server.url })
    try {
      expect((await plain.execute('SELECT 42 AS n')).rows[0]?.n).toBe(42)
    } finally {
      plain.close()
    }
  })
})

describe('results', () => {
  it('reports lastInsertRowid, rowsAffected, column names and decltypes', async () => {
    const t = table()
    await db.execute(
      `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB, x)`,
    )
    const ins = await db.execute({ sql: `INSERT INTO ${t} (id, name) VALUES (?, ?)`, args: [2n ** 60n, 'a'] })
    expect(ins.lastInsertRowid).toBe(2n ** 60n)
    expect(ins.rowsAffected).toBe(1)
    await db.execute({ sql: `INSERT INTO ${t} (name) VALUES ('b'), ('c')` })
    const upd = await db.execute(`UPDATE ${t} SET score = 1.5`)
    expect(upd.rowsAffected).toBe(3)
    const sel = await db.execute(`SELECT id, name AS label, score, data, x, 1 + 1 AS expr FROM ${t} LIMIT 1`)
    expect(sel.columns).toEqual(['id', 'label', 'score', 'data', 'x', 'expr'])
    expect(sel.columnTypes).toEqual(['INTEGER', 'TEXT', 'REAL', 'BLOB', '', ''])
    expect(sel.rowsAffected).toBe(0)
  })

  it('counts rows changed by a RETURNING statement and returns its rows', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT)`)
    const rs = await db.execute(`INSERT INTO ${t} (v) VALUES ('a'), ('b') RETURNING id, v`)
    expect(rs.rows.map((r) => r.v)).toEqual(['a', 'b'])
    expect(rs.rowsAffected).toBe(2)
    expect(rs.lastInsertRowid).toBe(2n)
  })

  it("surfaces SQL errors as LibsqlError with SQLite's base code, as sqld does", async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL)`)
    await db.execute({ sql: `INSERT INTO ${t} (u, n) VALUES ('x', 'n')` })
    const unique = db.execute(`INSERT INTO ${t} (u, n) VALUES ('x', 'n')`)
    await expect(unique).rejects.toThrow(/UNIQUE constraint failed/)
    expect(await codeOf(db.execute(`INSERT INTO ${t} (u, n) VALUES ('x', 'n')`))).toBe('SQLITE_CONSTRAINT')
    expect(await codeOf(db.execute(`INSERT INTO ${t} (u) VALUES ('y')`))).toBe('SQLITE_CONSTRAINT')
    expect(await codeOf(db.execute(`INSERT INTO ${t} (id, n) VALUES (1, 'n')`))).toBe('SQLITE_CONSTRAINT')
    expect(await codeOf(db.execute('SELEC 1'))).toBe('SQLITE_ERROR')
    expect(await codeOf(db.execute('SELECT * FROM no_such_table'))).toBe('SQLITE_ERROR')
  })

  it('refuses several statements in one execute and empty SQL', async () => {
    expect(await codeOf(db.execute('SELECT 1; SELECT 2'))).toBe('SQL_MANY_STATEMENTS')
    expect(await codeOf(db.execute(' -- nothing\n'))).toBe('SQL_NO_STATEMENT')
    expect((await db.execute('SELECT 1 AS one; -- trailing comment')).rows[0]?.one).toBe(1n)
  })
})

describe('batches', () => {
  it("batch(..., 'write') is atomic: a failing statement rolls back the whole batch", async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT UNIQUE)`)
    const ok = await db.batch(
      [`INSERT INTO ${t} (v) VALUES ('a')`, `SELECT count(*) AS n FROM ${t}`],
      'write',
    )
    expect(ok[1]?.rows[0]?.n).toBe(1n)
    const failing = db.batch(
      [
        `INSERT INTO ${t} (v) VALUES ('b')`,
        `INSERT INTO ${t} (v) VALUES ('c')`,
        `INSERT INTO ${t} (v) VALUES ('a')`,
      ],
      'write',
    )
    expect(await codeOf(failing)).toBe('SQLITE_CONSTRAINT')
    const rows = await db.execute(`SELECT v FROM ${t} ORDER BY v`)
    expect(rows.rows.map((r) => r.v)).toEqual(['a'])
  })

  it('evaluates step conditions ok, error, not, and, or, is_autocommit', async () => {
    const step = (sql: string, condition?: unknown) => ({ condition, stmt: { sql } })
    const body = await pipeline(server.url, null, [
      {
        type: 'batch',
        batch: {
          steps: [
            step('SELECT 1'),
            step('SELEC error'),
            step('SELECT 2', { type: 'ok', step: 0 }),
            step('SELECT 3', { type: 'ok', step: 1 }),
            step('SELECT 4', { type: 'error', step: 1 }),
            step('SELECT 5', { type: 'not', cond: { type: 'ok', step: 0 } }),
            step('SELECT 6', {
              type: 'and',
              conds: [
                { type: 'ok', step: 0 },
                { type: 'error', step: 1 },
              ],
            }),
            step('SELECT 7', {
              type: 'or',
              conds: [
                { type: 'ok', step: 1 },
                { type: 'ok', step: 3 },
              ],
            }),
            step('SELECT 8', { type: 'is_autocommit' }),
            step('BEGIN'),
            step('SELECT 10', { type: 'is_autocommit' }),
            step('ROLLBACK'),
          ],
        },
      },
      { type: 'close' },
    ])
    const result = body.results[0].response.result
    const ran = result.step_results.map((r: unknown) => r !== null)
    expect(ran).toEqual([true, false, true, false, true, false, true, false, true, true, false, true])
    expect(result.step_errors[1].code).toBe('SQLITE_ERROR')
    expect(result.step_errors.filter((e: unknown) => e !== null)).toHaveLength(1)
    expect(body.baton).toBeNull()
  })

  it('runs executeMultiple as a sequence', async () => {
    const t = table()
    await db.executeMultiple(
      `CREATE TABLE ${t} (x); INSERT INTO ${t} VALUES (1); INSERT INTO ${t} VALUES (2);`,
    )
    expect((await db.execute(`SELECT sum(x) AS s FROM ${t}`)).rows[0]?.s).toBe(3n)
  })

  it('runs migrate() with foreign keys switched off and on again', async () => {
    const t = table()
    const results = await db.migrate([`CREATE TABLE ${t} (x)`, `INSERT INTO ${t} VALUES (1)`])
    expect(results).toHaveLength(2)
    expect((await db.execute('PRAGMA foreign_keys')).rows[0]?.foreign_keys).toBe(1n)
  })
})

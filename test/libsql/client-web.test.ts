/**
 * The local libSQL server driven by `@libsql/client/web` from inside workerd — the same
 * client and runtime the Worker uses in production against Turso or sqld.
 */
import { env } from 'cloudflare:test'
import { createClient, LibsqlError } from '@libsql/client/web'
import { describe, expect, it } from 'vitest'

function client(intMode: 'number' | 'bigint' = 'number') {
  if (!env.LIBSQL_URL) throw new Error('LIBSQL_URL is not bound')
  return createClient({ url: env.LIBSQL_URL, intMode })
}

const table = () => `t_${crypto.randomUUID().replace(/-/g, '')}`

describe('@libsql/client/web in workerd', () => {
  it('round-trips every value type', async () => {
    const db = client('bigint')
    const name = table()
    await db.execute(`CREATE TABLE ${name} (i INTEGER, f REAL, t TEXT, b BLOB, n)`)
    const blob = new Uint8Array([0, 1, 2, 250, 255])
    const big = 9_007_199_254_740_993n
    await db.execute({
      sql: `INSERT INTO ${name} VALUES (:i, :f, :t, :b, :n)`,
      args: { i: big, f: 1.5, t: 'héllo 🌍', b: blob, n: null },
    })
    await db.execute({
      sql: `INSERT INTO ${name} VALUES (?, ?, ?, ?, ?)`,
      args: [-1n, -0.25, '', new Uint8Array(), null],
    })
    const rs = await db.execute(`SELECT i, f, t, b, n FROM ${name} ORDER BY rowid`)
    expect(rs.columns).toEqual(['i', 'f', 't', 'b', 'n'])
    expect(rs.columnTypes).toEqual(['INTEGER', 'REAL', 'TEXT', 'BLOB', ''])
    const [first, second] = rs.rows
    expect(first?.i).toBe(big)
    expect(first?.f).toBe(1.5)
    expect(first?.t).toBe('héllo 🌍')
    expect(new Uint8Array(first?.b as ArrayBuffer)).toEqual(blob)
    expect(first?.n).toBeNull()
    expect(second?.i).toBe(-1n)
    expect(second?.t).toBe('')
    expect(new Uint8Array(second?.b as ArrayBuffer)).toEqual(new Uint8Array())
  })

  it('reports rowsAffected and lastInsertRowid', async () => {
    const db = client()
    const name = table()
    await db.execute(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, v TEXT)`)
    const inserted = await db.execute({ sql: `INSERT INTO ${name} (v) VALUES (?), (?)`, args: ['a', 'b'] })
    expect(inserted.rowsAffected).toBe(2)
    expect(inserted.lastInsertRowid).toBe(2n)
    const updated = await db.execute(`UPDATE ${name} SET v = 'c'`)
    expect(updated.rowsAffected).toBe(2)
  })

  it('runs a write batch atomically: a failing statement rolls back all of it', async () => {
    const db = client()
    const name = table()
    await db.execute(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
    await expect(
      db.batch(
        [
          { sql: `INSERT INTO ${name} (id, v) VALUES (1, 'a')`, args: [] },
          { sql: `INSERT INTO ${name} (id, v) VALUES (1, 'duplicate')`, args: [] },
        ],
        'write',
      ),
    ).rejects.toBeInstanceOf(LibsqlError)
    expect((await db.execute(`SELECT count(*) AS n FROM ${name}`)).rows[0]?.n).toBe(0)
    const results = await db.batch(
      [`INSERT INTO ${name} (id, v) VALUES (1, 'a')`, `SELECT v FROM ${name}`],
      'write',
    )
    expect(results[1]?.rows[0]?.v).toBe('a')
  })

  it('commits and rolls back interactive transactions across requests', async () => {
    const db = client()
    const name = table()
    await db.execute(`CREATE TABLE ${name} (v TEXT)`)
    const committed = await db.transaction('write')
    await committed.execute(`INSERT INTO ${name} VALUES ('kept')`)
    expect((await committed.execute(`SELECT count(*) AS n FROM ${name}`)).rows[0]?.n).toBe(1)
    await committed.commit()
    const rolledBack = await db.transaction('write')
    await rolledBack.execute(`INSERT INTO ${name} VALUES ('dropped')`)
    await rolledBack.rollback()
    const rows = (await db.execute(`SELECT v FROM ${name}`)).rows.map((r) => r.v)
    expect(rows).toEqual(['kept'])
  })

  it('surfaces SQL errors as LibsqlError with the SQLite code', async () => {
    const db = client()
    const name = table()
    await db.execute(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY)`)
    await db.execute(`INSERT INTO ${name} VALUES (1)`)
    const unique = await db.execute(`INSERT INTO ${name} VALUES (1)`).catch((e: unknown) => e)
    expect(unique).toBeInstanceOf(LibsqlError)
    expect((unique as LibsqlError).code).toMatch(/^SQLITE_CONSTRAINT/)
    const syntax = await db.execute('SELEC 1').catch((e: unknown) => e)
    expect(syntax).toBeInstanceOf(LibsqlError)
    expect((syntax as LibsqlError).message).toMatch(/syntax error/)
  })
})

/**
 * `@libsql/client` against `/v1/databases/{db}/`: every statement kind in both int modes,
 * batches, interactive transactions across requests, errors in Hrana's shape, read-only
 * tokens judged by the engine, oversized pipelines refused with nothing changed, batons
 * bound to their tenant and database.
 */

import { SELF } from 'cloudflare:test'
import { LibsqlError } from '@libsql/client/web'
import { describe, expect, it } from 'vitest'
import { tokenFor } from '../helpers'
import { newDatabase, platformClient } from './support'

async function count(url: string, token: string): Promise<number> {
  const result = await platformClient(url, token).execute('SELECT count(*) AS n FROM t')
  return Number(result.rows[0]?.n)
}

describe('Hrana over the platform', () => {
  it('runs every statement kind in both int modes', async () => {
    const { token, url } = await newDatabase()
    const db = platformClient(url, token)
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, big INTEGER, r REAL, s TEXT, b BLOB, n)')
    await db.execute('CREATE INDEX t_s ON t (s)')
    const inserted = await db.execute({
      sql: 'INSERT INTO t (big, r, s, b, n) VALUES (?, ?, ?, ?, ?)',
      args: [9007199254740993n, 1.5, 'héllo', new Uint8Array([1, 2, 3]), null],
    })
    expect(inserted.rowsAffected).toBe(1)
    expect(Number(inserted.lastInsertRowid)).toBe(1)
    await db.execute({ sql: 'INSERT INTO t (big, s) VALUES (:big, :s)', args: { big: 7, s: 'named' } })
    const updated = await db.execute({ sql: 'UPDATE t SET r = r + 1 WHERE id = ?', args: [1] })
    expect(updated.rowsAffected).toBe(1)
    const big = platformClient(url, token, 'bigint')
    const row = (await big.execute('SELECT big, r, s, b, n FROM t WHERE id = 1')).rows[0]
    expect(row?.big).toBe(9007199254740993n)
    expect(row?.r).toBe(2.5)
    expect(row?.s).toBe('héllo')
    expect(new Uint8Array(row?.b as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]))
    expect(row?.n).toBeNull()
    const numbers = await db.execute('SELECT id, big FROM t WHERE id = 2')
    expect(numbers.columns).toEqual(['id', 'big'])
    expect(numbers.rows[0]?.big).toBe(7)
    await db.execute('CREATE VIEW v AS SELECT s FROM t')
    expect((await db.execute('SELECT s FROM v ORDER BY s')).rows.map((r) => r.s)).toEqual(['héllo', 'named'])
    await db.executeMultiple('CREATE TABLE u (x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);')
    expect((await db.execute('SELECT count(*) AS n FROM u')).rows[0]?.n).toBe(2)
    const deleted = await db.execute('DELETE FROM u')
    expect(deleted.rowsAffected).toBe(2)
    await db.execute('DROP TABLE u')
    await db.execute('ALTER TABLE t ADD COLUMN extra TEXT')
  })

  it('runs batches atomically and interactive transactions across requests', async () => {
    const { token, url } = await newDatabase()
    const db = platformClient(url, token)
    await db.batch(['CREATE TABLE t (x INTEGER UNIQUE)', 'INSERT INTO t VALUES (1)'], 'write')
    await expect(db.batch(['INSERT INTO t VALUES (2)', 'INSERT INTO t VALUES (1)'], 'write')).rejects.toThrow(
      /UNIQUE/,
    )
    expect(await count(url, token)).toBe(1)
    const tx = await db.transaction('write')
    await tx.execute('INSERT INTO t VALUES (10)')
    expect((await tx.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(2)
    await tx.execute('INSERT INTO t VALUES (11)')
    await tx.rollback()
    expect(await count(url, token)).toBe(1)
    const committed = await db.transaction('write')
    await committed.execute('INSERT INTO t VALUES (20)')
    await committed.batch(['INSERT INTO t VALUES (21)', 'INSERT INTO t VALUES (22)'])
    await committed.commit()
    expect(await count(url, token)).toBe(4)
    const reading = await db.transaction('read')
    expect((await reading.execute('SELECT max(x) AS m FROM t')).rows[0]?.m).toBe(22)
    reading.close()
  })

  it('answers bad SQL with Hrana errors the client raises', async () => {
    const { token, url } = await newDatabase()
    const db = platformClient(url, token)
    const error = await db.execute('SELEC 1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LibsqlError)
    expect((error as LibsqlError).code).toMatch(/SQL|PARSE/)
    await expect(db.execute('SELECT * FROM missing')).rejects.toThrow(/no such table/)
    await expect(platformClient(url, 'not-a-token').execute('SELECT 1')).rejects.toThrow(LibsqlError)
  })

  it('lets read-only tokens read and refuses every write, by the engine verdict', async () => {
    const { tenant, token, url } = await newDatabase()
    await platformClient(url, token).batch(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)'], 'write')
    const reader = platformClient(url, await tokenFor(tenant, ['databases:read']))
    expect((await reader.execute('SELECT x FROM t')).rows[0]?.x).toBe(1)
    expect((await reader.execute('WITH c AS (SELECT x FROM t) SELECT count(*) AS n FROM c')).rows[0]?.n).toBe(
      1,
    )
    const writes = [
      'INSERT INTO t VALUES (2)',
      '  insert into t values (3)',
      'WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c',
      'UPDATE t SET x = 5',
      'DELETE FROM t',
      'CREATE TABLE u (y)',
      'DROP TABLE t',
      '/* comment */ REPLACE INTO t VALUES (4)',
      'PRAGMA user_version = 5',
      'CREATE TEMP TABLE tmp (z)',
    ]
    for (const sql of writes) {
      const error = await reader.execute(sql).catch((e: unknown) => e)
      expect(error, sql).toBeInstanceOf(LibsqlError)
    }
    await expect(reader.batch(['SELECT 1', 'INSERT INTO t VALUES (9)'], 'read')).rejects.toThrow(LibsqlError)
    await expect(reader.executeMultiple('SELECT 1; INSERT INTO t VALUES (9)')).rejects.toThrow(LibsqlError)
    const rows = await platformClient(url, token).execute('SELECT x FROM t')
    expect(rows.rows.map((r) => r.x)).toEqual([1])
  })

  it('refuses oversized pipelines with nothing changed', async () => {
    const { token, url } = await newDatabase()
    const db = platformClient(url, token)
    await db.execute('CREATE TABLE t (x)')
    const statements = Array.from({ length: 501 }, (_, i) => ({ sql: 'INSERT INTO t VALUES (?)', args: [i] }))
    await expect(db.batch(statements, 'write')).rejects.toThrow(LibsqlError)
    expect(await count(url, token)).toBe(0)
    const huge = 'x'.repeat(1024 * 1024)
    await expect(db.execute({ sql: 'INSERT INTO t VALUES (?)', args: [huge] })).rejects.toThrow(/413/)
    expect(await count(url, token)).toBe(0)
    await db.batch(statements.slice(0, 400), 'write')
    expect(await count(url, token)).toBe(400)
  })

  it('binds batons to their tenant and database, and refuses altered ones', async () => {
    const a = await newDatabase()
    const b = await newDatabase()
    const post = (url: string, token: string, body: unknown) =>
      SELF.fetch(`${url}v3/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const opened = await post(a.url, a.token, {
      baton: null,
      requests: [{ type: 'execute', stmt: { sql: 'BEGIN' } }],
    })
    const { baton, base_url } = (await opened.json()) as { baton: string; base_url: unknown }
    expect(typeof baton).toBe('string')
    expect(base_url).toBeNull()
    for (const [url, token, value] of [
      [b.url, b.token, baton],
      [a.url, a.token, `${baton.slice(0, -2)}AA`],
      [a.url, a.token, `x${baton}`],
    ] as const) {
      const refused = await post(url, token, { baton: value, requests: [] })
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ code: 'BATON_INVALID' })
    }
    const next = await post(a.url, a.token, { baton, requests: [{ type: 'close' }] })
    expect(next.status).toBe(200)
    const invalid = await post(a.url, a.token, { baton: null, requests: 'x' })
    expect(invalid.status).toBe(400)
    expect(await invalid.json()).toMatchObject({ code: 'INVALID_REQUEST' })
  })

  it('serves v3 cursors, with a platform baton and the read-only check', async () => {
    const { tenant, token, url } = await newDatabase()
    await platformClient(url, token).batch(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1), (2)'], 'write')
    const cursor = (bearer: string, sql: string) =>
      SELF.fetch(`${url}v3/cursor`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ baton: null, batch: { steps: [{ stmt: { sql, want_rows: true } }] } }),
      })
    const response = await cursor(token, 'SELECT x FROM t ORDER BY x')
    expect(response.status).toBe(200)
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines[0]).toMatchObject({ base_url: null })
    expect(lines.filter((entry) => entry.type === 'row').map((entry) => entry.row[0].value)).toEqual([
      '1',
      '2',
    ])
    const reader = await tokenFor(tenant, ['databases:read'])
    const refused = await cursor(reader, 'DELETE FROM t')
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ code: 'READONLY' })
    expect(await count(url, token)).toBe(2)
  })
})

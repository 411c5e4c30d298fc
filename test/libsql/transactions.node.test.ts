// Interactive transactions, stream-level requests, cursors and databases, driven by @libsql/client and
// by raw Hrana requests.
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { codeOf, execute, pipeline, table, text } from './support.ts'

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

describe('interactive transactions', () => {
  it('commit makes writes visible across requests', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (v TEXT)`)
    const tx = await db.transaction('write')
    await tx.execute(`INSERT INTO ${t} VALUES ('one')`)
    await tx.execute({ sql: `INSERT INTO ${t} VALUES (?)`, args: ['two'] })
    expect((await tx.execute(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n).toBe(2n)
    expect((await db.execute(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n).toBe(0n)
    await tx.commit()
    expect((await db.execute(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n).toBe(2n)
  })

  it('rollback discards writes', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (v TEXT)`)
    const tx = await db.transaction('write')
    await tx.execute(`INSERT INTO ${t} VALUES ('gone')`)
    await tx.rollback()
    expect((await db.execute(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n).toBe(0n)
    expect(server.openStreams).toBe(0)
  })

  it('a second writer waits for the first to commit, like SQLite', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (v TEXT)`)
    const first = await db.transaction('write')
    await first.execute(`INSERT INTO ${t} VALUES ('first')`)
    const order: string[] = []
    const second = (async () => {
      const tx = await db.transaction('write')
      await tx.execute(`INSERT INTO ${t} VALUES ('second')`)
      order.push('second began')
      await tx.commit()
    })()
    await first.execute(`SELECT 1`)
    order.push('first commits')
    await first.commit()
    await second
    expect(order).toEqual(['first commits', 'second began'])
    expect((await db.execute(`SELECT v FROM ${t} ORDER BY rowid`)).rows.map((r) => r.v)).toEqual([
      'first',
      'second',
    ])
  })

  it('a writer that cannot get the lock within busyTimeoutMs fails with SQLITE_BUSY', async () => {
    const quick = await startLibsqlServer({ port: 0, dataDir: ':memory:', busyTimeoutMs: 20 })
    const c = createClient({ url: quick.url })
    try {
      await c.execute('CREATE TABLE t (v)')
      const holder = await c.transaction('write')
      await holder.execute(`INSERT INTO t VALUES (1)`)
      expect(await codeOf(c.transaction('write').then((tx) => tx.execute('INSERT INTO t VALUES (2)')))).toBe(
        'SQLITE_BUSY',
      )
      expect(await codeOf(c.execute('INSERT INTO t VALUES (3)'))).toBe('SQLITE_BUSY')
      expect((await c.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(0)
      await holder.commit()
      expect((await c.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(1)
    } finally {
      c.close()
      await quick.close()
    }
  })

  it('reports the autocommit state of a stream', async () => {
    const body = await pipeline(server.url, null, [
      { type: 'get_autocommit' },
      execute('BEGIN'),
      { type: 'get_autocommit' },
      execute('ROLLBACK'),
      { type: 'close' },
    ])
    expect(
      body.results.map((r: { response: { is_autocommit?: boolean } }) => r.response.is_autocommit),
    ).toEqual([true, undefined, false, undefined, undefined])
  })
})

describe('stream requests', () => {
  it('stores, uses and closes SQL texts by id', async () => {
    const first = await pipeline(server.url, null, [
      { type: 'store_sql', sql_id: 7, sql: 'SELECT ? AS v' },
      { type: 'execute', stmt: { sql_id: 7, args: [text('x')] } },
      { type: 'store_sql', sql_id: 7, sql: 'SELECT 2' },
    ])
    expect(first.results[1].response.result.rows).toEqual([[text('x')]])
    expect(first.results[2].error.code).toBe('SQL_ID_IN_USE')
    const second = await pipeline(server.url, first.baton, [
      { type: 'close_sql', sql_id: 7 },
      { type: 'execute', stmt: { sql_id: 7 } },
      { type: 'close' },
      execute('SELECT 1'),
    ])
    expect(second.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'error', 'ok', 'error'])
    expect(second.results[1].error.code).toBe('SQL_NOT_FOUND')
    expect(second.results[3].error.code).toBe('STREAM_CLOSED')
    expect(second.baton).toBeNull()
  })

  it('describes statements: parameters, columns, explain and read-only flags', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT)`)
    const body = await pipeline(server.url, null, [
      { type: 'describe', sql: `SELECT id, name AS n FROM ${t} WHERE id = :id OR name = ? OR id = ?5` },
      { type: 'describe', sql: `INSERT INTO ${t} (name) VALUES (@name)` },
      { type: 'describe', sql: 'EXPLAIN SELECT 1' },
      { type: 'close' },
    ])
    const [select, insert, explain] = body.results.map(
      (r: { response: { result: unknown } }) => r.response.result,
    )
    expect(select).toEqual({
      params: [{ name: ':id' }, { name: null }, { name: null }, { name: null }, { name: '?5' }],
      cols: [
        { name: 'id', decltype: 'INTEGER' },
        { name: 'n', decltype: 'TEXT' },
      ],
      is_explain: false,
      is_readonly: true,
    })
    expect(insert).toMatchObject({
      params: [{ name: '@name' }],
      cols: [],
      is_explain: false,
      is_readonly: false,
    })
    expect(explain).toMatchObject({ is_explain: true, is_readonly: true })
  })

  it('leaves no EXPLAIN program holding a table: DROP TABLE works after describe or EXPLAIN on the stream', async () => {
    const [t, u] = [table(), table()]
    await db.execute(`CREATE TABLE ${t} (x)`)
    await db.execute(`CREATE TABLE ${u} (x)`)
    const body = await pipeline(server.url, null, [
      { type: 'describe', sql: `SELECT * FROM ${t}` },
      execute(`DROP TABLE ${t}`),
      execute(`EXPLAIN SELECT * FROM ${u}`),
      execute(`DROP TABLE ${u}`),
      { type: 'close' },
    ])
    expect(body.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
  })

  it('gives every request its own result, in order, with the same type', async () => {
    const requests = [
      execute('SELECT 1'),
      { type: 'bogus' },
      { type: 'sequence', sql: 'SELECT 1; SELECT 2' },
      { type: 'describe', sql: 'SELECT 1' },
      { type: 'store_sql', sql_id: 1, sql: 'SELECT 1' },
      { type: 'close_sql', sql_id: 1 },
      { type: 'get_autocommit' },
      { type: 'batch', batch: { steps: [] } },
      { type: 'close' },
    ]
    const body = await pipeline(server.url, null, requests)
    expect(body.results).toHaveLength(requests.length)
    body.results.forEach((r: { type: string; response?: { type: string } }, i: number) => {
      if (i === 1) expect(r.type).toBe('error')
      else expect(r.response?.type).toBe(requests[i]?.type)
    })
  })
})

describe('cursor (Hrana 3)', () => {
  it('streams a batch as newline-delimited JSON entries', async () => {
    const res = await fetch(`${server.url}/v3/cursor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        baton: null,
        batch: {
          steps: [{ stmt: { sql: 'SELECT 1 AS a UNION ALL SELECT 2' } }, { stmt: { sql: 'SELEC' } }],
        },
      }),
    })
    expect(res.status).toBe(200)
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines[0]).toMatchObject({ base_url: null })
    expect(typeof lines[0].baton).toBe('string')
    expect(lines.slice(1).map((e: { type: string }) => e.type)).toEqual([
      'step_begin',
      'row',
      'row',
      'step_end',
      'step_error',
    ])
    const closed = await pipeline(server.url, lines[0].baton, [{ type: 'close' }])
    expect(closed.baton).toBeNull()
  })
})

describe('databases', () => {
  it('keeps namespaces isolated and serves each under /db/<name>/', async () => {
    const a = createClient({ url: server.urlFor('alpha') })
    const b = createClient({ url: server.urlFor('beta') })
    try {
      await a.execute('CREATE TABLE only_in_alpha (x)')
      await a.execute('INSERT INTO only_in_alpha VALUES (1)')
      expect(await codeOf(b.execute('SELECT * FROM only_in_alpha'))).toBe('SQLITE_ERROR')
      expect(await codeOf(db.execute('SELECT * FROM only_in_alpha'))).toBe('SQLITE_ERROR')
      expect((await a.execute('SELECT count(*) AS n FROM only_in_alpha')).rows[0]?.n).toBe(1)
      const tx = await b.transaction('write')
      await tx.execute('CREATE TABLE in_beta (x)')
      await tx.commit()
      expect(await codeOf(a.execute('SELECT * FROM in_beta'))).toBe('SQLITE_ERROR')
    } finally {
      a.close()
      b.close()
    }
  })
})

describe('racing writers', () => {
  it('an insert … RETURNING that loses a lock race is retried cleanly: one winner per name, no errors', async () => {
    const t = table()
    await db.execute(`CREATE TABLE ${t} (owner TEXT NOT NULL, name TEXT PRIMARY KEY)`)
    const clients = Array.from({ length: 4 }, () => createClient({ url: server.url }))
    try {
      for (let round = 0; round < 100; round++) {
        const results = await Promise.all(
          clients.map((c, i) =>
            c.execute({
              sql: `INSERT INTO ${t} (owner, name) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING owner`,
              args: [`tenant-${i}`, `zone-${round}`],
            }),
          ),
        )
        expect(results.filter((r) => r.rows.length === 1)).toHaveLength(1)
      }
      expect((await db.execute(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n).toBe(100n)
    } finally {
      for (const c of clients) c.close()
    }
  })
})

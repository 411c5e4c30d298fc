// Streams across requests: batons, idle expiry (injected clock, no sleeping), limits, auth, endpoints.
import { createClient, LibsqlError } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { execute, get, int, pipeline, post, text } from './support.ts'

let clock = 1_000_000
let server: LibsqlServer

beforeAll(async () => {
  server = await startLibsqlServer({ port: 0, dataDir: ':memory:', streamIdleMs: 10_000, now: () => clock })
  await pipeline(server.url, null, [execute('CREATE TABLE kv (k TEXT PRIMARY KEY, v)'), { type: 'close' }])
})

afterAll(() => server.close())

const url = () => `${server.url}/v2/pipeline`

describe('batons', () => {
  it('issues a fresh baton with every response and null once closed', async () => {
    const a = await pipeline(server.url, null, [execute('SELECT 1')])
    const b = await pipeline(server.url, a.baton, [execute('SELECT 2')])
    expect(typeof a.baton).toBe('string')
    expect(b.baton).not.toBe(a.baton)
    expect(a.base_url).toBeNull()
    const c = await pipeline(server.url, b.baton, [{ type: 'close' }])
    expect(c.baton).toBeNull()
  })

  it('rejects a reused baton without touching the stream', async () => {
    const a = await pipeline(server.url, null, [
      execute('BEGIN'),
      execute("INSERT INTO kv VALUES ('reuse', 1)"),
    ])
    const b = await pipeline(server.url, a.baton, [execute('SELECT 1')])
    const replay = await post(url(), { baton: a.baton, requests: [execute('COMMIT')] })
    expect(replay.status).toBe(400)
    expect(replay.contentType).toBe('application/json')
    expect(replay.json.code).toBe('BATON_REUSED')
    const c = await pipeline(server.url, b.baton, [
      { type: 'get_autocommit' },
      execute('ROLLBACK'),
      { type: 'close' },
    ])
    expect(c.results[0].response.is_autocommit).toBe(false)
  })

  it('rejects forged and malformed batons, and batons of another stream’s signature', async () => {
    const a = await pipeline(server.url, null, [execute('SELECT 1')])
    const b = await pipeline(server.url, null, [execute('SELECT 1')])
    const [idA, seqA] = a.baton.split('.')
    const [, , tagB] = b.baton.split('.')
    for (const baton of [
      `${idA}.${seqA}.${tagB}`,
      `${idA}.${Number(seqA) + 1}.${a.baton.split('.')[2]}`,
      'x',
      '',
      'a.b.c',
    ]) {
      const res = await post(url(), { baton, requests: [execute('SELECT 1')] })
      expect(res.status, baton).toBe(400)
      expect(res.json.code).toBe('BATON_INVALID')
    }
    for (const baton of [a.baton, b.baton]) await pipeline(server.url, baton, [{ type: 'close' }])
  })

  it('rejects a baton used against another database', async () => {
    const a = await pipeline(server.url, null, [execute('SELECT 1')])
    const res = await post(`${server.urlFor('elsewhere')}v2/pipeline`, { baton: a.baton, requests: [] })
    expect(res.json.code).toBe('BATON_INVALID')
    await pipeline(server.url, a.baton, [{ type: 'close' }])
  })

  it('answers STREAM_EXPIRED for a closed stream', async () => {
    const a = await pipeline(server.url, null, [execute('SELECT 1')])
    const b = await pipeline(server.url, a.baton, [execute('SELECT 1')])
    await pipeline(server.url, b.baton, [{ type: 'close' }])
    for (const baton of [a.baton, b.baton]) {
      const res = await post(url(), { baton, requests: [] })
      expect(res.status).toBe(400)
      expect(res.json.code).toBe('STREAM_EXPIRED')
    }
  })
})

describe('idle expiry', () => {
  it('rolls back and frees an idle stream; its baton then says STREAM_EXPIRED', async () => {
    const tx = await pipeline(server.url, null, [
      execute('BEGIN IMMEDIATE'),
      execute("INSERT INTO kv VALUES ('idle', 1)"),
    ])
    clock += 9_999
    expect(await server.sweepExpiredStreams()).toBe(0)
    clock += 1
    expect(await server.sweepExpiredStreams()).toBeGreaterThanOrEqual(1)
    const res = await post(url(), { baton: tx.baton, requests: [execute('COMMIT')] })
    expect(res.status).toBe(400)
    expect(res.json).toMatchObject({ code: 'STREAM_EXPIRED' })
    // rolled back, and the write lock is free again
    const check = await pipeline(server.url, null, [
      execute("SELECT count(*) FROM kv WHERE k = 'idle'"),
      execute('BEGIN IMMEDIATE'),
      execute('ROLLBACK'),
      { type: 'close' },
    ])
    expect(check.results[0].response.result.rows).toEqual([[int(0)]])
    expect(check.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'ok', 'ok', 'ok'])
  })

  it('surfaces an expired interactive transaction to @libsql/client as a LibsqlError', async () => {
    const client = createClient({ url: server.url })
    try {
      const tx = await client.transaction('write')
      await tx.execute("INSERT INTO kv VALUES ('client-idle', 1)")
      clock += 10_000
      await server.sweepExpiredStreams()
      const error = await tx.execute('SELECT 1').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LibsqlError)
      expect((error as LibsqlError).code).toBe('STREAM_EXPIRED')
      tx.close()
      expect((await client.execute("SELECT count(*) AS n FROM kv WHERE k = 'client-idle'")).rows[0]?.n).toBe(
        0,
      )
    } finally {
      client.close()
    }
  })
})

describe('limits', () => {
  it('caps open streams with 503 STREAM_LIMIT and recovers when streams close', async () => {
    const small = await startLibsqlServer({ port: 0, dataDir: ':memory:', maxStreams: 3 })
    try {
      const batons: string[] = []
      for (let i = 0; i < 3; i++) batons.push((await pipeline(small.url, null, [execute('SELECT 1')])).baton)
      const res = await post(`${small.url}/v2/pipeline`, { baton: null, requests: [execute('SELECT 1')] })
      expect(res.status).toBe(503)
      expect(res.json.code).toBe('STREAM_LIMIT')
      await pipeline(small.url, batons[0] ?? null, [{ type: 'close' }])
      expect((await pipeline(small.url, null, [execute('SELECT 1'), { type: 'close' }])).baton).toBeNull()
    } finally {
      await small.close()
    }
  })

  it('caps requests per pipeline with 413 PIPELINE_TOO_LARGE', async () => {
    const requests = Array.from({ length: 1001 }, () => ({ type: 'get_autocommit' }))
    const res = await post(url(), { baton: null, requests })
    expect(res.status).toBe(413)
    expect(res.json.code).toBe('PIPELINE_TOO_LARGE')
    const ok = await pipeline(server.url, null, [...requests.slice(1), { type: 'close' }].slice(0, 1000))
    expect(ok.results).toHaveLength(1000)
  })

  it('caps the body size with 413 BODY_TOO_LARGE', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024)
    const res = await post(url(), { baton: null, requests: [execute(`SELECT '${big}'`)] })
    expect(res.status).toBe(413)
    expect(res.json.code).toBe('BODY_TOO_LARGE')
    expect((await pipeline(server.url, null, [execute('SELECT 1'), { type: 'close' }])).results[0].type).toBe(
      'ok',
    )
  })

  it('caps rows per statement and bytes per response, then the stream keeps working', async () => {
    const small = await startLibsqlServer({
      port: 0,
      dataDir: ':memory:',
      maxRowsPerStatement: 50,
      maxResponseBytes: 10_000,
    })
    try {
      const series = (n: number) =>
        `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT ${n}) SELECT i FROM s`
      const body = await pipeline(small.url, null, [
        execute('CREATE TABLE t (x)'),
        execute(series(50)),
        execute(series(51)),
        execute(series(100_000), [], { want_rows: false }),
        execute('SELECT zeroblob(20000) AS big'),
        execute('INSERT INTO t VALUES (1)'),
        execute('SELECT count(*) FROM t'),
        { type: 'close' },
      ])
      const [, fifty, tooMany, noRows, tooBig, , count] = body.results
      expect(fifty.response.result.rows).toHaveLength(50)
      expect(tooMany.error.code).toBe('ROW_LIMIT_EXCEEDED')
      expect(noRows.response.result.rows).toEqual([])
      expect(tooBig.error.code).toBe('RESPONSE_TOO_LARGE')
      expect(count.response.result.rows).toEqual([[int(1)]])
    } finally {
      await small.close()
    }
  })

  it('never shows a stale snapshot after a read is cut off at the row limit', async () => {
    const small = await startLibsqlServer({ port: 0, dataDir: ':memory:', maxRowsPerStatement: 50 })
    try {
      const reader = await pipeline(small.url, null, [
        execute('CREATE TABLE n (x)'),
        execute(
          'INSERT INTO n WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT 500) SELECT i FROM s',
        ),
        execute('SELECT x FROM n'),
      ])
      expect(reader.results[2].error.code).toBe('ROW_LIMIT_EXCEEDED')
      await pipeline(small.url, null, [execute('INSERT INTO n VALUES (501)'), { type: 'close' }])
      const after = await pipeline(small.url, reader.baton, [
        execute('SELECT count(*) FROM n'),
        { type: 'close' },
      ])
      expect(after.results[0].response.result.rows).toEqual([[int(501)]])
    } finally {
      await small.close()
    }
  })

  it('rolls back a writing statement that exceeds the row limit and frees the lock', async () => {
    const small = await startLibsqlServer({
      port: 0,
      dataDir: ':memory:',
      maxRowsPerStatement: 50,
      busyTimeoutMs: 0,
    })
    try {
      const writer = await pipeline(small.url, null, [
        execute('CREATE TABLE r (x)'),
        execute(
          'INSERT INTO r WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT 250) SELECT i FROM s RETURNING x',
        ),
        { type: 'get_autocommit' },
      ])
      expect(writer.results[1].error.code).toBe('ROW_LIMIT_EXCEEDED')
      expect(writer.results[2].response.is_autocommit).toBe(true)
      // the writer's stream is still open; another stream gets the write lock at once and sees no row
      const other = await pipeline(small.url, null, [
        execute('BEGIN IMMEDIATE'),
        execute('SELECT count(*) FROM r'),
        execute('ROLLBACK'),
        { type: 'close' },
      ])
      expect(other.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'ok', 'ok', 'ok'])
      expect(other.results[1].response.result.rows).toEqual([[int(0)]])
      await pipeline(small.url, writer.baton, [{ type: 'close' }])
    } finally {
      await small.close()
    }
  })
})

describe('auth', () => {
  it('requires the bearer token on data endpoints when configured', async () => {
    const secured = await startLibsqlServer({ port: 0, dataDir: ':memory:', authToken: 's3cret' })
    try {
      const body = { baton: null, requests: [execute('SELECT 1'), { type: 'close' }] }
      const badHeaders: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 's3cret' },
      ]
      for (const headers of badHeaders) {
        const res = await post(`${secured.url}/v2/pipeline`, body, headers)
        expect(res.status).toBe(401)
        expect(res.contentType).toBe('application/json')
        expect(res.json.code).toBe('UNAUTHORIZED')
      }
      const ok = await post(`${secured.url}/v2/pipeline`, body, { authorization: 'Bearer s3cret' })
      expect(ok.status).toBe(200)
      const noToken = createClient({ url: secured.url })
      const error = await noToken.execute('SELECT 1').catch((e: unknown) => e)
      expect((error as LibsqlError).code).toBe('UNAUTHORIZED')
      noToken.close()
      const withToken = createClient({ url: secured.url, authToken: 's3cret' })
      expect((await withToken.execute('SELECT 1 AS one')).rows[0]?.one).toBe(1)
      withToken.close()
      expect((await get(`${secured.url}/health`)).status).toBe(200)
    } finally {
      await secured.close()
    }
  })
})

describe('endpoints', () => {
  it('answers the probes and fixed endpoints as sqld does', async () => {
    expect((await get(`${server.url}/v2`)).status).toBe(200)
    expect((await get(`${server.url}/v3`)).status).toBe(200)
    expect((await get(`${server.url}/health`)).status).toBe(200)
    const version = await get(`${server.url}/version`)
    expect(version.json.sqliteVersion).toMatch(/^3\.\d+/)
    const protobuf = await get(`${server.url}/v3-protobuf`)
    expect(protobuf.status).toBe(404)
    const jobs = await get(`${server.url}/v1/jobs`)
    expect(jobs.status).toBe(400)
    expect(jobs.contentType).toBe('application/json')
    expect(jobs.text).toBe('{"error":"Invalid namespace"}')
    const missing = await get(`${server.url}/nope`)
    expect([missing.status, missing.contentType]).toEqual([404, 'application/json'])
    const wrongMethod = await get(`${server.url}/v2/pipeline`)
    expect([wrongMethod.status, wrongMethod.json.code]).toEqual([405, 'METHOD_NOT_ALLOWED'])
    expect((await get(`${server.url}/db/Bad%20Name/v2`)).json.code).toBe('INVALID_NAMESPACE')
    expect((await post(`${server.url}/db/v2/pipeline`, { requests: [] })).json.error).toMatch(
      /trailing slash/,
    )
    expect((await get(`${server.urlFor('x')}v3`)).status).toBe(200)
  })
})

describe('limits roll back writing statements', () => {
  it('commits nothing of a … RETURNING over the byte limit, inside or outside a transaction', async () => {
    const small = await startLibsqlServer({ port: 0, dataDir: ':memory:', maxResponseBytes: 1000 })
    try {
      const returning =
        'INSERT INTO b WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s LIMIT 100) SELECT hex(zeroblob(20)) FROM s RETURNING x'
      const body = await pipeline(small.url, null, [
        execute('CREATE TABLE b (x)'),
        execute(returning),
        execute('BEGIN'),
        execute("INSERT INTO b VALUES ('kept')"),
        execute(returning),
        execute('COMMIT'),
        execute('SELECT x FROM b'),
        { type: 'close' },
      ])
      expect(body.results[1].error.code).toBe('RESPONSE_TOO_LARGE')
      expect(body.results[4].error.code).toBe('RESPONSE_TOO_LARGE')
      expect(body.results[5].type).toBe('ok')
      expect(body.results[6].response.result.rows).toEqual([[text('kept')]])
    } finally {
      await small.close()
    }
  })
})

// Bad input never crashes the server: malformed bodies, wrong encodings, a fuzz loop, engine aborts.
import { createClient, type LibsqlError } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { execute, int, pipeline, post, text } from './support.ts'

let server: LibsqlServer
const url = () => `${server.url}/v2/pipeline`

beforeAll(async () => {
  server = await startLibsqlServer({ port: 0, dataDir: ':memory:' })
  await pipeline(server.url, null, [
    execute('CREATE TABLE fuzz (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b BLOB, c REAL)'),
    execute("INSERT INTO fuzz (a) VALUES ('seed')"),
    { type: 'close' },
  ])
})

afterAll(() => server.close())

/** The server still answers a real query correctly. */
async function stillHealthy(): Promise<void> {
  const body = await pipeline(server.url, null, [
    execute("SELECT a FROM fuzz WHERE a = 'seed'"),
    { type: 'close' },
  ])
  expect(body.results[0].response.result.rows).toEqual([[text('seed')]])
}

describe('malformed bodies', () => {
  it.each([
    ['not JSON', '{"baton": null, "requests": [', 'INVALID_JSON'],
    ['empty', '', 'INVALID_JSON'],
    ['an array', '[]', 'INVALID_REQUEST'],
    ['a string', '"x"', 'INVALID_REQUEST'],
    ['no requests', '{"baton": null}', 'INVALID_REQUEST'],
    ['requests not an array', '{"requests": {"type": "close"}}', 'INVALID_REQUEST'],
    ['numeric baton', '{"baton": 5, "requests": []}', 'INVALID_REQUEST'],
    ['deeply nested JSON', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'INVALID_REQUEST'],
  ])('%s is a 400 with a JSON body', async (_, body, code) => {
    const res = await post(url(), body)
    expect(res.status).toBe(400)
    expect(res.contentType).toBe('application/json')
    expect(res.json.code).toBe(code)
  })

  it('reports malformed requests in-band, one result per request', async () => {
    const body = await pipeline(server.url, null, [
      null,
      42,
      { type: 'launch_missiles' },
      { type: 'execute' },
      { type: 'execute', stmt: { sql: 'SELECT 1', sql_id: 1 } },
      { type: 'execute', stmt: { sql: 'SELECT ?', args: [{ type: 'integer', value: 'twelve' }] } },
      {
        type: 'execute',
        stmt: { sql: 'SELECT ?', args: [{ type: 'integer', value: '9223372036854775808' }] },
      },
      { type: 'execute', stmt: { sql: 'SELECT ?', args: [{ type: 'float', value: '1.5' }] } },
      { type: 'execute', stmt: { sql: 'SELECT ?', args: [{ type: 'blob', base64: 'not base64!' }] } },
      { type: 'execute', stmt: { sql: 'SELECT ?', args: [{ type: 'text', value: 'a\u0000b' }] } },
      { type: 'execute', stmt: { sql: 'SELECT ?', args: [{ type: 'boolean', value: true }] } },
      { type: 'execute', stmt: { sql: 'SELECT :a', named_args: [{ name: 1, value: { type: 'null' } }] } },
      { type: 'execute', stmt: { sql: 'SELECT 1', want_rows: 'yes' } },
      {
        type: 'batch',
        batch: { steps: [{ stmt: { sql: 'SELECT 1' }, condition: { type: 'ok', step: 0 } }] },
      },
      { type: 'batch', batch: { steps: [{ stmt: { sql: 'SELECT 1' }, condition: { type: 'xor' } }] } },
      { type: 'store_sql', sql_id: 'one', sql: 'SELECT 1' },
      { type: 'sequence' },
      execute('SELECT ? AS ok', [int(-9223372036854775808n)]),
      { type: 'close' },
    ])
    expect(body.results).toHaveLength(19)
    const codes = body.results.map((r: { type: string; error?: { code: string } }) => r.error?.code ?? r.type)
    expect(codes.slice(0, 17)).toEqual([
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'ARGS_INVALID',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
      'INVALID_REQUEST',
    ])
    expect(body.results[2].error.message).toMatch(/launch_missiles/)
    expect(body.results[6].error.message).toMatch(/64-bit/)
    // i64::MIN binds fine; reading it back trips a binding bug, reported as an error, not a crash
    expect(['ok', 'LIBSQL_ENGINE_ERROR']).toContain(codes[17])
    await stillHealthy()
  })

  it('accepts a huge condition tree only up to a bounded depth', async () => {
    let cond: unknown = { type: 'ok', step: 0 }
    for (let i = 0; i < 1000; i++) cond = { type: 'not', cond }
    const body = await pipeline(server.url, null, [
      {
        type: 'batch',
        batch: { steps: [{ stmt: { sql: 'SELECT 1' } }, { stmt: { sql: 'SELECT 2' }, condition: cond }] },
      },
      { type: 'close' },
    ])
    expect(body.results[0].error.message).toMatch(/nested too deeply/)
  })
})

describe('engine aborts', () => {
  it('survives the libsql binding aborting on invalid UTF-8 text, keeping committed data', async () => {
    const client = createClient({ url: server.url })
    try {
      const other = await client.transaction('write')
      await other.execute("INSERT INTO fuzz (a) VALUES ('uncommitted')")
      const error = await client.execute("SELECT CAST(x'ff' AS TEXT)").catch((e: unknown) => e)
      expect((error as LibsqlError).code).toBe('ENGINE_FAILURE')
      expect((error as LibsqlError).message).toMatch(/not valid UTF-8/)
      // the open transaction died with the engine: rolled back, its stream gone
      const lost = await other.execute('SELECT 1').catch((e: unknown) => e)
      expect((lost as LibsqlError).code).toBe('STREAM_EXPIRED')
      other.close()
      expect(
        (await client.execute("SELECT count(*) AS n FROM fuzz WHERE a = 'uncommitted'")).rows[0]?.n,
      ).toBe(0)
      expect(server.openStreams).toBe(0)
      await stillHealthy()
    } finally {
      client.close()
    }
  })

  it('restarts a killed engine on the next request', async () => {
    await server.killEngine()
    await stillHealthy()
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })
})

describe('fuzz', () => {
  it('answers 2,000 random and mutated pipeline bodies, then still answers correctly', async () => {
    // its own server: a controllable clock expires the streams the loop leaves open (some inside a
    // write transaction), and busyTimeoutMs 0 keeps writers from waiting on them
    let clock = 0
    const fuzzed = await startLibsqlServer({
      port: 0,
      dataDir: ':memory:',
      busyTimeoutMs: 0,
      now: () => clock,
    })
    const fuzzUrl = `${fuzzed.url}/v2/pipeline`
    await pipeline(fuzzed.url, null, [
      execute('CREATE TABLE fuzz (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b BLOB, c REAL)'),
      execute("INSERT INTO fuzz (a) VALUES ('seed')"),
      { type: 'close' },
    ])
    let seed = 0x2545f491
    const random = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) / 2 ** 32
    }
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T
    const values = [
      { type: 'null' },
      int(7),
      { type: 'integer', value: '99999999999999999999999' },
      { type: 'float', value: 1.5 },
      text('héllo'),
      { type: 'blob', base64: 'AAEC' },
      { type: 'blob', base64: '%%%' },
      { type: pick(['text', 'blob', 'integer']) },
      null,
      'raw',
      [],
    ]
    const sqls = [
      'SELECT ?',
      'SELECT * FROM fuzz',
      "INSERT INTO fuzz (a) VALUES ('x')",
      'INSERT INTO fuzz (a, b, c) VALUES (?, ?, ?)',
      'BEGIN',
      'COMMIT',
      'ROLLBACK',
      'SELEC',
      '',
      ';;',
      'SELECT :a, @b',
      'DELETE FROM fuzz WHERE id > 1',
      'PRAGMA user_version',
    ]
    const requestTypes = [
      'execute',
      'batch',
      'sequence',
      'describe',
      'store_sql',
      'close_sql',
      'get_autocommit',
      'close',
      'nope',
    ]
    const randomRequest = (): unknown => {
      const type = pick(requestTypes)
      const stmt = {
        sql: random() < 0.9 ? pick(sqls) : undefined,
        sql_id: random() < 0.2 ? Math.floor(random() * 4) : undefined,
        args: Array.from({ length: Math.floor(random() * 4) }, () => pick(values)),
        named_args:
          random() < 0.3 ? [{ name: pick(['a', ':a', '@b', 'zz', '']), value: pick(values) }] : undefined,
        want_rows: pick([true, false, undefined, 'no']),
      }
      const condition = pick([
        undefined,
        { type: 'ok', step: Math.floor(random() * 3) },
        { type: 'is_autocommit' },
        { type: 'not', cond: { type: 'error', step: 0 } },
      ])
      return {
        type,
        stmt: random() < 0.95 ? stmt : pick(values),
        sql: pick(sqls),
        sql_id: random() < 0.8 ? Math.floor(random() * 4) : 'x',
        batch: { steps: Array.from({ length: Math.floor(random() * 4) }, () => ({ stmt, condition })) },
      }
    }
    const mutate = (json: string): string => {
      const chars = [...json]
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const at = Math.floor(random() * chars.length)
        const op = random()
        if (op < 0.4) chars.splice(at, 1)
        else if (op < 0.8) chars.splice(at, 0, pick(['{', '}', '"', ',', ':', '[', 'null', '0', '\\']))
        else chars[at] = pick(['"', 'x', '9'])
      }
      return chars.join('')
    }
    let batons: string[] = []
    const statuses = new Map<number, number>()
    for (let i = 0; i < 2000; i++) {
      const body = {
        baton:
          random() < 0.3 && batons.length > 0 ? pick(batons) : pick([null, null, 'bogus.1.x', undefined]),
        requests: Array.from({ length: Math.floor(random() * 5) }, randomRequest),
      }
      const json = JSON.stringify(body)
      if (i % 10 === 0) {
        clock += 60_000
        await fuzzed.sweepExpiredStreams()
      }
      const res = await post(fuzzUrl, random() < 0.3 ? mutate(json) : json)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      expect([200, 400, 413], `body ${i}: ${res.text}`).toContain(res.status)
      expect(res.contentType).toBe('application/json')
      if (res.status === 200) {
        expect(res.json.results).toHaveLength(body.requests.length)
        if (typeof res.json.baton === 'string') batons = [...batons.slice(-20), res.json.baton]
      } else expect(typeof res.json.code).toBe('string')
    }
    expect(statuses.get(200)).toBeGreaterThan(500)
    clock += 60_000
    await fuzzed.sweepExpiredStreams()
    const after = await pipeline(fuzzed.url, null, [
      execute("SELECT a FROM fuzz WHERE a = 'seed'"),
      { type: 'close' },
    ])
    expect(after.results[0].response.result.rows).toEqual([[text('seed')]])
    await fuzzed.close()
  }, 120_000)
})

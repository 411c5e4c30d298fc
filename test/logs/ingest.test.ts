/** Ingest over every wire, idempotent retries, malformed payloads, limits and tenant isolation. */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { gzip } from '../../workers/platform/compression'
import { ProtoWriter } from '../../workers/platform/protobuf'
import { snappyCompress } from '../../workers/platform/snappy'
import { linesOf, newTenant, ns, pushJson, pushProtobuf, queryRange, request, type Tenant } from './support'

/** A `logproto.PushRequest` with one stream. */
function pushRequest(
  labels: string,
  entries: Array<{ seconds: number; nanos: number; line: string; metadata?: Record<string, string> }>,
) {
  return new ProtoWriter()
    .message(1, (stream) => {
      stream.stringField(1, labels)
      for (const entry of entries) {
        stream.message(2, (e) => {
          e.message(1, (ts) => ts.int64Field(1, BigInt(entry.seconds)).uintField(2, entry.nanos))
          e.stringField(2, entry.line)
          for (const [name, value] of Object.entries(entry.metadata ?? {}))
            e.message(3, (p) => p.stringField(1, name).stringField(2, value))
        })
      }
    })
    .finish()
}

async function stored(tenant: Tenant): Promise<number> {
  const response = await request(tenant, '/v1/logs/shards')
  const { shards } = (await response.json()) as { shards: Array<{ lines: number }> }
  return shards.reduce((sum, shard) => sum + shard.lines, 0)
}

const everything = (tenant: Tenant, query = '{app=~".+"}', extra: Record<string, string> = {}) =>
  queryRange(tenant, { query, start: '0', end: ns(Date.now() + 86_400_000), limit: '1000', ...extra })

describe('Loki push', () => {
  it('accepts snappy-compressed protobuf with nanosecond timestamps and structured metadata', async () => {
    const tenant = await newTenant()
    const seconds = Math.floor(Date.now() / 1000) - 60
    const body = pushRequest('{app="proto", env="test"}', [
      { seconds, nanos: 123_456_789, line: 'first', metadata: { trace_id: 't-1' } },
      { seconds, nanos: 987_654_321, line: 'second' },
    ])
    expect((await pushProtobuf(tenant, body)).status).toBe(204)
    const result = (await everything(tenant, '{app="proto"}', { direction: 'forward' })).data.result
    expect(result).toEqual([
      { stream: { app: 'proto', env: 'test', trace_id: 't-1' }, values: [[`${seconds}123456789`, 'first']] },
      { stream: { app: 'proto', env: 'test' }, values: [[`${seconds}987654321`, 'second']] },
    ])
  })

  it('accepts gzip-encoded JSON', async () => {
    const tenant = await newTenant()
    const body = JSON.stringify({
      streams: [{ stream: { app: 'gz' }, values: [[ns(Date.now()), 'zipped line']] }],
    })
    const response = await request(tenant, '/loki/api/v1/push', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: await gzip(new TextEncoder().encode(body)),
    })
    expect(response.status).toBe(204)
    expect(linesOf((await everything(tenant)).data.result)).toEqual(['zipped line'])
  })

  it('stores a retried batch once, also when the retries race', async () => {
    const tenant = await newTenant()
    const now = Date.now()
    const streams = [
      {
        stream: { app: 'retry', pod: 'a' },
        values: [
          [ns(now - 2), 'one'],
          [ns(now - 1), 'two'],
        ] as Array<[string, string]>,
      },
      {
        stream: { app: 'retry', pod: 'b' },
        values: [[ns(now - 86_400_000), 'yesterday']] as Array<[string, string]>,
      },
    ]
    const statuses = await Promise.all([1, 2, 3, 4, 5].map(() => pushJson(tenant, streams)))
    expect(statuses.map((r) => r.status)).toEqual([204, 204, 204, 204, 204])
    expect((await pushJson(tenant, streams)).status).toBe(204)
    expect(await stored(tenant)).toBe(3)
    expect(linesOf((await everything(tenant)).data.result).sort()).toEqual(['one', 'two', 'yesterday'])
  })

  it('takes lines in any order and of any age, and returns them in time order', async () => {
    const tenant = await newTenant()
    const now = Date.now()
    const old = Date.UTC(2001, 8, 9, 1, 46, 40)
    const response = await pushJson(tenant, [
      {
        stream: { app: 'ooo' },
        values: [
          [ns(now - 1000), 'c'],
          [ns(now - 3000), 'a'],
          [ns(old), 'ancient'],
          [ns(now - 2000), 'b'],
          [ns(now + 3_600_000), 'future'],
        ],
      },
    ])
    expect(response.status).toBe(204)
    expect(
      linesOf((await everything(tenant, '{app="ooo"}', { direction: 'forward' })).data.result, false),
    ).toEqual(['ancient', 'a', 'b', 'c', 'future'])
    const ancient = await queryRange(tenant, {
      query: '{app="ooo"}',
      start: ns(old - 1000),
      end: ns(old + 1000),
    })
    expect(ancient.data.result).toEqual([{ stream: { app: 'ooo' }, values: [[ns(old), 'ancient']] }])
  })

  it.each([
    ['invalid JSON', 'application/json', '{"streams": ['],
    [
      'a JSON body of the wrong shape',
      'application/json',
      '{"streams":[{"stream":{"app":"x"},"values":[[1,"x"]]}]}',
    ],
    [
      'a label name Loki refuses',
      'application/json',
      '{"streams":[{"stream":{"1app":"x"},"values":[["1","x"]]}]}',
    ],
    ['bad snappy', 'application/x-protobuf', new Uint8Array([0x05, 0x0f, 0xff, 0xff, 0xff])],
    ['snappy of bad protobuf', 'application/x-protobuf', snappyCompress(new Uint8Array([0x0a, 0x40, 0x01]))],
    [
      'protobuf with invalid labels',
      'application/x-protobuf',
      snappyCompress(pushRequest('app=x', [{ seconds: 1, nanos: 0, line: 'x' }])),
    ],
  ])('answers 400 to %s and stores nothing', async (_, type, body) => {
    const tenant = await newTenant()
    const response = await request(tenant, '/loki/api/v1/push', {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    })
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toContain('text/plain')
    expect(await stored(tenant)).toBe(0)
  })

  it('answers 413 to a 20 MiB body and 415 to an unknown type, storing nothing', async () => {
    const tenant = await newTenant()
    const huge = JSON.stringify({
      streams: [{ stream: { app: 'big' }, values: [[ns(Date.now()), 'x'.repeat(20 * 1024 * 1024)]] }],
    })
    const tooBig = await request(tenant, '/loki/api/v1/push', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: huge,
    })
    expect(tooBig.status).toBe(413)
    const bomb = snappyCompress(new Uint8Array(40 * 1024 * 1024))
    expect((await pushProtobuf(tenant, bomb, false)).status).toBe(413)
    const odd = await request(tenant, '/loki/api/v1/push', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b',
    })
    expect(odd.status).toBe(415)
    expect(await stored(tenant)).toBe(0)
  })

  it('rejects lines over the tenant limit and keeps the rest', async () => {
    const tenant = await newTenant()
    const put = await request(tenant, '/v1/logs/settings', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ maxLineBytes: 100 }),
    })
    expect(put.status).toBe(200)
    const response = await pushJson(tenant, [
      {
        stream: { app: 'size' },
        values: [
          [ns(Date.now()), 'short'],
          [ns(Date.now()), 'y'.repeat(101)],
        ],
      },
    ])
    expect(response.status).toBe(400)
    expect(await response.text()).toMatch(/1 lines rejected: a line of 101 bytes/)
    expect(linesOf((await everything(tenant)).data.result)).toEqual(['short'])
  })

  it('answers 429 with Retry-After over the lines/s limit, storing nothing of that batch', async () => {
    const tenant = await newTenant()
    await request(tenant, '/v1/logs/settings', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ linesPerSecond: 1 }),
    })
    const batch = (n: number) => [
      {
        stream: { app: 'rate', n: String(n) },
        values: Array.from({ length: 10 }, (_, i): [string, string] => [ns(Date.now() + i), `l${i}`]),
      },
    ]
    expect((await pushJson(tenant, batch(1))).status).toBe(204)
    const limited = await pushJson(tenant, batch(2))
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await stored(tenant)).toBe(10)
  })

  it('keeps tenants apart', async () => {
    const [a, b] = [await newTenant(), await newTenant()]
    await pushJson(a, [{ stream: { app: 'shared-name' }, values: [[ns(Date.now()), 'only a']] }])
    expect((await everything(b, '{app="shared-name"}')).data.result).toEqual([])
    expect(linesOf((await everything(a, '{app="shared-name"}')).data.result)).toEqual(['only a'])
    const labels = await (await request(b, '/loki/api/v1/labels')).json()
    expect(labels).toEqual({ status: 'success', data: [] })
  })

  it('needs logs:write to push and logs:read to query', async () => {
    const tenant = await newTenant()
    const reader = {
      ...tenant,
      token: await (await import('../helpers')).tokenFor(tenant.name, ['logs:read']),
    }
    expect((await pushJson(reader, [{ stream: { app: 'x' }, values: [[ns(Date.now()), 'x']] }])).status).toBe(
      403,
    )
    const anonymous = await SELF.fetch('http://edge.test/loki/api/v1/push', { method: 'POST' })
    expect(anonymous.status).toBe(401)
    expect((await SELF.fetch('http://edge.test/loki/api/v1/query_range?query={a="b"}')).status).toBe(401)
  })
})

describe('NDJSON', () => {
  it('stores lines with labels, metadata and times in any format', async () => {
    const tenant = await newTenant()
    const body = [
      JSON.stringify({ line: 'one', labels: { app: 'nd' }, time: '2026-01-02T03:04:05.123456789Z' }),
      '',
      JSON.stringify({
        line: 'two',
        labels: { app: 'nd' },
        metadata: { user_id: 'u-1' },
        time: 1767323045.5,
      }),
    ].join('\n')
    const response = await request(tenant, '/v1/logs/ndjson', { method: 'POST', body })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ accepted: 2, rejected: 0, duplicate: false })
    const result = (
      await queryRange(tenant, {
        query: '{app="nd"}',
        start: '1767323000',
        end: '1767323100',
        direction: 'forward',
      })
    ).data.result
    expect(result).toEqual([
      { stream: { app: 'nd' }, values: [['1767323045123456789', 'one']] },
      { stream: { app: 'nd', user_id: 'u-1' }, values: [['1767323045500000000', 'two']] },
    ])
    const again = await request(tenant, '/v1/logs/ndjson', { method: 'POST', body })
    expect(await again.json()).toEqual({ accepted: 2, rejected: 0, duplicate: true })
  })

  it('answers a problem for a bad line and stores nothing', async () => {
    const tenant = await newTenant()
    const body = `${JSON.stringify({ line: 'ok' })}\n{"line": `
    const response = await request(tenant, '/v1/logs/ndjson', { method: 'POST', body })
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await stored(tenant)).toBe(0)
  })
})

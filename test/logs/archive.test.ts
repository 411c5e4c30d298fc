/** Compaction to object storage keeps every query's answer; retention removes exactly the expired days. */
import { env, runDurableObjectAlarm } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { DAY_MS } from '../../workers/logs/entries'
import { API, NGINX, STACK_TRACE, WORKER } from './corpus'
import { newTenant, ns, pushJson, request, type Tenant } from './support'

const settings = (tenant: Tenant, body: object) =>
  request(tenant, '/v1/logs/settings', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

interface ShardInfo {
  day: number
  shard: number
  lines: number
  chunks: number
  archivedLines: number
  rawBytes: number
  storedBytes: number
}

async function shards(tenant: Tenant): Promise<ShardInfo[]> {
  return ((await (await request(tenant, '/v1/logs/shards')).json()) as { shards: ShardInfo[] }).shards
}

const bucket = () => {
  if (!env.BLOBS) throw new Error('BLOBS is not bound')
  return env.BLOBS
}

const shardObject = (tenant: Tenant, day: number, shard: number) =>
  env.LOG_SHARDS.get(env.LOG_SHARDS.idFromName(`${tenant.name}:logs:${day}#${shard}`))

/** The corpus at `base` (ms): the same lines, another day. */
function corpusAt(base: number) {
  return [
    {
      stream: { app: 'nginx', env: 'prod' },
      values: NGINX.map((line, i): [string, string] => [ns(base + i * 1000), line]),
    },
    {
      stream: { app: 'api', env: 'prod' },
      values: [...API, STACK_TRACE].map((line, i): [string, string] => [ns(base + 500 + i * 1000), line]),
    },
    {
      stream: { app: 'worker', env: 'staging' },
      values: WORKER.map((line, i): [string, string, Record<string, string>] => [
        ns(base + 200 + i * 1000),
        line,
        { trace_id: `t-${i}` },
      ]),
    },
  ]
}

const QUERIES = [
  ['/loki/api/v1/query_range', { query: '{env=~"prod|staging"}', limit: '1000' }],
  ['/loki/api/v1/query_range', { query: '{env=~"prod|staging"}', limit: '3', direction: 'forward' }],
  ['/loki/api/v1/query_range', { query: '{app="api"} | json | user_id="u-123"' }],
  ['/loki/api/v1/query_range', { query: '{app="api"} |= "ECONNREFUSED"' }],
  ['/loki/api/v1/query_range', { query: '{app="worker"} | logfmt | level="error" | line_format "{{.msg}}"' }],
  ['/loki/api/v1/query_range', { query: '{app="worker"} | trace_id="t-2"' }],
  [
    '/loki/api/v1/query_range',
    { query: 'sum by (app) (count_over_time({env=~"prod|staging"}[10s]))', step: '5s' },
  ],
  [
    '/loki/api/v1/query_range',
    { query: 'sum(bytes_over_time({app="nginx"} != "healthz" [1m]))', step: '60s' },
  ],
  ['/loki/api/v1/series', { 'match[]': '{env="prod"}' }],
] as const

async function answers(tenant: Tenant, base: number): Promise<unknown[]> {
  const window = { start: ns(base - 60_000), end: ns(base + 120_000) }
  return Promise.all(
    QUERIES.map(async ([path, params]) => {
      const response = await request(tenant, `${path}?${new URLSearchParams({ ...window, ...params })}`)
      expect(response.status).toBe(200)
      return response.json()
    }),
  )
}

describe('compaction', () => {
  it('moves older lines into gzip chunks in object storage with identical query results', async () => {
    const tenant = await newTenant('archive')
    await settings(tenant, { compactAfterHours: 0, shards: 2 })
    const base = Math.floor(Date.now() / DAY_MS - 3) * DAY_MS + 3_600_000
    expect((await pushJson(tenant, corpusAt(base))).status).toBe(204)
    const before = await answers(tenant, base)
    expect(JSON.stringify(before)).toContain('ECONNREFUSED')

    const held = await shards(tenant)
    expect(held.length).toBeGreaterThan(0)
    for (const { day, shard } of held)
      expect(await runDurableObjectAlarm(shardObject(tenant, day, shard))).toBe(true)

    const after = await shards(tenant)
    const total = NGINX.length + API.length + 1 + WORKER.length
    expect(after.reduce((sum, s) => sum + s.archivedLines, 0)).toBe(total)
    expect(after.reduce((sum, s) => sum + s.lines, 0)).toBe(total)
    const objects = await bucket().list({ prefix: `logs/${tenant.name}/` })
    expect(objects.objects.length).toBe(after.reduce((sum, s) => sum + s.chunks, 0))
    expect(await answers(tenant, base)).toEqual(before)

    // A late line for the compacted day goes to the hot tier and is found beside the archive.
    await pushJson(tenant, [
      { stream: { app: 'nginx', env: 'prod' }, values: [[ns(base + 10_000), 'late line']] },
    ])
    const late = await request(
      tenant,
      `/loki/api/v1/query_range?${new URLSearchParams({ query: '{app="nginx"}', start: ns(base - 1), end: ns(base + 60_000), limit: '2' })}`,
    )
    const { data } = (await late.json()) as { data: { result: Array<{ values: string[][] }> } }
    expect(data.result.flatMap((s) => s.values.map(([, line]) => line))).toEqual(['late line', NGINX[4]])
  })
})

describe('retention', () => {
  it('deletes exactly the days past retention, from both tiers, by alarm', async () => {
    const tenant = await newTenant('retention')
    await settings(tenant, { compactAfterHours: 0, shards: 1, retentionDays: 30 })
    const today = Math.floor(Date.now() / DAY_MS)
    const expiredBase = (today - 5) * DAY_MS + 1000
    const keptBase = (today - 1) * DAY_MS + 1000
    await pushJson(tenant, corpusAt(expiredBase))
    await pushJson(tenant, corpusAt(keptBase))
    await pushJson(tenant, [{ stream: { app: 'nginx', env: 'prod' }, values: [[ns(Date.now()), 'today']] }])
    // Compact the old day first, so both tiers hold data when it expires.
    expect(await runDurableObjectAlarm(shardObject(tenant, today - 5, 0))).toBe(true)
    expect(
      (await bucket().list({ prefix: `logs/${tenant.name}/${today - 5}/` })).objects.length,
    ).toBeGreaterThan(0)

    expect((await settings(tenant, { retentionDays: 2 })).status).toBe(200)
    for (const day of [today - 5, today - 1, today]) await runDurableObjectAlarm(shardObject(tenant, day, 0))

    const left = await shards(tenant)
    expect(left.map((s) => s.day)).toEqual([today - 1, today])
    expect(left.map((s) => s.lines)).toEqual([NGINX.length + API.length + 1 + WORKER.length, 1])
    expect((await bucket().list({ prefix: `logs/${tenant.name}/${today - 5}/` })).objects).toEqual([])
    const stats = await shardObject(tenant, today - 5, 0).stats()
    expect(stats).toMatchObject({ lines: 0, streams: 0, chunks: 0 })
  })
})

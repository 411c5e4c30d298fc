/**
 * The monitoring block against a real Prometheus (Debian's `prometheus` package): the same
 * remote-write body goes to both (Prometheus with its remote-write receiver on), then
 * `promtool query instant|range -o json` asks both the same PromQL expressions and the
 * answers must agree (same series, values within 1e-9 relative).
 */
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import type { Series } from '../../workers/monitoring/series'
import { type RunningPrometheus, startPrometheus } from '../support/prometheus'
import { EXPRESSIONS } from './promql-expressions'

let platform: RunningPlatform
let prometheus: RunningPrometheus
let promUrl: string
let ours: string
let token: string
const STEP = 15_000
const END = Math.floor(Date.now() / 60_000) * 60_000 - 60_000
const START = END - 50 * 60_000

/** Deterministic data: counters (one with a reset), gauges, a histogram, an info metric. */
function dataset(): Series[] {
  let seed = 42
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  const times: number[] = []
  for (let t = START; t <= END; t += STEP) times.push(t)
  const out: Series[] = []
  for (const [instance, job, zone] of [
    ['a', 'api', 'eu'],
    ['b', 'api', 'us'],
    ['c', 'worker', 'eu'],
  ] as const) {
    let total = 0
    out.push({
      labels: { __name__: 'http_requests_total', job, instance },
      times,
      values: times.map((_, i) => {
        total = instance === 'b' && i === 100 ? 3 : total + Math.floor(random() * 20)
        return total
      }),
    })
    out.push({
      labels: { __name__: 'temperature', job, instance },
      times,
      values: times.map(() => 15 + Math.round(random() * 100) / 10),
    })
    out.push({ labels: { __name__: 'instance_info', instance, zone }, times, values: times.map(() => 1) })
    let cumulative = [0, 0, 0, 0]
    for (const le of ['0.1', '0.5', '1', '+Inf']) {
      out.push({ labels: { __name__: 'latency_seconds_bucket', job, instance, le }, times, values: [] })
    }
    const buckets = out.slice(-4)
    for (let i = 0; i < times.length; i++) {
      const add = [random() * 5, random() * 5, random() * 3, random() * 2].map(Math.floor)
      cumulative = cumulative.map((c, j) => c + add.slice(0, j + 1).reduce((a, b) => a + (b as number), 0))
      for (const [j, b] of buckets.entries()) b.values.push(cumulative[j] as number)
    }
  }
  return out
}

async function remoteWrite(url: string, body: Uint8Array, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body,
  })
  expect(response.status, await response.text()).toBe(204)
}

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('e2e-monitoring', ['monitoring:read', 'monitoring:write'])
  // promtool 2.42 has no auth flags: Basic auth from the URL, the token as password.
  ours = `${platform.url.replace('://', `://promtool:${token}@`)}/v1/monitoring/prometheus`
  prometheus = await startPrometheus('global:\n  scrape_interval: 1h\n', [
    '--web.enable-remote-write-receiver',
  ])
  promUrl = prometheus.url
  const body = encodeRemoteWrite(dataset())
  await remoteWrite(`${promUrl}/api/v1/write`, body)
  await remoteWrite(`${platform.url}/v1/monitoring/prometheus/api/v1/write`, body, token)
}, 60_000)

afterAll(async () => {
  prometheus?.stop()
  await platform?.stop()
})

type Answer =
  | Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>
  | [number, string]

function promtool(args: string[], server: string, expr: string): Answer {
  const out = execFileSync('promtool', ['query', ...args, '-o', 'json', '--', server, expr], {
    encoding: 'utf8',
  })
  return JSON.parse(out) as Answer
}

/** Series key → the values as numbers, for comparing answers. */
function normalize(answer: Answer): Map<string, number[][]> {
  const out = new Map<string, number[][]>()
  if (!Array.isArray(answer[0]) && typeof answer[0] === 'number') {
    out.set('scalar', [[answer[0], Number(answer[1])]])
    return out
  }
  for (const s of answer as Exclude<Answer, [number, string]>) {
    const key = JSON.stringify(Object.entries(s.metric).sort())
    out.set(
      key,
      (s.values ?? (s.value ? [s.value] : [])).map(([t, v]) => [t, Number(v)]),
    )
  }
  return out
}

/** Both answers have the same series and points; an empty answer only when `mayBeEmpty`. */
function expectSame(ours: Answer, theirs: Answer, expr: string, mayBeEmpty = false) {
  const a = normalize(ours)
  const b = normalize(theirs)
  if (!mayBeEmpty) expect(b.size, `${expr}: Prometheus answered nothing`).toBeGreaterThan(0)
  expect([...a.keys()].sort(), expr).toEqual([...b.keys()].sort())
  for (const [key, points] of b) {
    const mine = a.get(key) as number[][]
    expect(
      mine.map((p) => p[0]),
      `${expr} ${key}`,
    ).toEqual(points.map((p) => p[0]))
    points.forEach(([, v], i) => {
      const m = (mine[i] as number[])[1] as number
      if (Number.isNaN(v)) expect(m, `${expr} ${key}`).toBeNaN()
      else
        expect(Math.abs(m - (v as number)), `${expr} ${key}: ${m} vs ${v}`).toBeLessThanOrEqual(
          1e-9 * Math.max(1, Math.abs(v as number)),
        )
    })
  }
}

describe('PromQL answers agree with Prometheus (promtool against both)', () => {
  it('instant queries', () => {
    const at = String((END - 60_000) / 1000)
    for (const expr of EXPRESSIONS) {
      expectSame(
        promtool(['instant', `--time=${at}`], ours, expr),
        promtool(['instant', `--time=${at}`], promUrl, expr),
        expr,
      )
    }
  }, 180_000)

  it('range queries', () => {
    const args = ['range', `--start=${(END - 30 * 60_000) / 1000}`, `--end=${END / 1000}`, '--step=1m']
    for (const expr of EXPRESSIONS.filter((e) => e !== '2 ^ 3 ^ 2')) {
      expectSame(promtool(args, ours, expr), promtool(args, promUrl, expr), expr)
    }
  }, 180_000)

  it('range queries with an unaligned start and a step that is not the subquery default', () => {
    const start = (END - 30 * 60_000 + 17_000) / 1000
    const args = ['range', `--start=${start}`, `--end=${END / 1000}`, '--step=150s']
    for (const expr of EXPRESSIONS.filter((e) => e.includes('@') || /\[\w+:/.test(e))) {
      expectSame(promtool(args, ours, expr), promtool(args, promUrl, expr), expr)
    }
  }, 180_000)
})

describe('staleness agrees with Prometheus', () => {
  /** `queue_depth{queue="jobs"}` goes stale here (remote-written marker); `queue="mail"` goes on. */
  const MARK = END - 20 * 60_000
  const EXPRS = [
    'queue_depth',
    'sum(queue_depth)',
    'timestamp(queue_depth)',
    'count_over_time(queue_depth[5m])',
    'last_over_time(queue_depth[5m])',
    'absent(queue_depth{queue="jobs"})',
    'max_over_time(queue_depth[10m:1m])',
  ]

  beforeAll(async () => {
    const series = (queue: string, until: number, stale?: number): Series => {
      const times: number[] = []
      for (let t = START; t < until; t += STEP) times.push(t)
      return {
        labels: { __name__: 'queue_depth', queue },
        times,
        values: times.map((_, i) => (i * 7) % 11),
        ...(stale ? { stale: [stale] } : {}),
      }
    }
    const body = encodeRemoteWrite([series('jobs', MARK, MARK), series('mail', END + 1)])
    await remoteWrite(`${promUrl}/api/v1/write`, body)
    await remoteWrite(`${platform.url}/v1/monitoring/prometheus/api/v1/write`, body, token)
  })

  it('instant queries before, at and after a staleness marker', () => {
    for (const offset of [-1_000, 0, 60_000, 4 * 60_000 + 30_000]) {
      const at = `--time=${(MARK + offset) / 1000}`
      for (const expr of EXPRS) {
        const label = `${expr} at marker${offset >= 0 ? '+' : ''}${offset / 1000}s`
        expectSame(
          promtool(['instant', at], ours, expr),
          promtool(['instant', at], promUrl, expr),
          label,
          true,
        )
      }
    }
  }, 120_000)

  it('range queries across the marker', () => {
    const args = [
      'range',
      `--start=${(MARK - 10 * 60_000) / 1000}`,
      `--end=${(MARK + 10 * 60_000) / 1000}`,
      '--step=30s',
    ]
    for (const expr of EXPRS) expectSame(promtool(args, ours, expr), promtool(args, promUrl, expr), expr)
  }, 120_000)
})

describe('series, labels and label values agree with Prometheus', () => {
  /** `data` of a Prometheus API GET, from the platform (with the token) or Prometheus. */
  async function api(base: string, path: string, auth?: string): Promise<unknown> {
    const response = await fetch(
      `${base}${path}`,
      auth ? { headers: { authorization: `Bearer ${auth}` } } : {},
    )
    expect(response.status, `${base}${path}`).toBe(200)
    const data = ((await response.json()) as { data: unknown }).data
    // Series come in no promised order: compare them as sorted label-set texts.
    return Array.isArray(data) && typeof data[0] === 'object'
      ? data.map((s) => JSON.stringify(Object.entries(s as object).sort())).sort()
      : data
  }
  it.each([
    '/api/v1/series?match[]=temperature',
    `/api/v1/series?match[]=${encodeURIComponent('{job=~"api|worker", __name__!~"latency.*"}')}&match[]=instance_info`,
    '/api/v1/labels',
    `/api/v1/labels?match[]=instance_info`,
    '/api/v1/label/job/values',
    `/api/v1/series?match[]=temperature&start=${START / 1000}&end=${(START + 600_000) / 1000}`,
    `/api/v1/labels?start=${(END - 60_000) / 1000}&end=${END / 1000}`,
    '/api/v1/label/__name__/values',
    `/api/v1/label/instance/values?match[]=${encodeURIComponent('temperature{job="api"}')}`,
  ])('%s', async (path) => {
    const mine = await api(`${platform.url}/v1/monitoring/prometheus`, path, token)
    const theirs = await api(promUrl, path)
    expect((theirs as unknown[]).length).toBeGreaterThan(0)
    expect(mine).toEqual(theirs)
  })
})

describe("the platform's own /metrics", () => {
  it('passes promtool check metrics and counts requests, object calls and libSQL requests', async () => {
    // A query of its own just before, so the counter is this isolate's whatever ran earlier.
    const query = await fetch(`${platform.url}/v1/monitoring/prometheus/api/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=vector(1)',
    })
    expect(query.status).toBe(200)
    await query.arrayBuffer()
    const text = await (await fetch(`${platform.url}/metrics`)).text()
    // promtool exits non-zero on any problem (lint findings included); promtool queries with POST.
    execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(text).toMatch(
      /edgeblocks_http_requests_total\{isolate="[0-9a-f]+",route="\/v1\/monitoring\/prometheus\/api\/v1\/query",method="POST",code="200",tenant_class="standard"\} \d+/,
    )
    expect(text).toContain('# TYPE edgeblocks_http_request_duration_seconds histogram')
    // The remote-writes and queries above called the metric shards and read tokens from libSQL.
    expect(text).toMatch(/edgeblocks_durable_object_calls_total\{[^}]*kind="metrics"[^}]*\} \d+/)
    expect(text).toContain('# TYPE edgeblocks_libsql_request_duration_seconds histogram')
    // Queue depths (platform totals without a token) and every scheduler shard's lag.
    expect(text).toMatch(/^edgeblocks_queue_messages_visible \d+$/m)
    expect(text).toMatch(/^edgeblocks_queue_oldest_message_age_seconds \d+$/m)
    expect(text).toMatch(/^edgeblocks_queues \d+$/m)
    expect(text).toMatch(/^edgeblocks_scheduler_lag_seconds_bucket\{shard="7",le="\+Inf"\} \d+$/m)
    expect(text).toMatch(/^edgeblocks_scheduler_backlog_tasks\{shard="0"\} \d+$/m)
    expect(text).toMatch(/^edgeblocks_scheduler_oldest_overdue_seconds\{shard="0"\} [\d.]+$/m)
  })

  it("labels a tenant's own queues for a token with queue:read, and passes promtool check metrics", async () => {
    const token = await platform.token('e2e-metrics-queues', ['queue:read', 'queue:write'])
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    expect(
      (await fetch(`${platform.url}/v1/queues/mail`, { method: 'PUT', headers, body: '{}' })).status,
    ).toBe(201)
    const sent = await fetch(`${platform.url}/v1/queues/mail/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ body: 'hello' }),
    })
    expect(sent.status).toBe(201)
    const response = await fetch(`${platform.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    const text = await response.text()
    execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(text).toMatch(/^edgeblocks_queue_series_omitted 0$/m)
    expect(text).not.toMatch(/^edgeblocks_queues /m)
  })
})

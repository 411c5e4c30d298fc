/**
 * A real Prometheus (Debian's `prometheus` package) as the platform's peer: it scrapes the
 * platform's own `/metrics` every second and remote-writes everything it scrapes into the
 * platform (`remote_write` with the token as Basic auth password). The platform must then
 * answer PromQL over those samples as Prometheus does over its own copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { type RunningPrometheus, startPrometheus } from '../support/prometheus'

let platform: RunningPlatform
let prometheus: RunningPrometheus
let promUrl: string
let token: string

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('e2e-prometheus-peer', ['monitoring:read', 'monitoring:write'])
  const target = new URL(platform.url).host
  prometheus = await startPrometheus(
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: edgeblocks',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${target}']`,
      'remote_write:',
      `  - url: ${platform.url}/v1/monitoring/prometheus/api/v1/write`,
      '    basic_auth:',
      '      username: prometheus',
      `      password: ${token}`,
      '    queue_config:',
      '      batch_send_deadline: 1s',
      '      min_backoff: 100ms',
      '    metadata_config:',
      '      send_interval: 1s',
      '',
    ].join('\n'),
  )
  promUrl = prometheus.url
}, 240_000)

afterAll(async () => {
  prometheus?.stop()
  await platform?.stop()
})

async function query(base: string, expr: string, time: number, auth?: string): Promise<Vector> {
  const url = `${base}/api/v1/query?${new URLSearchParams({ query: expr, time: String(time) })}`
  const response = await fetch(url, auth ? { headers: { authorization: `Bearer ${auth}` } } : {})
  expect(response.status, `${expr}: ${base}`).toBe(200)
  return ((await response.json()) as { data: { result: Vector } }).data.result
}
const ours = (expr: string, time: number) =>
  query(`${platform.url}/v1/monitoring/prometheus`, expr, time, token)
const theirs = (expr: string, time: number) => query(promUrl, expr, time)

/** An answer as sorted `labels → value` lines, for comparing two answers. */
const lines = (v: Vector) =>
  v.map((s) => `${JSON.stringify(Object.entries(s.metric).sort())} ${s.value[1]}`).sort()

/** Polls until `check` passes (the peer scrapes and ships every second); bounded in time. */
async function eventually(check: () => Promise<boolean>, attempts = 60): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 500))
  }
  return false
}

describe('a real Prometheus scraping /metrics and remote-writing into the platform', () => {
  it('scrapes the platform (up = 1) and its remote-written samples are queryable', async () => {
    const now = () => Date.now() / 1000
    expect(
      await eventually(async () => (await ours('up{job="edgeblocks"}', now()))[0]?.value[1] === '1'),
    ).toBe(true)
    const scraped = await ours('scrape_duration_seconds{job="edgeblocks"}', now())
    expect(scraped[0]?.metric).toMatchObject({ job: 'edgeblocks', instance: new URL(platform.url).host })
    // The scrapes themselves are requests the platform counts, anonymous (no token on a scrape).
    expect(
      await eventually(
        async () =>
          (await ours('edgeblocks_http_requests_total{route="/metrics",tenant_class="anonymous"}', now()))
            .length > 0,
      ),
    ).toBe(true)
  }, 60_000)

  it('answers over the remote-written samples as Prometheus answers over its own', async () => {
    // A moment a few seconds back, after the peer's first few scrapes: both sides hold every
    // sample up to it once shipping catches up.
    let at = 0
    expect(
      await eventually(async () => {
        at = Math.floor(Date.now() / 1000) - 2
        return Number((await theirs('count_over_time(up[1m])', at))[0]?.value[1] ?? 0) >= 3
      }),
    ).toBe(true)
    const expressions = [
      'count by (__name__) ({job="edgeblocks"})',
      'up{job="edgeblocks"}',
      'sum by (route, code, tenant_class) (edgeblocks_http_requests_total)',
      'histogram_quantile(0.9, sum by (le) (edgeblocks_http_request_duration_seconds_bucket))',
      'edgeblocks_queues',
    ]
    for (const expr of expressions) {
      let last: [string[], string[]] = [[], []]
      const agreed = await eventually(async () => {
        last = [lines(await ours(expr, at)), lines(await theirs(expr, at))]
        return last[1].length > 0 && JSON.stringify(last[0]) === JSON.stringify(last[1])
      })
      expect(last[0], expr).toEqual(last[1])
      expect(agreed, expr).toBe(true)
    }
  }, 120_000)

  it("receives the peer's metric metadata, as Prometheus's own metadata API has it", async () => {
    const metadata = async (base: string, auth?: string) => {
      const response = await fetch(
        `${base}/api/v1/metadata?metric=edgeblocks_http_requests_total`,
        auth ? { headers: { authorization: `Bearer ${auth}` } } : {},
      )
      expect(response.status).toBe(200)
      return ((await response.json()) as { data: unknown }).data
    }
    const expected = await metadata(promUrl)
    expect(expected).toMatchObject({ edgeblocks_http_requests_total: [{ type: 'counter' }] })
    let last: unknown
    const arrived = await eventually(async () => {
      last = await metadata(`${platform.url}/v1/monitoring/prometheus`, token)
      return JSON.stringify(last) === JSON.stringify(expected)
    })
    expect(last).toEqual(expected)
    expect(arrived).toBe(true)
  }, 60_000)
})

/**
 * The monitoring block with real clients: the OpenTelemetry metrics SDK exporting over
 * OTLP/HTTP (cumulative and delta temporality) to `POST /v1/metrics`, and the dashboard page
 * in Chromium charting a query, listing a firing alert and the top error issues with their
 * stack traces.
 */
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import { launchChromium } from './browser'

let platform: RunningPlatform
let token: string

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('e2e-monitoring-clients', ['monitoring:read', 'monitoring:write'])
}, 240_000)

afterAll(async () => {
  await platform?.stop()
})

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>

async function instant(query: string): Promise<Vector> {
  const response = await fetch(
    `${platform.url}/v1/monitoring/prometheus/api/v1/query?${new URLSearchParams({ query })}`,
    { headers: { authorization: `Bearer ${token}` } },
  )
  expect(response.status).toBe(200)
  return ((await response.json()) as { data: { result: Vector } }).data.result
}

function provider(service: string, temporality: AggregationTemporalityPreference) {
  const exporter = new OTLPMetricExporter({
    url: `${platform.url}/v1/metrics`,
    headers: { authorization: `Bearer ${token}` },
    temporalityPreference: temporality,
  })
  return new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'service.instance.id': 'pod-1',
      'deployment.environment': 'e2e',
    }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
    views: [
      {
        instrumentName: 'rpc.payload',
        aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } },
      },
    ],
  })
}

describe('OpenTelemetry metrics SDK → OTLP/HTTP', () => {
  it('exports counters, gauges, histograms and exponential histograms (cumulative)', async () => {
    const mp = provider('otel-cumulative', AggregationTemporalityPreference.CUMULATIVE)
    const meter = mp.getMeter('e2e.scope', '1.0.0')
    const requests = meter.createCounter('http.server.requests', { unit: '{request}' })
    const duration = meter.createHistogram('http.server.duration', {
      unit: 's',
      advice: { explicitBucketBoundaries: [0.1, 0.5, 1] },
    })
    const payload = meter.createHistogram('rpc.payload', { unit: 'By' })
    const inflight = meter.createUpDownCounter('jobs.inflight')
    meter.createObservableGauge('queue.depth').addCallback((r) => r.observe(17, { queue: 'orders' }))
    requests.add(3, { route: '/cart' })
    requests.add(2, { route: '/cart' })
    for (const seconds of [0.05, 0.2, 0.3, 0.7, 2]) duration.record(seconds, { route: '/cart' })
    for (const bytes of [10, 100, 1000, 1000]) payload.record(bytes)
    inflight.add(4)
    inflight.add(-1)
    await mp.forceFlush()
    await mp.shutdown()

    const total = await instant('http_server_requests_total{job="otel-cumulative"}')
    expect(total).toHaveLength(1)
    expect(total[0]?.metric).toMatchObject({ instance: 'pod-1', route: '/cart' })
    expect(total[0]?.value[1]).toBe('5')
    const buckets = await instant('http_server_duration_seconds_bucket{job="otel-cumulative"}')
    expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.value[1]]))).toEqual({
      '0.1': '1',
      '0.5': '3',
      '1': '4',
      '+Inf': '5',
    })
    expect((await instant('http_server_duration_seconds_sum{job="otel-cumulative"}'))[0]?.value[1]).toBe(
      '3.25',
    )
    expect((await instant('queue_depth{job="otel-cumulative"}'))[0]?.value[1]).toBe('17')
    expect((await instant('jobs_inflight{job="otel-cumulative"}'))[0]?.value[1]).toBe('3')
    const exp = await instant('rpc_payload_bytes_bucket{job="otel-cumulative"}')
    expect(exp.find((b) => b.metric.le === '+Inf')?.value[1]).toBe('4')
    const q = await instant('histogram_quantile(0.5, rpc_payload_bytes_bucket{job="otel-cumulative"})')
    expect(Number(q[0]?.value[1])).toBeGreaterThan(90)
    expect(Number(q[0]?.value[1])).toBeLessThan(1100)
    const info = await instant('target_info{job="otel-cumulative"}')
    expect(info[0]?.metric).toMatchObject({ deployment_environment: 'e2e', instance: 'pod-1' })
  })

  it('accumulates delta exports into a counter across flushes', async () => {
    const mp = provider('otel-delta', AggregationTemporalityPreference.DELTA)
    const counter = mp.getMeter('e2e.scope').createCounter('jobs.done')
    counter.add(4)
    await mp.forceFlush()
    // The next export's timestamp must be newer than the first at millisecond resolution.
    const first = Date.now()
    while (Date.now() === first) {}
    counter.add(6)
    await mp.forceFlush()
    await mp.shutdown()
    expect((await instant('jobs_done_total{job="otel-delta"}'))[0]?.value[1]).toBe('10')
  })
})

describe('the dashboard page in Chromium', () => {
  it('charts a query over time and lists the firing alert and the top error issues with stack traces', async () => {
    const now = Math.floor(Date.now() / 60_000) * 60_000
    const times = Array.from({ length: 50 }, (_, i) => now - (50 - i) * 60_000)
    const body = encodeRemoteWrite(
      ['a', 'b'].map((room, r) => ({
        labels: { __name__: 'dash_temperature', room },
        times,
        values: times.map((_, i) => 20 + r * 3 + Math.sin(i / 5)),
      })),
    )
    const write = await fetch(`${platform.url}/v1/monitoring/prometheus/api/v1/write`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
      },
      body,
    })
    expect(write.status).toBe(204)
    const rules = await fetch(`${platform.url}/v1/monitoring/rule-files/dashboard`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' },
      body: [
        'groups:',
        '  - name: dashboard',
        '    interval: 1s',
        '    rules:',
        '      - alert: RoomTooWarm',
        '        expr: dash_temperature{room="b"} > 20',
        '        annotations:',
        '          summary: Room {{ $labels.room }} is at {{ $value }}',
      ].join('\n'),
    })
    expect(rules.status).toBe(200)
    // The rule group is evaluated by the rules object's alarm, once a second.
    let firing = false
    for (let i = 0; i < 100 && !firing; i++) {
      const alerts = await fetch(`${platform.url}/v1/monitoring/prometheus/api/v1/alerts`, {
        headers: { authorization: `Bearer ${token}` },
      })
      const data = ((await alerts.json()) as { data: { alerts: Array<{ state: string }> } }).data
      firing = data.alerts.some((a) => a.state === 'firing')
      if (!firing) await new Promise((r) => setTimeout(r, 300))
    }
    expect(firing).toBe(true)

    // An error issue with a stack trace, sent to a project's Sentry envelope endpoint.
    const project = (await (
      await fetch(`${platform.url}/v1/monitoring/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'dashboard-web' }),
      })
    ).json()) as { id: string; keys: Array<{ publicKey: string }> }
    const frame = (fn: string, lineno: number) => ({
      filename: 'https://app.example/static/cart.js',
      function: fn,
      lineno,
      colno: 7,
      in_app: true,
    })
    const event = JSON.stringify({
      platform: 'javascript',
      exception: {
        values: [
          {
            type: 'TypeError',
            value: 'cart.items is undefined',
            stacktrace: { frames: [frame('onCheckout', 12), frame('totalOf', 40)] },
          },
        ],
      },
    })
    const envelope = [
      '{}',
      JSON.stringify({ type: 'event', length: new TextEncoder().encode(event).length }),
      event,
    ].join('\n')
    const sent = await fetch(
      `${platform.url}/api/${project.id}/envelope/?sentry_key=${project.keys[0]?.publicKey}&sentry_version=7`,
      { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: envelope },
    )
    expect(sent.status).toBe(200)

    const page = await fetch(`${platform.url}/v1/monitoring/dashboard`)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const browser = await launchChromium()
    try {
      const tab = await browser.newPage()
      const problems: string[] = []
      tab.on('pageerror', (error) => problems.push(String(error)))
      tab.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text())
      })
      tab.on('request', (r) => {
        if (!r.url().startsWith(platform.url)) problems.push(`external request ${r.url()}`)
      })
      await tab.goto(`${platform.url}/v1/monitoring/dashboard`)
      await tab.fill('#token', token)
      await tab.click('#save')
      await tab.fill('#query', 'dash_temperature')
      await tab.click('#query-form button[type=submit]')
      // Locators run in Playwright's own world: the page's CSP (no eval) does not apply to them.
      await expect.poll(() => tab.locator('#chart path.series').count(), { timeout: 15_000 }).toBe(2)
      const d = await tab.getAttribute('#chart path.series', 'd')
      expect(d?.match(/L/g)?.length).toBeGreaterThan(20)
      expect(await tab.textContent('#legend')).toContain('room="b"')
      await tab.waitForSelector('#alerts li.alert')
      expect(await tab.textContent('#alerts')).toContain('RoomTooWarm')
      expect(await tab.textContent('#alerts')).toContain('Room b is at')
      // The top error issues, each with its stack trace (the crash last).
      await tab.waitForSelector('#issues li.issue')
      const issue = await tab.textContent('#issues li.issue')
      expect(issue).toContain('TypeError')
      expect(issue).toContain('cart.items is undefined')
      expect(issue).toContain('1 events')
      const frames = await tab.locator('#issues li.issue ol.frames li').allTextContents()
      expect(frames).toHaveLength(2)
      expect(frames.join('\n')).toMatch(
        /onCheckout[\s\S]*cart\.js:12[\s\S]*totalOf[\s\S]*cart\.js:40|totalOf[\s\S]*cart\.js:40[\s\S]*onCheckout[\s\S]*cart\.js:12/,
      )
      // The token (localStorage) and the query (the address) survive a reload, which charts again.
      await tab.reload()
      expect(await tab.inputValue('#token')).toBe(token)
      expect(await tab.inputValue('#query')).toBe('dash_temperature')
      await expect.poll(() => tab.locator('#chart path.series').count(), { timeout: 15_000 }).toBe(2)
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  })
})

/** Scrape jobs: CRUD at /v1/monitoring/scrape-jobs, scrapes fired as alarms, up/duration series. */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { MonitoringScrapes } from '../../workers/monitoring/scrape/object'
import { call, tokenFor, uniqueTenant } from '../helpers'

/** A scrape clock an hour ahead of real time: the alarm never fires on its own. */
const T = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000
/** When a job stored at T with a 30 s interval is first scraped. */
const S = T + 30_000

const TEXT = `# HELP orders_total Orders.
# TYPE orders_total counter
orders_total{job="shop",kind="book"} 12
orders_total{job="shop",kind="pen"} 3
temperature 21.5
`

async function setup() {
  const tenant = uniqueTenant()
  const token = await tokenFor(tenant)
  const stub = env.MONITORING_SCRAPES.get(
    env.MONITORING_SCRAPES.idFromName(`${tenant}:monitoring-scrapes:jobs`),
  )
  const control = { now: T, requests: [] as string[], shop: TEXT as string | null }
  await runInDurableObject(stub, (o: MonitoringScrapes) => {
    o.clock = () => control.now
    o.fetcher = async (request) => {
      control.requests.push(request.url)
      const host = new URL(request.url).host
      // The platform's own /metrics, served by the Worker under test.
      if (host === 'edge.test') return SELF.fetch(request)
      if (host === 'shop.test:9100')
        return control.shop === null ? new Response('gone', { status: 503 }) : new Response(control.shop)
      if (host === 'broken.test') return new Response('this is { not the text format')
      if (host === 'hang.test') throw new DOMException('The operation timed out.', 'TimeoutError')
      return new Response('nope', { status: 503 })
    }
  })
  const tick = async (t: number) => {
    control.now = t
    expect(await runDurableObjectAlarm(stub)).toBe(true)
  }
  const query = async (q: string, at: number) => {
    const r = await call<{
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    }>(`/v1/monitoring/prometheus/api/v1/query?query=${encodeURIComponent(q)}&time=${at / 1000}`, { token })
    expect(r.status).toBe(200)
    return r.body.data.result
  }
  return { tenant, token, stub, control, tick, query }
}

describe('scrape jobs', () => {
  it('scrapes targets on its alarm and stores their samples with job, instance and up series', async () => {
    const { token, tick, query, control } = await setup()
    const put = await call('/v1/monitoring/scrape-jobs/shop', {
      method: 'PUT',
      token,
      body: {
        targets: ['http://shop.test:9100/metrics', 'http://edge.test/metrics'],
        intervalSeconds: 30,
        labels: { env: 'test' },
      },
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ name: 'shop', intervalSeconds: 30, timeoutSeconds: 10, nextScrapeAt: S })
    await tick(S)
    expect(control.requests.sort()).toEqual(['http://edge.test/metrics', 'http://shop.test:9100/metrics'])

    const orders = await query('orders_total', S)
    expect(
      orders.map((r) => r.metric).sort((a, b) => (a.kind as string).localeCompare(b.kind as string)),
    ).toEqual([
      {
        __name__: 'orders_total',
        job: 'shop',
        instance: 'shop.test:9100',
        env: 'test',
        exported_job: 'shop',
        kind: 'book',
      },
      {
        __name__: 'orders_total',
        job: 'shop',
        instance: 'shop.test:9100',
        env: 'test',
        exported_job: 'shop',
        kind: 'pen',
      },
    ])
    const up = await query('up', S)
    expect(up.map((r) => [r.metric.instance, r.value[1]]).sort()).toEqual([
      ['edge.test:80', '1'],
      ['shop.test:9100', '1'],
    ])
    expect((await query('scrape_samples_scraped{instance="shop.test:9100"}', S))[0]?.value[1]).toBe('3')

    // The targets in Prometheus's shape, and the scraped HELP/TYPE lines as metadata.
    const targets = await call<{
      data: { activeTargets: Array<Record<string, unknown>>; droppedTargets: unknown[] }
    }>('/v1/monitoring/prometheus/api/v1/targets', { token })
    const shop = targets.body.data.activeTargets.find((t) => t.scrapeUrl === 'http://shop.test:9100/metrics')
    expect(shop).toMatchObject({
      discoveredLabels: {
        __address__: 'shop.test:9100',
        __metrics_path__: '/metrics',
        __scheme__: 'http',
        job: 'shop',
      },
      labels: { env: 'test', job: 'shop', instance: 'shop.test:9100' },
      scrapePool: 'shop',
      health: 'up',
      lastError: '',
      lastScrape: new Date(S).toISOString(),
      scrapeInterval: '30s',
      scrapeTimeout: '10s',
    })
    expect(targets.body.data.activeTargets).toHaveLength(2)
    expect(targets.body.data.droppedTargets).toEqual([])
    const dropped = await call<{ data: { activeTargets: unknown[] } }>(
      '/v1/monitoring/prometheus/api/v1/targets?state=dropped',
      { token },
    )
    expect(dropped.body.data.activeTargets).toEqual([])
    expect((await call('/v1/monitoring/prometheus/api/v1/targets?state=gone', { token })).status).toBe(400)
    const metadata = await call<{ data: Record<string, unknown> }>(
      '/v1/monitoring/prometheus/api/v1/metadata?metric=orders_total',
      { token },
    )
    expect(metadata.body.data).toEqual({ orders_total: [{ type: 'counter', help: 'Orders.', unit: '' }] })
    expect(await query('scrape_duration_seconds >= 0', S)).toHaveLength(2)
    // The platform's own metrics arrived under the job's labels.
    expect((await query('edgeblocks_isolate_start_time_seconds', S))[0]?.metric).toMatchObject({
      job: 'shop',
      instance: 'edge.test:80',
    })

    const job = await call<{ nextScrapeAt: number; targets: Array<{ health: string; lastScrape: number }> }>(
      '/v1/monitoring/scrape-jobs/shop',
      { token },
    )
    expect(job.body.nextScrapeAt).toBe(S + 30_000)
    expect(job.body.targets.map((t) => [t.health, t.lastScrape])).toEqual([
      ['up', S],
      ['up', S],
    ])

    // The next alarm scrapes again, one interval later.
    await tick(S + 30_000)
    expect(control.requests).toHaveLength(4)
    const r = await call<{ data: { result: Array<{ values: unknown[] }> } }>(
      `/v1/monitoring/prometheus/api/v1/query?query=${encodeURIComponent('count_over_time(up{instance="shop.test:9100"}[1m])')}&time=${(S + 30_000) / 1000}`,
      { token },
    )
    expect(r.body.data.result).toMatchObject([{ value: [(S + 30_000) / 1000, '2'] }])
  })

  it('a failed scrape stores only up = 0 and reports the error', async () => {
    const { token, tick, query } = await setup()
    await call('/v1/monitoring/scrape-jobs/bad', {
      method: 'PUT',
      token,
      body: {
        targets: ['http://down.test/metrics', 'http://broken.test/metrics', 'http://hang.test/metrics'],
        intervalSeconds: 60,
        timeoutSeconds: 5,
      },
    })
    await tick(T + 60_000)
    const up = await query('up{job="bad"}', T + 60_000)
    expect(up.map((r) => r.value[1])).toEqual(['0', '0', '0'])
    expect(await query('{job="bad", __name__!~"up|scrape_.*"}', T + 60_000)).toEqual([])
    const job = await call<{ targets: Array<{ url: string; health: string; lastError: string }> }>(
      '/v1/monitoring/scrape-jobs/bad',
      { token },
    )
    const errors = Object.fromEntries(
      job.body.targets.map((t) => [new URL(t.url).host, [t.health, t.lastError]]),
    )
    expect(errors['down.test']).toEqual(['down', 'server returned HTTP status 503'])
    expect(errors['broken.test']?.[1]).toMatch(/line 1/)
    expect(errors['hang.test']?.[1]).toMatch(/timed out/)
  })

  it('marks stale what a scrape no longer has, all of a failed scrape, and a removed target', async () => {
    const { token, tick, query, control } = await setup()
    const shop = 'http://shop.test:9100/metrics'
    const put = (targets: string[]) =>
      call('/v1/monitoring/scrape-jobs/shop', {
        method: 'PUT',
        token,
        body: { targets, intervalSeconds: 30 },
      })
    const names = async (q: string, at: number) =>
      (await query(q, at))
        .map((r) => `${r.metric.__name__}${r.metric.kind ? `/${r.metric.kind}` : ''}`)
        .sort()
    expect((await put([shop])).status).toBe(200)
    await tick(S)
    expect(await names('{job="shop", __name__!~"up|scrape_.*"}', S)).toEqual([
      'orders_total/book',
      'orders_total/pen',
      'temperature',
    ])

    // The pen line is gone from the body: its series ends at this scrape, not 5 minutes later.
    control.shop = TEXT.replace(/^orders_total\{job="shop",kind="pen"\} 3\n/m, '')
    await tick(S + 30_000)
    expect(await names('{job="shop", __name__!~"up|scrape_.*"}', S + 30_000)).toEqual([
      'orders_total/book',
      'temperature',
    ])
    expect(await names('{job="shop", __name__!~"up|scrape_.*"}', S + 29_000)).toHaveLength(3)

    // A failed scrape: everything it had goes stale; up says 0.
    control.shop = null
    await tick(S + 60_000)
    expect(await names('{job="shop", __name__!~"up|scrape_.*"}', S + 60_000)).toEqual([])
    expect((await query('up{job="shop"}', S + 60_000)).map((r) => r.value[1])).toEqual(['0'])

    // Back again, then the target leaves the job: its up and scrape series go stale too.
    control.shop = TEXT
    await tick(S + 90_000)
    expect(await names('{job="shop", __name__!~"up|scrape_.*"}', S + 90_000)).toHaveLength(3)
    control.now = S + 100_000
    expect((await put(['http://down.test/metrics'])).status).toBe(200)
    expect(await query('{job="shop", instance="shop.test:9100"}', S + 100_000)).toEqual([])
    expect(await query('{job="shop", instance="shop.test:9100"}', S + 99_000)).not.toEqual([])

    // Deleting the job marks the series of its remaining targets stale.
    await tick(S + 130_000)
    expect((await query('up{job="shop"}', S + 130_000)).map((r) => r.metric.instance)).toEqual([
      'down.test:80',
    ])
    control.now = S + 135_000
    expect((await call('/v1/monitoring/scrape-jobs/shop', { method: 'DELETE', token })).status).toBe(200)
    expect(await query('up{job="shop"}', S + 135_000)).toEqual([])
  })

  it('lists, replaces and deletes jobs; a replaced job is rescheduled', async () => {
    const { token, control, stub } = await setup()
    const body = { targets: ['http://shop.test:9100/metrics'] }
    expect((await call('/v1/monitoring/scrape-jobs/a', { method: 'PUT', token, body })).status).toBe(200)
    control.now = T + 5_000
    const replaced = await call<{ nextScrapeAt: number; intervalSeconds: number }>(
      '/v1/monitoring/scrape-jobs/a',
      {
        method: 'PUT',
        token,
        body: { ...body, intervalSeconds: 120 },
      },
    )
    expect(replaced.body).toMatchObject({ nextScrapeAt: T + 125_000, intervalSeconds: 120 })
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBe(T + 125_000)
    const list = await call<{ jobs: Array<{ name: string }> }>('/v1/monitoring/scrape-jobs', { token })
    expect(list.body.jobs.map((j) => j.name)).toEqual(['a'])
    expect((await call('/v1/monitoring/scrape-jobs/a', { method: 'DELETE', token })).body).toEqual({
      deleted: true,
    })
    expect((await call('/v1/monitoring/scrape-jobs/a', { token })).status).toBe(404)
    expect((await call('/v1/monitoring/scrape-jobs/a', { method: 'DELETE', token })).status).toBe(404)
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeNull()
  })

  it('refuses bad jobs with 400 problems', async () => {
    const token = await tokenFor(uniqueTenant())
    const put = (body: unknown) => call('/v1/monitoring/scrape-jobs/x', { method: 'PUT', token, body })
    for (const body of [
      { targets: [] },
      { targets: ['ftp://x/metrics'] },
      { targets: ['http://x/metrics'], intervalSeconds: 5 },
      { targets: ['http://x/metrics'], intervalSeconds: 10, timeoutSeconds: 11 },
      { targets: ['http://x/metrics'], labels: { job: 'y' } },
      { targets: ['http://x/metrics'], labels: { __name__: 'y' } },
      { targets: ['http://x/metrics'], extra: 1 },
    ]) {
      const r = await put(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.headers.get('content-type')).toContain('application/problem+json')
    }
    const reader = await tokenFor(uniqueTenant(), ['monitoring:read'])
    expect(
      (
        await call('/v1/monitoring/scrape-jobs/x', {
          method: 'PUT',
          token: reader,
          body: { targets: ['http://x/'] },
        })
      ).status,
    ).toBe(403)
  })
})

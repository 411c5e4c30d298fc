import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import type { MonitoringRules } from '../../workers/monitoring/rules/object'
import type { Series } from '../../workers/monitoring/series'
import { call, tokenFor, uniqueTenant } from '../helpers'

const PROM = '/v1/monitoring/prometheus'
/** An evaluation clock an hour ahead of real time, on a minute boundary: alarms never fire on their own. */
const T = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000

interface Received {
  body: string
  headers: Record<string, string>
}

async function setup(respond: (n: number) => number = () => 200) {
  const tenant = uniqueTenant()
  const token = await tokenFor(tenant)
  const stub = env.MONITORING_RULES.get(env.MONITORING_RULES.idFromName(`${tenant}:monitoring-rules:rules`))
  const received: Received[] = []
  const control = { now: T }
  await runInDurableObject(stub, (o: MonitoringRules) => {
    o.clock = () => control.now
    o.random = () => 0.5
    o.fetcher = async (request) => {
      const headers: Record<string, string> = {}
      request.headers.forEach((value, key) => {
        headers[key] = value
      })
      received.push({ body: await request.text(), headers })
      return new Response(null, { status: respond(received.length) })
    }
  })
  /** Sets the clock and fires the object's alarm (one evaluation round and deliveries). */
  const tick = async (t: number) => {
    control.now = t
    expect(await runDurableObjectAlarm(stub)).toBe(true)
  }
  return { tenant, token, stub, received, control, tick }
}

async function write(token: string, series: Series[]) {
  const body = encodeRemoteWrite(series)
  const response = await fetchWorker(`${PROM}/api/v1/write`, token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
    body,
  })
  expect(response.status).toBe(204)
}

async function fetchWorker(path: string, token: string, init: RequestInit) {
  const { SELF } = await import('cloudflare:test')
  return SELF.fetch(`http://edge.test${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  })
}

const putFile = (token: string, name: string, yaml: string) =>
  call<Record<string, unknown>>(`/v1/monitoring/rule-files/${name}`, {
    method: 'PUT',
    token,
    body: yaml,
    headers: { 'content-type': 'application/yaml' },
  })

const depth = (value: number, t: number): Series => ({
  labels: { __name__: 'queue_depth', queue: 'orders', job: 'worker' },
  times: [t],
  values: [value],
})

const RULES = `
groups:
  - name: queues
    interval: 1m
    rules:
      - record: queue:depth:max
        expr: max by (queue) (queue_depth)
        labels: { source: rules }
      - alert: QueueBacklog
        expr: queue:depth:max > 50
        for: 2m
        labels: { severity: page }
        annotations:
          summary: "{{ $labels.queue }} backlog is {{ $value }}"
`

type Rules = { data: { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> } }
type Alerts = { data: { alerts: Array<{ state: string; labels: Record<string, string>; value: string }> } }

describe('alerting and recording rules', () => {
  it('refuses bad rule files with 400 and keeps the stored file unchanged', async () => {
    const { token } = await setup()
    expect((await putFile(token, 'main', RULES)).status).toBe(200)
    const bad = [
      'groups: [',
      'groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(',
      'groups:\n  - name: g\n    interval: soon\n    rules: []',
      'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes',
    ]
    for (const yaml of bad) {
      const answer = await putFile(token, 'main', yaml)
      expect(answer.status).toBe(400)
      expect((answer.body as { errors: unknown[] }).errors.length).toBeGreaterThan(0)
    }
    const stored = await fetchWorker('/v1/monitoring/rule-files/main', token, {})
    expect(new TextDecoder().decode(await stored.arrayBuffer())).toBe(RULES)
    const unsupported = await call('/v1/monitoring/rule-files/x', {
      method: 'PUT',
      token,
      body: { groups: [] },
    })
    expect(unsupported.status).toBe(415)
    const list = await call<{ files: Array<{ name: string; groups: unknown[] }> }>(
      '/v1/monitoring/rule-files',
      { token },
    )
    expect(list.body.files).toEqual([
      { name: 'main', groups: [{ name: 'queues', intervalSeconds: 60, rules: 2 }], updatedAt: T },
    ])
  })

  it('records series, goes pending → firing → resolved and notifies a signed Alertmanager webhook', async () => {
    const { token, received, tick } = await setup()
    const receiver = await call<{ secret: string }>('/v1/monitoring/receivers/ops', {
      method: 'PUT',
      token,
      body: { url: 'https://hooks.test/alerts' },
    })
    expect(receiver.status).toBe(200)
    expect(receiver.body.secret).toMatch(/^whsec_/)
    const hook = new Webhook(receiver.body.secret)
    await write(token, [depth(80, T - 10_000)])
    expect((await putFile(token, 'main', RULES)).status).toBe(200)

    await tick(T + 60_000)
    const recorded = await call<{
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    }>(`${PROM}/api/v1/query?query=queue:depth:max&time=${(T + 60_000) / 1000}`, { token })
    expect(recorded.body.data.result).toEqual([
      {
        metric: { __name__: 'queue:depth:max', queue: 'orders', source: 'rules' },
        value: [(T + 60_000) / 1000, '80'],
      },
    ])
    let alerts = await call<Alerts>(`${PROM}/api/v1/alerts`, { token })
    expect(alerts.body.data.alerts).toEqual([
      {
        labels: { alertname: 'QueueBacklog', queue: 'orders', severity: 'page', source: 'rules' },
        annotations: { summary: 'orders backlog is 80' },
        state: 'pending',
        activeAt: new Date(T + 60_000).toISOString(),
        value: '8e+01',
      },
    ])
    expect(received).toHaveLength(0)

    await write(token, [depth(90, T + 90_000)])
    await tick(T + 120_000)
    expect(received).toHaveLength(0)
    await tick(T + 180_000)
    expect(received).toHaveLength(1)
    const firing = hook.verify(received[0]?.body ?? '', received[0]?.headers ?? {}) as Record<string, unknown>
    expect(firing).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'ops',
      groupLabels: { alertname: 'QueueBacklog' },
      commonAnnotations: { summary: 'orders backlog is 90' },
      alerts: [
        { status: 'firing', startsAt: new Date(T + 60_000).toISOString(), endsAt: '0001-01-01T00:00:00Z' },
      ],
    })
    const rules = await call<Rules>(`${PROM}/api/v1/rules`, { token })
    expect(rules.body.data.groups[0]?.rules.map((r) => [r.type, r.health, r.state])).toEqual([
      ['recording', 'ok', undefined],
      ['alerting', 'ok', 'firing'],
    ])
    expect(
      (await call<Rules>(`${PROM}/api/v1/rules?type=record`, { token })).body.data.groups[0]?.rules,
    ).toHaveLength(1)

    // Still firing a minute later: no repeat before the repeat interval.
    await tick(T + 240_000)
    expect(received).toHaveLength(1)
    await write(token, [depth(3, T + 250_000)])
    await tick(T + 300_000)
    expect(received).toHaveLength(2)
    const resolved = hook.verify(received[1]?.body ?? '', received[1]?.headers ?? {}) as Record<
      string,
      unknown
    >
    expect(resolved).toMatchObject({
      status: 'resolved',
      alerts: [{ status: 'resolved', endsAt: new Date(T + 300_000).toISOString() }],
    })
    alerts = await call<Alerts>(`${PROM}/api/v1/alerts`, { token })
    expect(alerts.body.data.alerts).toEqual([])
    expect(received[0]?.headers['webhook-id']).not.toBe(received[1]?.headers['webhook-id'])
  })

  it('a silence suppresses notifications until it is expired', async () => {
    const { token, received, tick, control } = await setup()
    await call('/v1/monitoring/receivers/ops', {
      method: 'PUT',
      token,
      body: { url: 'https://hooks.test/a' },
    })
    await write(token, [depth(80, T - 10_000)])
    await putFile(token, 'main', RULES.replace('for: 2m', 'for: 0s'))
    const silence = await call<{ id: string; status: { state: string } }>('/v1/monitoring/silences', {
      token,
      body: {
        matchers: [{ name: 'queue', value: 'ord.*', isRegex: true }],
        endsAt: new Date(T + 3_600_000).toISOString(),
        comment: 'maintenance',
      },
    })
    expect(silence.status).toBe(200)
    expect(silence.body.status.state).toBe('active')
    await tick(T + 60_000)
    expect((await call<Alerts>(`${PROM}/api/v1/alerts`, { token })).body.data.alerts[0]?.state).toBe('firing')
    expect(received).toHaveLength(0)
    control.now = T + 90_000
    expect(
      (await call(`/v1/monitoring/silences/${silence.body.id}`, { method: 'DELETE', token })).status,
    ).toBe(200)
    await tick(T + 120_000)
    expect(received).toHaveLength(1)
    const listed = await call<{ silences: Array<{ status: { state: string } }> }>('/v1/monitoring/silences', {
      token,
    })
    expect(listed.body.silences.map((s) => s.status.state)).toEqual(['expired'])
  })

  it('retries a failing receiver with the same webhook id and dead-letters after the last attempt', async () => {
    const { token, received, tick } = await setup((n) => (n === 2 ? 200 : 503))
    await call('/v1/monitoring/receivers/flaky', {
      method: 'PUT',
      token,
      body: { url: 'https://hooks.test/f' },
    })
    await write(token, [depth(80, T - 10_000)])
    await putFile(token, 'main', RULES.replace('for: 2m', 'for: 0s'))
    await tick(T + 60_000)
    expect(received).toHaveLength(1)
    let view = await call<{ pending: number; lastError: string }>('/v1/monitoring/receivers/flaky', { token })
    expect(view.body).toMatchObject({ pending: 1, lastError: 'HTTP 503' })
    await tick(T + 120_000)
    expect(received).toHaveLength(2)
    expect(received[1]?.headers['webhook-id']).toBe(received[0]?.headers['webhook-id'])
    view = await call('/v1/monitoring/receivers/flaky', { token })
    expect(view.body).toMatchObject({ pending: 0, lastError: null })

    // A receiver that always fails: eight attempts, then a dead letter.
    const { token: t2, received: r2, tick: tick2 } = await setup(() => 500)
    await call('/v1/monitoring/receivers/down', {
      method: 'PUT',
      token: t2,
      body: { url: 'https://hooks.test/d' },
    })
    await write(t2, [depth(80, T - 10_000), depth(80, T + 200_000)])
    await putFile(t2, 'main', RULES.replace('for: 2m', 'for: 0s'))
    // Backoff delays (random 0.5) are 0.5 s · 2^(attempt−1): every 40 s one attempt is due.
    for (let i = 0; i < 8; i++) await tick2(T + 60_000 + i * 40_000)
    expect(r2).toHaveLength(8)
    const dead = await call<{ deadLetters: Array<{ attempts: number; payload: { status: string } }> }>(
      '/v1/monitoring/receivers/down/dead-letters',
      { token: t2 },
    )
    expect(dead.body.deadLetters).toMatchObject([
      { attempts: 8, lastError: 'HTTP 500', payload: { status: 'firing' } },
    ])
  })
})

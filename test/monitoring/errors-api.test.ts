import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test'
import { SourceMapGenerator } from 'source-map-js'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import type { MonitoringRules } from '../../workers/monitoring/rules/object'
import { call, tokenFor, uniqueTenant } from '../helpers'

const BASE = '/v1/monitoring/projects'

interface Project {
  id: string
  name: string
  keys: Array<{ publicKey: string; dsn: string }>
  stats: Record<string, number>
}
interface Issue {
  id: string
  title: string
  culprit: string
  status: string
  count: number
  userCount: number
  firstRelease: string | null
  lastRelease: string | null
  stacktrace: Array<{
    filename: string
    function: string
    lineno: number | null
    colno: number | null
    inApp: boolean
  }>
}

async function setup(input: Record<string, unknown> = {}) {
  const tenant = uniqueTenant()
  const token = await tokenFor(tenant)
  const created = await call<Project>(BASE, { token, body: { name: 'web', ...input } })
  expect(created.status).toBe(201)
  const project = created.body
  const key = project.keys[0]?.publicKey as string
  return { tenant, token, project, key }
}

function envelope(items: Array<[string, unknown]>, header: Record<string, unknown> = {}): string {
  const lines = [JSON.stringify(header)]
  for (const [type, payload] of items) {
    const body = JSON.stringify(payload)
    lines.push(JSON.stringify({ type, length: new TextEncoder().encode(body).length }), body)
  }
  return lines.join('\n')
}

function send(
  project: string,
  body: string,
  auth: { query?: string; header?: string } = {},
  path = 'envelope',
) {
  const q = auth.query ? `?sentry_key=${auth.query}&sentry_version=7` : ''
  return SELF.fetch(`http://edge.test/api/${project}/${path}/${q}`, {
    method: 'POST',
    headers: {
      'content-type': 'text/plain;charset=UTF-8',
      ...(auth.header ? { 'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${auth.header}` } : {}),
    },
    body,
  })
}

const error = (type: string, value: string, frames: unknown[], extra: Record<string, unknown> = {}) => ({
  exception: { values: [{ type, value, stacktrace: { frames } }] },
  platform: 'javascript',
  ...extra,
})
const frame = (fn: string, line: number, file = 'https://app.example/static/app.js') => ({
  filename: file,
  abs_path: file,
  function: fn,
  lineno: line,
  colno: 3,
  in_app: true,
})

async function issues(token: string, project: string, query = '') {
  const r = await call<{ issues: Issue[]; cursor: string | null }>(`${BASE}/${project}/issues${query}`, {
    token,
  })
  expect(r.status).toBe(200)
  return r.body
}

describe('projects and keys', () => {
  it('creates, lists, renames, rotates keys and deletes', async () => {
    const { token, project, key } = await setup()
    expect(project.id).toMatch(/^\d+$/)
    expect(project.keys[0]?.dsn).toBe(`http://${key}@edge.test/${project.id}`)
    expect((await call(BASE, { token, body: { name: 'web' } })).status).toBe(409)
    const list = await call<{ projects: Project[] }>(BASE, { token })
    expect(list.body.projects.map((p) => p.name)).toEqual(['web'])
    const renamed = await call<Project>(`${BASE}/${project.id}`, {
      token,
      method: 'PATCH',
      body: { name: 'site' },
    })
    expect(renamed.body.name).toBe('site')
    const second = await call<{ publicKey: string }>(`${BASE}/${project.id}/keys`, { token, method: 'POST' })
    expect(second.status).toBe(201)
    expect((await call(`${BASE}/${project.id}/keys/${key}`, { token, method: 'DELETE' })).status).toBe(200)
    expect((await send(project.id, envelope([['event', { message: 'x' }]]), { query: key })).status).toBe(403)
    expect(
      (await send(project.id, envelope([['event', { message: 'x' }]]), { query: second.body.publicKey }))
        .status,
    ).toBe(200)
    expect((await call(`${BASE}/${project.id}`, { token, method: 'DELETE' })).status).toBe(200)
    expect((await call(`${BASE}/${project.id}`, { token })).status).toBe(404)
    expect(
      (await send(project.id, envelope([['event', { message: 'x' }]]), { query: second.body.publicKey }))
        .status,
    ).toBe(403)
  })

  it('refuses bad input as problems', async () => {
    const { token, project } = await setup()
    expect((await call(BASE, { token, body: { name: 'bad name' } })).status).toBe(400)
    expect(
      (await call(`${BASE}/${project.id}`, { token, method: 'PATCH', body: { eventsPerMinute: 0 } })).status,
    ).toBe(400)
    expect((await call(`${BASE}/abc/issues`, { token })).status).toBe(400)
    expect((await call(`${BASE}/999999/issues`, { token })).status).toBe(404)
    const noScope = await tokenFor(uniqueTenant(), ['queue:read'])
    expect((await call(BASE, { token: noScope })).status).toBe(403)
  })
})

describe('Sentry ingest', () => {
  it('accepts text/plain envelopes with query or header auth and answers CORS preflights', async () => {
    const { token, project, key } = await setup()
    const pre = await SELF.fetch(`http://edge.test/api/${project.id}/envelope/?sentry_key=${key}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://page.example', 'access-control-request-method': 'POST' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    const body = envelope([['event', error('TypeError', 'a is null', [frame('main', 1), frame('run', 2)])]], {
      event_id: 'b'.repeat(32),
    })
    const r1 = await send(project.id, body, { query: key })
    expect(r1.status).toBe(200)
    expect(r1.headers.get('access-control-expose-headers')).toContain('x-sentry-rate-limits')
    expect(await r1.json()).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/) })
    expect((await send(project.id, body, { header: key })).status).toBe(200)
    const store = await send(
      project.id,
      JSON.stringify(error('TypeError', 'a is null', [frame('main', 9), frame('run', 8)])),
      { query: key },
      'store',
    )
    expect(store.status).toBe(200)
    const list = await issues(token, project.id)
    expect(list.issues).toHaveLength(1)
    expect(list.issues[0]).toMatchObject({
      title: 'TypeError: a is null',
      count: 3,
      status: 'unresolved',
      culprit: 'run (static/app.js)',
    })
    expect(list.issues[0]?.stacktrace.map((f) => f.function)).toEqual(['main', 'run'])
  })

  it('accepts gzip bodies, the store endpoint with X-Sentry-Auth, and the dsn in the envelope header', async () => {
    const { token, project, key, tenant } = await setup()
    const body = envelope([['event', error('Error', 'zipped', [frame('z', 1)])]])
    const gz = await new Response(
      new Blob([body]).stream().pipeThrough(new CompressionStream('gzip')),
    ).arrayBuffer()
    const zipped = await SELF.fetch(`http://edge.test/api/${project.id}/envelope/?sentry_key=${key}`, {
      method: 'POST',
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-sentry-envelope' },
      body: gz,
    })
    expect(zipped.status).toBe(200)
    const store = await SELF.fetch(`http://edge.test/api/${project.id}/store/`, {
      method: 'POST',
      headers: {
        'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${key}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ message: 'stored', user: { id: tenant } }),
    })
    expect(store.status).toBe(200)
    const tunnelled = envelope([['event', { message: 'tunnelled' }]], {
      dsn: `https://${key}@x.example/${project.id}`,
    })
    expect((await send(project.id, tunnelled)).status).toBe(200)
    const titles = (await issues(token, project.id)).issues.map((i) => i.title).sort()
    expect(titles).toEqual(['Error: zipped', 'stored', 'tunnelled'])
  })

  it('answers auth failures and malformed envelopes in Sentry shape and stores nothing', async () => {
    const { token, project, key } = await setup()
    const ok = envelope([['event', { message: 'x' }]])
    const cases: Array<[Response, number]> = [
      [await send(project.id, ok), 401],
      [await send(project.id, ok, { query: 'zz' }), 401],
      [await send(project.id, ok, { query: `${'0'.repeat(32)}${key.slice(32)}` }), 403],
      [await send(String(Number(project.id) + 1), ok, { query: key }), 403],
      [await send(project.id, '{}\n{"type":"event","length":99}\n{}', { query: key }), 400],
      [await send(project.id, `${ok}\n{"type":"event"}\nnot json`, { query: key }), 400],
      [await send(project.id, 'garbage', { query: key }), 400],
    ]
    for (const [response, status] of cases) {
      expect(response.status).toBe(status)
      expect(Object.keys((await response.json()) as object)).toEqual(['detail'])
    }
    expect((await issues(token, project.id)).issues).toEqual([])
    const view = await call<Project>(`${BASE}/${project.id}`, { token })
    expect(view.body.stats.events).toBe(0)
  })

  it('counts transactions and sessions, ignores unknown items, truncates oversized events', async () => {
    const { token, project, key } = await setup()
    const huge = error('Error', 'big', [frame('f', 1)], {
      extra: { blob: 'x'.repeat(300_000) },
      breadcrumbs: Array.from({ length: 500 }, (_, i) => ({ message: `crumb ${i}` })),
    })
    const body = envelope([
      ['event', huge],
      ['transaction', { type: 'transaction' }],
      ['session', { sid: 's' }],
      ['client_report', {}],
    ])
    expect((await send(project.id, body, { query: key })).status).toBe(200)
    const view = await call<Project>(`${BASE}/${project.id}`, { token })
    expect(view.body.stats).toMatchObject({
      events: 1,
      transactions: 1,
      sessions: 1,
      truncated: 1,
      issues: 1,
    })
    const [issue] = (await issues(token, project.id)).issues
    const detail = await call<{ latestEvent: { truncated: boolean; breadcrumbs: unknown[] } }>(
      `${BASE}/${project.id}/issues/${issue?.id}`,
      { token },
    )
    expect(detail.body.latestEvent.truncated).toBe(true)
    expect(detail.body.latestEvent.breadcrumbs.length).toBeLessThanOrEqual(100)
  })

  it('rate limits with Retry-After and X-Sentry-Rate-Limits, storing nothing of a refused envelope', async () => {
    const { token, project, key } = await setup({ eventsPerMinute: 2 })
    const one = envelope([['event', { message: 'one' }]])
    expect((await send(project.id, one, { query: key })).status).toBe(200)
    const two = envelope([
      ['event', { message: 'two' }],
      ['event', { message: 'three' }],
    ])
    const refused = await send(project.id, two, { query: key })
    expect(refused.status).toBe(429)
    const retry = Number(refused.headers.get('retry-after'))
    expect(retry).toBeGreaterThan(0)
    expect(retry).toBeLessThanOrEqual(60)
    expect(refused.headers.get('x-sentry-rate-limits')).toBe(`${retry}::key:rate_limited`)
    expect(await refused.json()).toEqual({ detail: 'event rate limit exceeded' })
    const view = await call<Project>(`${BASE}/${project.id}`, { token })
    expect(view.body.stats).toMatchObject({ events: 1, rateLimited: 2 })
  })
})

describe('issues', () => {
  it('groups by fingerprint, frames and message, counts users, pages with a cursor', async () => {
    const { token, project, key } = await setup()
    const events: Array<[string, unknown]> = [
      [
        'event',
        error('TypeError', 'a', [frame('main', 1), frame('run', 2)], { user: { id: 'u1' }, release: '1.0' }),
      ],
      [
        'event',
        error('TypeError', 'b', [frame('main', 5), frame('run', 6)], { user: { id: 'u2' }, release: '1.1' }),
      ],
      ['event', error('TypeError', 'a', [frame('main', 1), frame('run', 2)], { user: { id: 'u1' } })],
      ['event', error('RangeError', 'c', [frame('paint', 3)])],
      ['event', { message: 'custom', fingerprint: ['payments'] }],
      ['event', error('Error', 'd', [frame('x', 1)], { fingerprint: ['payments'] })],
    ]
    expect((await send(project.id, envelope(events), { query: key })).status).toBe(200)
    const all = await issues(token, project.id)
    expect(all.issues).toHaveLength(3)
    const byFrames = all.issues.find((i) => i.culprit === 'run (static/app.js)')
    expect(byFrames).toMatchObject({ count: 3, userCount: 2, firstRelease: '1.0', lastRelease: '1.1' })
    expect(all.issues.find((i) => i.title === 'custom')?.count).toBe(2)
    const page1 = await issues(token, project.id, '?limit=2')
    expect(page1.issues).toHaveLength(2)
    const page2 = await issues(token, project.id, `?limit=2&cursor=${page1.cursor}`)
    expect(page2.issues).toHaveLength(1)
    expect(page2.cursor).toBeNull()
    expect(new Set([...page1.issues, ...page2.issues].map((i) => i.id)).size).toBe(3)
    const detail = await call<{ releases: Array<{ release: string }>; latestEvent: Record<string, unknown> }>(
      `${BASE}/${project.id}/issues/${byFrames?.id}`,
      { token },
    )
    expect(detail.body.releases.map((r) => r.release)).toEqual(['1.0', '1.1'])
    expect(detail.body.latestEvent.user).toEqual({ id: 'u1' })
  })

  it('regresses a resolved issue that recurs in a newer release', async () => {
    const { token, project, key } = await setup()
    const ev = (release: string) =>
      envelope([['event', error('Error', 'boom', [frame('go', 1)], { release })]])
    await send(project.id, ev('1.0'), { query: key })
    const [issue] = (await issues(token, project.id)).issues
    const path = `${BASE}/${project.id}/issues/${issue?.id}`
    expect((await call(path, { token, method: 'PATCH', body: { status: 'resolved' } })).body).toMatchObject({
      status: 'resolved',
    })
    await send(project.id, ev('1.0'), { query: key })
    expect((await call(path, { token })).body).toMatchObject({ status: 'resolved', count: 2 })
    await send(project.id, ev('2.0'), { query: key })
    expect((await call(path, { token })).body).toMatchObject({
      status: 'regressed',
      count: 3,
      lastRelease: '2.0',
    })
    expect((await issues(token, project.id, '?status=regressed')).issues).toHaveLength(1)
    expect((await call(path, { token, method: 'PATCH', body: { status: 'closed' } })).status).toBe(400)
  })

  it('applies an uploaded source map to minified frames before grouping', async () => {
    const { token, project, key } = await setup()
    const gen = new SourceMapGenerator({ file: 'app.min.js' })
    gen.addMapping({
      generated: { line: 1, column: 40 },
      original: { line: 2, column: 2 },
      source: 'src/checkout.ts',
    })
    gen.setSourceContent('src/checkout.ts', 'function pay(cart) {\n  throw new Error("declined")\n}')
    const upload = await SELF.fetch(
      `http://edge.test${BASE}/${project.id}/releases/web@3/files?name=${encodeURIComponent('~/static/app.min.js.map')}`,
      { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: gen.toString() },
    )
    expect(upload.status).toBe(201)
    const files = await call<{ files: Array<{ name: string }> }>(
      `${BASE}/${project.id}/releases/web@3/files`,
      { token },
    )
    expect(files.body.files.map((f) => f.name)).toEqual(['~/static/app.min.js.map'])
    const minified = (host: string) =>
      error('Error', 'declined', [{ ...frame('t', 1, `http://${host}/static/app.min.js`), colno: 41 }], {
        release: 'web@3',
      })
    await send(
      project.id,
      envelope([
        ['event', minified('a.example')],
        ['event', minified('b.example')],
      ]),
      { query: key },
    )
    const list = await issues(token, project.id)
    expect(list.issues).toHaveLength(1)
    expect(list.issues[0]?.stacktrace).toEqual([
      { filename: 'src/checkout.ts', function: 'pay', lineno: 2, colno: 3, inApp: true },
    ])
    expect(list.issues[0]?.culprit).toBe('pay (src/checkout.ts)')
  })
})

describe('alerts', () => {
  it('notify new issues through the rules webhook path, signed', async () => {
    const { tenant, token, project, key } = await setup()
    const put = await call<{ secret: string }>('/v1/monitoring/receivers/hook', {
      token,
      method: 'PUT',
      body: { url: 'https://hooks.example/errors' },
    })
    const received: string[] = []
    const rules = env.MONITORING_RULES.get(
      env.MONITORING_RULES.idFromName(`${tenant}:monitoring-rules:rules`),
    )
    await runInDurableObject(rules, (o: MonitoringRules) => {
      o.fetcher = async (request) => {
        const body = await request.text()
        const headers: Record<string, string> = {}
        request.headers.forEach((v, k) => {
          headers[k] = v
        })
        new Webhook(put.body.secret).verify(body, headers)
        received.push(body)
        return new Response(null, { status: 204 })
      }
    })
    await send(project.id, envelope([['event', error('Error', 'first', [frame('a', 1)])]]), { query: key })
    await send(project.id, envelope([['event', error('Error', 'first', [frame('a', 1)])]]), { query: key })
    expect(await runDurableObjectAlarm(rules)).toBe(true)
    expect(received).toHaveLength(1)
    const payload = JSON.parse(received[0] as string)
    expect(payload).toMatchObject({ version: '4', status: 'firing', receiver: 'hook' })
    expect(payload.alerts[0].labels).toMatchObject({ alertname: 'NewIssue', project: project.id })
    expect(payload.alerts[0].annotations.summary).toBe('Error: first')
  })
})

describe('spikes', () => {
  it('notify a minute with spikeMinEvents events and 3× the hour mean, once', async () => {
    const { tenant, token, project, key } = await setup({ alerts: { newIssues: false, spikeMinEvents: 3 } })
    await call('/v1/monitoring/receivers/hook', {
      token,
      method: 'PUT',
      body: { url: 'https://hooks.example/x' },
    })
    const received: string[] = []
    const rules = env.MONITORING_RULES.get(
      env.MONITORING_RULES.idFromName(`${tenant}:monitoring-rules:rules`),
    )
    await runInDurableObject(rules, (o: MonitoringRules) => {
      o.fetcher = async (request) => {
        received.push(await request.text())
        return new Response(null, { status: 204 })
      }
    })
    const ev = envelope([['event', { message: 'm' }]])
    for (let i = 0; i < 5; i++) expect((await send(project.id, ev, { query: key })).status).toBe(200)
    expect(await runDurableObjectAlarm(rules)).toBe(true)
    expect(received.map((b) => JSON.parse(b).alerts[0].labels.alertname)).toEqual(['ErrorRateSpike'])
  })
})

describe('tenants', () => {
  it('never see each other’s projects, issues or files', async () => {
    const a = await setup()
    const b = await setup()
    await send(a.project.id, envelope([['event', { message: `secret of ${a.tenant}` }]]), { query: a.key })
    // B's project has the same id as A's: the token, not the id, picks the project.
    expect(b.project.id).toBe(a.project.id)
    expect((await issues(b.token, b.project.id)).issues).toEqual([])
    expect(JSON.stringify((await call(BASE, { token: b.token })).body)).not.toContain(a.key)
    // A's key against B's project id reaches A's project only (the key names its tenant).
    expect((await send(b.project.id, envelope([['event', { message: 'x' }]]), { query: a.key })).status).toBe(
      200,
    )
    expect((await issues(b.token, b.project.id)).issues).toEqual([])
    expect((await issues(a.token, a.project.id)).issues).toHaveLength(2)
  })
})

// Traffic through a balancer to real node:http origins: forwarding headers, algorithms, failover, monitor recovery, panic, fallback, affinity, limits, WebSockets, hostname routing.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { BLOCKS } from '../../workers/blocks'
import { advance, lbClient, servedBy, startOrigin, startOrigins } from './support'

async function serveMany(send: () => Promise<Response>, count: number, concurrency = 1) {
  const served: string[] = []
  const statuses: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++
        const response = await send()
        statuses.push(response.status)
        if (response.status === 200) served.push(await servedBy(response))
        else await response.body?.cancel()
      }
    }),
  )
  const counts: Record<string, number> = {}
  for (const name of served) counts[name] = (counts[name] ?? 0) + 1
  return { counts, statuses }
}

describe('forwarding', () => {
  it('streams to the origin with X-Forwarded-*, Forwarded and CDN-Loop, without hop-by-hop fields or the platform token', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'fw')
    await lb.setup('fw', [origin as never])
    const response = await lb.proxy('fw', '/deep/path?x=1', {
      method: 'POST',
      body: 'hello',
      headers: {
        'x-app': 'kept',
        connection: 'x-hop',
        'x-hop': 'gone',
        te: 'trailers',
        'cf-connecting-ip': '203.0.113.7',
        'x-forwarded-for': '198.51.100.1',
      },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('edgeblocks-lb-origin')).toBe('fw/fw0')
    const seen = (await response.json()) as {
      path: string
      query: string
      method: string
      bodyBytes: number
      headers: Record<string, string>
    }
    expect(seen).toMatchObject({ path: '/deep/path', query: '?x=1', method: 'POST', bodyBytes: 5 })
    expect(seen.headers['x-app']).toBe('kept')
    expect(seen.headers['x-hop']).toBeUndefined()
    expect(seen.headers.te).toBeUndefined()
    expect(seen.headers.authorization).toBeUndefined()
    expect(seen.headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.7')
    expect(seen.headers['x-forwarded-proto']).toBe('http')
    expect(seen.headers['x-forwarded-host']).toBe('edge.test')
    expect(seen.headers.forwarded).toBe('for=203.0.113.7;proto=http;host="edge.test"')
    expect(seen.headers['cdn-loop']).toBe('edgeblocks')
  })

  it('refuses a request that came back around (CDN-Loop) with 502', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'loop')
    await lb.setup('loop', [origin as never])
    const response = await lb.proxy('loop', '/', { headers: { 'cdn-loop': 'edgeblocks' } })
    expect(response.status).toBe(502)
    expect((await response.json()) as object).toMatchObject({ detail: expect.stringContaining('looped') })
    expect((await (origin as never as { stats(): Promise<{ requests: number }> }).stats()).requests).toBe(0)
  })

  it('passes a WebSocket upgrade through to the origin', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'ws')
    await lb.setup('ws', [origin as never])
    const response = await lb.proxy('ws', '/socket', { headers: { upgrade: 'websocket' } })
    expect(response.status).toBe(101)
    const socket = response.webSocket as WebSocket
    socket.accept()
    const messages: string[] = []
    const done = new Promise<void>((resolve) =>
      socket.addEventListener('message', (event) => {
        messages.push(String(event.data))
        if (messages.length === 1) socket.send('hi')
        if (messages.length === 2) resolve()
      }),
    )
    await done
    socket.close()
    expect(messages).toEqual(['origin:ws0', 'echo:hi'])
  })

  it('serves a hostname routed to <name>.lb.edgeblocks.internal through the hostTarget hook', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'host')
    await lb.setup('shop', [origin as never])
    const target = BLOCKS.find((b) => b.hostTarget?.kind === 'lb')?.hostTarget
    const ctx = createExecutionContext()
    const response = await target?.serve(
      new Request('https://shop.example.com/cart?id=3', { headers: { authorization: 'Basic kept' } }),
      env,
      ctx,
      {
        tenant: lb.tenant,
        name: 'shop',
      },
    )
    const seen = (await response?.json()) as { path: string; query: string; headers: Record<string, string> }
    await waitOnExecutionContext(ctx)
    expect(seen).toMatchObject({ path: '/cart', query: '?id=3' })
    expect(seen.headers['x-forwarded-proto']).toBe('https')
    expect(seen.headers.authorization).toBe('Basic kept')
    const missing = await target?.serve(
      new Request('https://x.example.com/'),
      env,
      createExecutionContext(),
      { tenant: lb.tenant, name: 'none' },
    )
    expect(missing?.status).toBe(404)
    expect(missing?.headers.get('content-type')).toBe('application/problem+json')
  })
})

describe('algorithms over real origins', () => {
  it('round robin gives three origins exactly a third each; smooth weighted gives 3:1', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(3, 'rr')
    await lb.setup('rr', origins)
    expect((await serveMany(() => lb.proxy('rr'), 30)).counts).toEqual({ rr0: 10, rr1: 10, rr2: 10 })
    await lb.putPool('rr', {
      algorithm: 'weighted_round_robin',
      origins: origins.slice(0, 2).map((o, i) => ({ name: o.name, url: o.url, weight: i === 0 ? 3 : 1 })),
    })
    expect((await serveMany(() => lb.proxy('rr'), 40)).counts).toEqual({ rr0: 30, rr1: 10 })
  })

  it('ring hash on a header keeps one key on one origin', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(4, 'rh')
    await lb.setup('rh', origins, { algorithm: 'ring_hash', hashKey: { source: 'header', name: 'x-user' } })
    for (const user of ['ann', 'bob', 'cy']) {
      const { counts } = await serveMany(() => lb.proxy('rh', '/', { headers: { 'x-user': user } }), 5)
      expect(Object.values(counts)).toEqual([5])
    }
  })
})

describe('failure handling', () => {
  it('ejects an origin killed mid-load; retries keep client errors under the retry budget', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(3, 'kill')
    await lb.setup('kill', origins)
    const first = await serveMany(() => lb.proxy('kill', '/'), 60, 6)
    expect(first.statuses.every((s) => s === 200)).toBe(true)
    await origins[1]?.down()
    const second = await serveMany(() => lb.proxy('kill', '/'), 240, 6)
    const errors = second.statuses.filter((s) => s !== 200).length
    expect(errors / second.statuses.length).toBeLessThan(0.2)
    expect(second.counts.kill1 ?? 0).toBe(0)
    const health = await lb.health('kill')
    const killed = health.origins.find((o) => o.name === 'kill1')
    expect(killed?.ejectedUntil).not.toBeNull()
    expect(health.events[0]).toMatchObject({
      origin: 'kill1',
      to: 'ejected',
      reason: '3 consecutive gateway errors',
    })
  })

  it('without a retry budget the same failure reaches clients, and a POST is never retried', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(2, 'nobudget')
    await lb.setup(
      'nb',
      origins,
      { outlierDetection: { consecutiveGatewayErrors: 0, consecutive5xx: 0 } },
      { retries: { budgetPercent: 0, minRetryConcurrency: 0 } },
    )
    await origins[0]?.down()
    const { statuses } = await serveMany(() => lb.proxy('nb', '/'), 10)
    expect(statuses.filter((s) => s === 502)).toHaveLength(5)
    await lb.putBalancer('nb', { pools: ['nb'] })
    const posts = await serveMany(() => lb.proxy('nb', '/', { method: 'POST', body: 'x' }), 10)
    expect(posts.statuses.filter((s) => s === 502)).toHaveLength(5)
  })

  it('the monitor marks a dead origin unhealthy and brings it back (slow start) when it recovers', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(2, 'mon')
    await lb.setup('mon', origins, {
      monitor: { path: '/health', intervalSeconds: 10, healthyThreshold: 2, unhealthyThreshold: 2 },
      slowStartSeconds: 60,
    })
    await origins[0]?.down()
    await advance(lb.tenant, 'mon', 10_000)
    await advance(lb.tenant, 'mon', 10_000)
    let health = await lb.health('mon')
    expect(health.origins[0]).toMatchObject({ name: 'mon0', health: 'unhealthy' })
    expect(health.events[0]).toMatchObject({
      origin: 'mon0',
      to: 'unhealthy',
      reason: 'monitor: connection failed',
    })
    expect((await serveMany(() => lb.proxy('mon'), 6)).counts).toEqual({ mon1: 6 })
    await origins[0]?.up()
    await advance(lb.tenant, 'mon', 10_000)
    expect((await lb.health('mon')).origins[0]?.health).toBe('unhealthy')
    await advance(lb.tenant, 'mon', 10_000)
    health = await lb.health('mon')
    expect(health.origins[0]).toMatchObject({ health: 'healthy', weight: 1 })
    expect(health.origins[0]?.effectiveWeight).toBeLessThan(1)
    expect(health.events[0]).toMatchObject({ origin: 'mon0', from: 'unhealthy', to: 'healthy' })
    expect((await serveMany(() => lb.proxy('mon'), 6)).counts.mon0).toBe(3)
  })

  it('panics below the threshold (spreads over every origin), fails over to the fallback pool, else 503 with Retry-After', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(4, 'pn')
    // Only pn0 passes the monitor: 25% healthy.
    const monitor = { expectedBody: '"origin":"pn0"', intervalSeconds: 10, unhealthyThreshold: 1 }
    await lb.setup('pn', origins, { monitor, panicThresholdPercent: 50 })
    await advance(lb.tenant, 'pn', 10_000)
    expect((await lb.health('pn')).state).toBe('panic')
    expect(Object.keys((await serveMany(() => lb.proxy('pn'), 8)).counts).sort()).toEqual([
      'pn0',
      'pn1',
      'pn2',
      'pn3',
    ])
    await lb.putPool('pn', {
      origins: origins.map((o) => ({ name: o.name, url: o.url })),
      monitor,
      panicThresholdPercent: 0,
    })
    await advance(lb.tenant, 'pn', 10_000)
    expect((await serveMany(() => lb.proxy('pn'), 8)).counts).toEqual({ pn0: 8 })
    // Down: more healthy origins needed than there are.
    await lb.putPool('pn', {
      origins: origins.map((o) => ({ name: o.name, url: o.url })),
      monitor,
      minimumHealthy: 2,
    })
    await advance(lb.tenant, 'pn', 10_000)
    expect((await lb.health('pn')).state).toBe('down')
    const refused = await lb.proxy('pn')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect((await refused.json()) as object).toMatchObject({ type: 'urn:edgeblocks:problem:unavailable' })
    const [spare] = await startOrigins(1, 'fallback')
    await lb.putPool('spare', { origins: [{ name: spare?.name, url: spare?.url }] })
    await lb.putBalancer('pn', { pools: ['pn'], fallbackPool: 'spare' })
    const served = await lb.proxy('pn')
    expect(served.headers.get('edgeblocks-lb-origin')).toBe('spare/fallback0')
  })

  it('answers 503 with Retry-After: 1 when every origin is at its request limit', async () => {
    const lb = await lbClient()
    const origin = await startOrigin('limited')
    await lb.setup('lim', [origin], {})
    await lb.putPool('lim', { origins: [{ name: origin.name, url: origin.url, maxRequests: 1 }] })
    const slow = lb.proxy('lim', '/?delay=400')
    while ((await origin.stats()).requests === 0) await scheduler.wait(5)
    const refused = await lb.proxy('lim', '/')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    const first = await slow
    expect(first.status).toBe(200)
    await first.text()
    expect((await lb.proxy('lim', '/')).status).toBe(200)
  })
})

describe('cookie affinity', () => {
  it('keeps a client on its origin and survives the removal of an origin', async () => {
    const lb = await lbClient()
    const origins = await startOrigins(3, 'aff')
    await lb.setup('aff', origins, {}, { affinity: { cookieName: 'sticky' } })
    const clients: Array<{ cookie: string; origin: string }> = []
    for (let i = 0; i < 3; i++) {
      const response = await lb.proxy('aff')
      const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] as string
      expect(cookie).toMatch(/^sticky=aff~aff\d$/)
      clients.push({ cookie, origin: await servedBy(response) })
    }
    for (const client of clients) {
      for (let i = 0; i < 3; i++) {
        const response = await lb.proxy('aff', '/', { headers: { cookie: client.cookie } })
        expect(response.headers.get('set-cookie')).toBeNull()
        expect(await servedBy(response)).toBe(client.origin)
      }
    }
    const removed = clients[0]?.origin
    await lb.putPool('aff', {
      origins: origins.filter((o) => o.name !== removed).map((o) => ({ name: o.name, url: o.url })),
    })
    const moved = await lb.proxy('aff', '/', { headers: { cookie: clients[0]?.cookie ?? '' } })
    const movedTo = await servedBy(moved)
    expect(movedTo).not.toBe(removed)
    expect(moved.headers.get('set-cookie')).toContain(`sticky=aff~${movedTo}`)
    for (const client of clients.slice(1)) {
      expect(await servedBy(await lb.proxy('aff', '/', { headers: { cookie: client.cookie } }))).toBe(
        client.origin,
      )
    }
  })
})

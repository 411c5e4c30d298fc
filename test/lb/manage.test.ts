// Pools and balancers: CRUD, every validation rule (400 with nothing changed), 404/409, scopes, tenant isolation.
import { describe, expect, it } from 'vitest'
import { call, tokenFor } from '../helpers'
import { lbClient, startOrigins } from './support'

const origin = (name: string, url = 'http://127.0.0.1:9/') => ({ name, url })

describe('pools', () => {
  it('creates, reads, replaces, lists and deletes a pool', async () => {
    const lb = await lbClient()
    const created = await lb.putPool('web', { origins: [origin('a'), origin('b')], algorithm: 'maglev' })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'web',
      version: 1,
      settings: { algorithm: 'maglev', minimumHealthy: 1 },
    })
    const replaced = await lb.putPool('web', { origins: [origin('a')] })
    expect(replaced.status).toBe(200)
    expect(replaced.body).toMatchObject({ version: 2, settings: { algorithm: 'round_robin' } })
    const list = await call<{ items: Array<{ name: string }> }>('/v1/lb/pools', { token: lb.token })
    expect(list.body.items.map((p) => p.name)).toEqual(['web'])
    const health = await lb.health('web')
    expect(health).toMatchObject({
      state: 'up',
      healthy: 1,
      origins: [{ name: 'a', health: 'healthy', outstanding: 0 }],
    })
    expect((await call('/v1/lb/pools/web', { method: 'DELETE', token: lb.token })).status).toBe(200)
    expect((await call('/v1/lb/pools/web', { token: lb.token })).status).toBe(404)
    expect((await call('/v1/lb/pools/web', { method: 'DELETE', token: lb.token })).status).toBe(404)
  })

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['an empty pool', { origins: [] }, 'body/origins'],
    [
      'weight 0 everywhere',
      {
        origins: [
          { ...origin('a'), weight: 0 },
          { ...origin('b'), weight: 0 },
        ],
      },
      'body/origins',
    ],
    ['a non-http URL', { origins: [origin('a', 'ftp://127.0.0.1/')] }, 'body/origins/0/url'],
    [
      'an origin looping back into the platform',
      { origins: [origin('a', 'http://edge.test/v1/lb/x/proxy')] },
      'body/origins/0/url',
    ],
    [
      'an internal target name',
      { origins: [origin('a', 'http://shop.lb.edgeblocks.internal/')] },
      'body/origins/0/url',
    ],
    ['duplicate origin names', { origins: [origin('a'), origin('a')] }, 'body/origins/1/name'],
    ['an unknown algorithm', { origins: [origin('a')], algorithm: 'fastest' }, 'body/algorithm'],
    ['a weight over 1000', { origins: [{ ...origin('a'), weight: 1001 }] }, 'body/origins/0/weight'],
    [
      'a header hash key without a name',
      { origins: [origin('a')], hashKey: { source: 'header' } },
      'body/hashKey/name',
    ],
    [
      'minimumHealthy above the origin count',
      { origins: [origin('a')], minimumHealthy: 2 },
      'body/minimumHealthy',
    ],
    ['an unknown field', { origins: [origin('a')], colour: 'red' }, 'body/colour'],
  ]
  for (const [what, body, path] of bad) {
    it(`refuses ${what} with 400 and changes nothing`, async () => {
      const lb = await lbClient()
      await lb.putPool('keep', { origins: [origin('a')] })
      for (const name of ['keep', 'fresh']) {
        const response = await lb.putPool(name, body)
        expect(response.status).toBe(400)
        expect(response.body.type).toBe('urn:edgeblocks:problem:validation_failed')
        expect((response.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path)
      }
      expect((await call('/v1/lb/pools/keep', { token: lb.token })).body).toMatchObject({ version: 1 })
      expect((await call('/v1/lb/pools/fresh', { token: lb.token })).status).toBe(404)
    })
  }

  it('refuses to delete a pool a balancer uses (409)', async () => {
    const lb = await lbClient()
    await lb.putPool('p', { origins: [origin('a')] })
    await lb.putPool('spare', { origins: [origin('a')] })
    expect((await lb.putBalancer('b', { pools: ['p'], fallbackPool: 'spare' })).status).toBe(201)
    for (const pool of ['p', 'spare']) {
      expect((await call(`/v1/lb/pools/${pool}`, { method: 'DELETE', token: lb.token })).status).toBe(409)
    }
  })
})

describe('balancers', () => {
  it('creates, reads, lists and deletes a balancer with defaults', async () => {
    const lb = await lbClient()
    await lb.putPool('p', { origins: [origin('a')] })
    const created = await lb.putBalancer('front', { pools: ['p'], affinity: {} })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      settings: {
        pools: ['p'],
        fallbackPool: null,
        affinity: { cookieName: 'eb_lb', ttlSeconds: 3600 },
        retries: { attempts: 2, budgetPercent: 20, minRetryConcurrency: 3, on5xx: true },
        perTryTimeoutMs: 15_000,
      },
    })
    const list = await call<{ items: unknown[] }>('/v1/lb/balancers', { token: lb.token })
    expect(list.body.items).toHaveLength(1)
    expect((await call('/v1/lb/balancers/front', { method: 'DELETE', token: lb.token })).status).toBe(200)
    expect((await call('/v1/lb/balancers/front', { token: lb.token })).status).toBe(404)
  })

  it('refuses unknown pools, duplicate pools and bad retry settings with 400, nothing stored', async () => {
    const lb = await lbClient()
    await lb.putPool('p', { origins: [origin('a')] })
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ pools: ['nope'] }, 'body/pools/0'],
      [{ pools: ['p'], fallbackPool: 'nope' }, 'body/fallbackPool'],
      [{ pools: ['p', 'p'] }, 'body/pools'],
      [{ pools: [] }, 'body/pools'],
      [{ pools: ['p'], retries: { attempts: 9 } }, 'body/retries/attempts'],
      [{ pools: ['p'], perTryTimeoutMs: 0 }, 'body/perTryTimeoutMs'],
    ]
    for (const [body, path] of cases) {
      const response = await lb.putBalancer('b', body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect((response.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path)
    }
    expect((await call('/v1/lb/balancers/b', { token: lb.token })).status).toBe(404)
  })
})

describe('access', () => {
  it('needs a token and the lb scopes', async () => {
    expect((await call('/v1/lb/pools')).status).toBe(401)
    const readOnly = await tokenFor('lb-ro', ['lb:read'])
    expect(
      (await call('/v1/lb/pools/x', { method: 'PUT', token: readOnly, body: { origins: [origin('a')] } }))
        .status,
    ).toBe(403)
    const other = await tokenFor('lb-other', ['queue:read'])
    expect((await call('/v1/lb/pools', { token: other })).status).toBe(403)
  })

  it('keeps tenants apart: names, listings, health and traffic', async () => {
    const [a, b] = [await lbClient(), await lbClient()]
    const [o] = await startOrigins(1, 'iso')
    await a.setup('shared', [o as never])
    expect((await call('/v1/lb/pools', { token: b.token })).body).toEqual({ items: [] })
    expect((await call('/v1/lb/pools/shared/health', { token: b.token })).status).toBe(404)
    expect((await b.proxy('shared', '/')).status).toBe(404)
    expect((await a.proxy('shared', '/')).status).toBe(200)
    // The same name in tenant B is its own pool.
    await b.putPool('shared', { origins: [origin('z')] })
    expect((await a.health('shared')).origins.map((x) => x.name)).toEqual(['iso0'])
  })
})

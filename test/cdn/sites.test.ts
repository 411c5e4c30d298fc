// Sites: CRUD, bad rules (400, nothing changed), a load balancer as origin, stats, hostname routing, tenant isolation.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { BLOCKS } from '../../workers/blocks'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { startOrigin } from '../lb/support'
import { cacheStatusOf, cdnClient, q } from './support'

describe('sites', () => {
  it('creates, reads, lists, replaces and deletes a site', async () => {
    const cdn = await cdnClient({ defaultTtlSeconds: 30 })
    const site = await call(`/v1/cdn/sites/${cdn.site}`, { token: cdn.token })
    expect(site.body).toMatchObject({
      version: 1,
      settings: { defaultTtlSeconds: 30, cacheKey: { query: 'all', sortQuery: true } },
    })
    const replaced = await call(`/v1/cdn/sites/${cdn.site}`, {
      method: 'PUT',
      token: cdn.token,
      body: { originUrl: cdn.origin.url },
    })
    expect(replaced.status).toBe(200)
    expect((await call<{ items: unknown[] }>('/v1/cdn/sites', { token: cdn.token })).body.items).toHaveLength(
      1,
    )
    expect((await call(`/v1/cdn/sites/${cdn.site}`, { method: 'DELETE', token: cdn.token })).status).toBe(200)
    expect((await call(`/v1/cdn/sites/${cdn.site}`, { token: cdn.token })).status).toBe(404)
    expect((await cdn.get('/x')).status).toBe(404)
  })

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['no origin', {}, 'body'],
    ['two origins', { originUrl: 'http://127.0.0.1:9/', originBalancer: 'lb' }, 'body'],
    ['a non-http origin', { originUrl: 'ftp://127.0.0.1/' }, 'body/originUrl'],
    ['an origin looping back into the platform', { originUrl: 'http://edge.test/' }, 'body/originUrl'],
    ['an unknown load balancer', { originBalancer: 'nope' }, 'body/originBalancer'],
    ['a negative TTL', { originUrl: 'http://127.0.0.1:9/', defaultTtlSeconds: -1 }, 'body/defaultTtlSeconds'],
    [
      'a bad query rule',
      { originUrl: 'http://127.0.0.1:9/', cacheKey: { query: 'some' } },
      'body/cacheKey/query',
    ],
    [
      'a bad header name',
      { originUrl: 'http://127.0.0.1:9/', cacheKey: { headers: ['bad name'] } },
      'body/cacheKey/headers/0',
    ],
  ]
  for (const [what, body, path] of bad) {
    it(`refuses ${what} with 400 and changes nothing`, async () => {
      const cdn = await cdnClient({ defaultTtlSeconds: 30 })
      for (const site of [cdn.site, 'fresh']) {
        const response = await call(`/v1/cdn/sites/${site}`, { method: 'PUT', token: cdn.token, body })
        expect(response.status).toBe(400)
        expect((response.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path)
      }
      expect((await call(`/v1/cdn/sites/${cdn.site}`, { token: cdn.token })).body).toMatchObject({
        version: 1,
      })
      expect((await call('/v1/cdn/sites/fresh', { token: cdn.token })).status).toBe(404)
    })
  }

  it('builds the cache key from the rule: query filtered and sorted, a header', async () => {
    const cdn = await cdnClient({
      cacheEverything: true,
      cacheKey: { query: 'exclude', queryParams: ['utm'], headers: ['x-device'] },
    })
    for (const path of ['/k?b=2&a=1&utm=x', '/k?a=1&b=2', '/k?a=1&b=2&utm=y'])
      await (await cdn.get(path)).text()
    expect(await cdn.originCount('/k')).toBe(1)
    await (await cdn.get('/k?a=1&b=2', { headers: { 'x-device': 'mobile' } })).text()
    expect(await cdn.originCount('/k')).toBe(2)
  })

  it('caches in front of a load balancer of the same tenant', async () => {
    const tenant = uniqueTenant('cdnlb')
    const token = await tokenFor(tenant, ['admin'])
    const origin = await startOrigin('behind-lb')
    await call('/v1/lb/pools/app', {
      method: 'PUT',
      token,
      body: { origins: [{ name: 'a', url: origin.url }] },
    })
    await call('/v1/lb/balancers/app', { method: 'PUT', token, body: { pools: ['app'] } })
    expect(
      (
        await call('/v1/cdn/sites/front', {
          method: 'PUT',
          token,
          body: { originBalancer: 'app', cacheEverything: true },
        })
      ).status,
    ).toBe(201)
    for (let i = 0; i < 3; i++) {
      const response = await call<{ origin: string }>('/v1/cdn/sites/front/fetch/page', { token })
      expect(response.body.origin).toBe('behind-lb')
    }
    expect((await origin.stats()).byPath['/page']).toBe(1)
  })

  it('counts hits, misses, bytes and top keys', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    const sizes: number[] = []
    for (let i = 0; i < 4; i++) sizes.push((await (await cdn.get('/popular')).arrayBuffer()).byteLength)
    const rare = (await (await cdn.get('/rare')).arrayBuffer()).byteLength
    await cdn.origin.down()
    await (await cdn.get('/down')).text()
    let stats = (await call<Record<string, unknown>>(`/v1/cdn/sites/${cdn.site}/stats`, { token: cdn.token }))
      .body
    while ((stats.requests as number) < 6) {
      await scheduler.wait(10)
      stats = (await call<Record<string, unknown>>(`/v1/cdn/sites/${cdn.site}/stats`, { token: cdn.token }))
        .body
    }
    expect(stats).toMatchObject({
      requests: 6,
      hits: 3,
      misses: 3,
      hitRatio: 0.5,
      originRequests: 3,
      originErrors: 1,
    })
    const popular = sizes[0] as number
    expect(new Set(sizes)).toEqual(new Set([popular]))
    expect(stats.bytesFromCache).toBe(3 * popular)
    expect(stats.bytesFromOrigin).toBe(popular + rare)
    expect(await cdn.originCount('/popular')).toBe(1)
    expect((stats.topKeys as Array<{ key: string; requests: number }>)[0]).toEqual({
      key: 'edge.test/popular',
      requests: 4,
    })
  })
})

describe('hostname routing and isolation', () => {
  it('serves <site>.cdn.edgeblocks.internal through hostTarget; Authorization responses are stored only when public', async () => {
    const cdn = await cdnClient()
    const serve = BLOCKS.find((b) => b.hostTarget?.kind === 'cdn')?.hostTarget?.serve
    const get = async (path: string) => {
      const ctx = createExecutionContext()
      const response = (await serve?.(
        new Request(`https://shop.example${path}`, { headers: { authorization: 'Basic dTpw' } }),
        env,
        ctx,
        {
          tenant: cdn.tenant,
          name: cdn.site,
        },
      )) as Response
      await response.text()
      await waitOnExecutionContext(ctx)
      return response
    }
    const privatePath = `/auth${q({ 'cache-control': 'max-age=60' })}`
    const publicPath = `/pub${q({ 'cache-control': 'public, max-age=60' })}`
    // RFC 9111 §3.5: public, s-maxage and must-revalidate let a shared cache store it.
    const sMaxAgePath = `/smax${q({ 'cache-control': 's-maxage=60' })}`
    const revalidatePath = `/mrv${q({ 'cache-control': 'max-age=60, must-revalidate' })}`
    for (let i = 0; i < 2; i++) {
      for (const path of [privatePath, publicPath, sMaxAgePath, revalidatePath]) await get(path)
    }
    expect(await cdn.originCount('/auth')).toBe(2)
    expect(await cdn.originCount('/pub')).toBe(1)
    expect(await cdn.originCount('/smax')).toBe(1)
    expect(await cdn.originCount('/mrv')).toBe(1)
    expect(cacheStatusOf(await get(publicPath)).key).toBe(
      'shop.example/pub?h-cache-control=public%2C+max-age%3D60',
    )
    const missing = await serve?.(new Request('https://x.example/'), env, createExecutionContext(), {
      tenant: cdn.tenant,
      name: 'none',
    })
    expect(missing?.status).toBe(404)
  })

  it('keeps tenants apart', async () => {
    const [a, b] = [await cdnClient({ cacheEverything: true }), await cdnClient({ cacheEverything: true })]
    await (await a.get('/same')).text()
    const other = await b.get('/same')
    expect(cacheStatusOf(other).hit).toBeUndefined()
    expect(((await other.json()) as { origin: string }).origin).toBe(b.origin.name)
    expect(
      (await call(`/v1/cdn/sites/${a.site}/stats`, { token: await tokenFor('cdn-nobody', ['cdn:read']) }))
        .status,
    ).toBe(404)
    // A load balancer of another tenant is not an origin: it does not exist for this one.
    await call('/v1/lb/pools/only-a', {
      method: 'PUT',
      token: a.token,
      body: { origins: [{ name: 'x', url: a.origin.url }] },
    })
    const lb = await call('/v1/lb/balancers/only-a', {
      method: 'PUT',
      token: a.token,
      body: { pools: ['only-a'] },
    })
    expect(lb.status).toBe(201)
    const borrowed = await call('/v1/cdn/sites/borrow', {
      method: 'PUT',
      token: b.token,
      body: { originBalancer: 'only-a' },
    })
    expect(borrowed.status).toBe(400)
    await b.purge({ everything: true })
    const still = await a.get('/same')
    expect(cacheStatusOf(still).hit).toBe(true)
    await still.text()
  })
})

// RFC 9111 rules through a site, each asserting what reached the counting origin and what the client got:
// lifetimes (s-maxage, Expires, heuristic), Age, no-cache, must-revalidate, request no-store, 304 refreshing
// stored headers, Last-Modified revalidation, stale-if-error on a 5xx, 504, and the cache key rules.
import { describe, expect, it } from 'vitest'
import { cacheStatusOf, cdnClient, q } from './support'

const json = async (r: Response) => (await r.json()) as { count: number; headers: Record<string, string> }
const second = (ms: number) => Math.floor(ms / 1000) * 1000
const httpDate = (ms: number) => new Date(ms).toUTCString()

describe('freshness lifetime through a site', () => {
  // The origin's Date a minute ahead: no apparent age, so the first answer's ttl is the lifetime itself.
  const D = second(Date.now()) + 60_000
  const cases: Array<[string, Record<string, string>, string]> = [
    ['s-maxage over max-age', { 'cache-control': 'max-age=10, s-maxage=70' }, '70'],
    [
      'max-age over Expires',
      { 'cache-control': 'max-age=40', date: httpDate(D), expires: httpDate(D + 9e6) },
      '40',
    ],
    ['Expires − Date', { date: httpDate(D), expires: httpDate(D + 90_000) }, '90'],
    [
      '10% of Date − Last-Modified (heuristic)',
      { date: httpDate(D), 'last-modified': httpDate(D - 1e6) },
      '100',
    ],
  ]
  for (const [what, headers, ttl] of cases) {
    it(`stores for ${what}: one origin request, then hits`, async () => {
      const cdn = await cdnClient()
      const path = `/life${q(headers)}`
      const first = await cdn.get(path)
      expect(cacheStatusOf(first)).toMatchObject({ fwd: 'uri-miss', stored: true, ttl })
      const body = await first.text()
      const again = await cdn.get(path)
      expect(cacheStatusOf(again).hit).toBe(true)
      expect(await again.text()).toBe(body)
      expect(await cdn.originCount('/life')).toBe(1)
    })
  }

  it("adds the origin's Age to the stored response's age", async () => {
    const cdn = await cdnClient()
    const path = `/aged${q({ 'cache-control': 'max-age=600', age: '100' })}`
    const first = await cdn.get(path)
    expect(Number(first.headers.get('age'))).toBeGreaterThanOrEqual(100)
    expect(Number(cacheStatusOf(first).ttl)).toBeLessThanOrEqual(500)
    await first.text()
    const hit = await cdn.get(path)
    expect(cacheStatusOf(hit).hit).toBe(true)
    expect(Number(hit.headers.get('age'))).toBeGreaterThanOrEqual(100)
    await hit.text()
    expect(await cdn.originCount('/aged')).toBe(1)
  })
})

describe('directives that force the origin', () => {
  it('revalidates a no-cache response on every request, and serves the stored body on 304', async () => {
    const cdn = await cdnClient()
    const path = `/nc${q({ 'cache-control': 'no-cache' }, { etag: '"n1"' })}`
    const first = await json(await cdn.get(path))
    for (let i = 0; i < 2; i++) {
      const response = await cdn.get(path)
      expect(cacheStatusOf(response)).toMatchObject({ fwd: 'stale', 'fwd-status': '304' })
      expect((await json(response)).count).toBe(first.count)
    }
    const stats = await cdn.origin.stats()
    expect(stats.byPath['/nc']).toBe(3)
    expect(stats.lastHeaders['if-none-match']).toBe('"n1"')
  })

  it('forwards a fresh response when the request says no-cache (fwd=request)', async () => {
    const cdn = await cdnClient()
    const path = `/rq${q({ 'cache-control': 'max-age=600' }, { etag: '"r1"' })}`
    await (await cdn.get(path)).text()
    const forced = await cdn.get(path, { headers: { 'cache-control': 'no-cache' } })
    expect(cacheStatusOf(forced)).toMatchObject({ fwd: 'request', 'fwd-status': '304' })
    await forced.text()
    expect(await cdn.originCount('/rq')).toBe(2)
  })

  it('never serves a stale must-revalidate response when the origin is down: 502 problem', async () => {
    const cdn = await cdnClient()
    const path = `/mr${q({ 'cache-control': 'max-age=60, must-revalidate, stale-if-error=600', age: '100' })}`
    await (await cdn.get(path)).text()
    await cdn.origin.down()
    const failed = await cdn.get(path)
    expect(failed.status).toBe(502)
    expect(failed.headers.get('content-type')).toBe('application/problem+json')
    expect(cacheStatusOf(failed)).toMatchObject({ fwd: 'stale' })
    await failed.text()
  })

  it('does not store a response to a request that says no-store', async () => {
    const cdn = await cdnClient()
    const path = `/rns${q({ 'cache-control': 'max-age=600' })}`
    const refused = await cdn.get(path, { headers: { 'cache-control': 'no-store' } })
    expect(cacheStatusOf(refused)).toMatchObject({ fwd: 'uri-miss', 'fwd-status': '200' })
    expect(cacheStatusOf(refused).stored).toBeUndefined()
    await refused.text()
    const next = await cdn.get(path)
    expect(cacheStatusOf(next)).toMatchObject({ fwd: 'uri-miss', stored: true })
    await next.text()
    expect(await cdn.originCount('/rns')).toBe(2)
  })
})

describe('revalidation', () => {
  it('refreshes the stored headers from a 304 and keeps the stored body (RFC 9111 §4.3.4)', async () => {
    // The origin shapes its answer by query; these parameters stay out of the key, so both requests share it.
    const cdn = await cdnClient({
      cacheKey: { query: 'exclude', queryParams: ['h-cache-control', 'h-x-version', 'h-date'] },
    })
    const v1 = `/fresh${q({ 'cache-control': 'max-age=0', 'x-version': '1' }, { etag: '"e"' })}`
    // The 304's Date a minute ahead: no apparent age, so the refreshed ttl is exactly 600.
    const date = httpDate(second(Date.now()) + 60_000)
    const v2 = `/fresh${q({ 'cache-control': 'max-age=600', 'x-version': '2', date }, { etag: '"e"' })}`
    const first = await cdn.get(v1)
    expect(first.headers.get('x-version')).toBe('1')
    const body = await first.text()
    const revalidated = await cdn.get(v2)
    expect(cacheStatusOf(revalidated)).toMatchObject({ fwd: 'stale', 'fwd-status': '304', ttl: '600' })
    expect(revalidated.headers.get('x-version')).toBe('2')
    expect(revalidated.headers.get('cache-control')).toBe('max-age=600')
    expect(await revalidated.text()).toBe(body)
    const hit = await cdn.get(v1)
    expect(cacheStatusOf(hit).hit).toBe(true)
    expect(hit.headers.get('x-version')).toBe('2')
    expect(await hit.text()).toBe(body)
    const stats = await cdn.origin.stats()
    expect(stats.byPath['/fresh']).toBe(2)
    expect(stats.lastHeaders['if-none-match']).toBe('"e"')
  })

  it('revalidates with If-Modified-Since when the response has only Last-Modified', async () => {
    const cdn = await cdnClient()
    const lm = httpDate(second(Date.now()) - 3_600_000)
    const path = `/lm${q({ 'cache-control': 'max-age=0' }, { lm })}`
    const first = await json(await cdn.get(path))
    const again = await cdn.get(path)
    expect(cacheStatusOf(again)).toMatchObject({ fwd: 'stale', 'fwd-status': '304' })
    expect((await json(again)).count).toBe(first.count)
    const stats = await cdn.origin.stats()
    expect(stats.byPath['/lm']).toBe(2)
    expect(stats.lastHeaders['if-modified-since']).toBe(lm)
  })
})

describe('origin failures', () => {
  it('serves stale within stale-if-error when the origin answers 500, else passes the 500 on', async () => {
    const cdn = await cdnClient({ cacheKey: { query: 'exclude', queryParams: ['status'] } })
    const sie = `/e5${q({ 'cache-control': 'max-age=60, stale-if-error=600', age: '100' })}`
    const body = await (await cdn.get(sie)).text()
    const stale = await cdn.get(`${sie}&status=500`)
    expect(stale.status).toBe(200)
    expect(cacheStatusOf(stale)).toMatchObject({
      hit: true,
      fwd: 'stale',
      'fwd-status': '500',
      detail: 'stale-if-error',
    })
    expect(await stale.text()).toBe(body)
    const plain = `/p5${q({ 'cache-control': 'max-age=60', age: '100' })}`
    await (await cdn.get(plain)).text()
    const passed = await cdn.get(`${plain}&status=500`)
    expect(passed.status).toBe(500)
    expect(cacheStatusOf(passed)).toMatchObject({ fwd: 'stale', 'fwd-status': '500' })
    expect(((await passed.json()) as { count: number }).count).toBe(2)
    expect([await cdn.originCount('/e5'), await cdn.originCount('/p5')]).toEqual([2, 2])
  })

  it('answers 504 (problem) when the origin does not answer within originTimeoutMs', async () => {
    const cdn = await cdnClient({ originTimeoutMs: 200 })
    const response = await cdn.get(`/slow${q({ 'cache-control': 'max-age=60' }, { delay: '3000' })}`)
    expect(response.status).toBe(504)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(((await response.json()) as { type: string }).type).toBe('urn:edgeblocks:problem:timeout')
    expect(cacheStatusOf(response)).toMatchObject({ fwd: 'uri-miss', detail: 'origin error' })
    expect(await cdn.originCount('/slow')).toBe(1)
  })
})

describe('cache key rules', () => {
  async function originRequests(settings: Record<string, unknown>, requests: Array<[string, RequestInit?]>) {
    const cdn = await cdnClient({ cacheEverything: true, ...settings })
    for (const [path, init] of requests) await (await cdn.get(path, init)).text()
    return cdn.originCount('/k')
  }

  it('query include keeps only the listed parameters', async () => {
    expect(
      await originRequests({ cacheKey: { query: 'include', queryParams: ['v'] } }, [
        ['/k?v=1&x=1'],
        ['/k?x=2&v=1'],
        ['/k?v=2'],
      ]),
    ).toBe(2)
  })

  it('query none drops the query', async () => {
    expect(await originRequests({ cacheKey: { query: 'none' } }, [['/k?a=1'], ['/k?b=2'], ['/k']])).toBe(1)
  })

  it('sortQuery false keeps the order in the key', async () => {
    expect(
      await originRequests({ cacheKey: { sortQuery: false } }, [
        ['/k?a=1&b=2'],
        ['/k?b=2&a=1'],
        ['/k?a=1&b=2'],
      ]),
    ).toBe(2)
    expect(await originRequests({}, [['/k?a=1&b=2'], ['/k?b=2&a=1']])).toBe(1)
  })

  it('a listed cookie is part of the key, other cookies are not', async () => {
    const cookie = (value: string) => ({ headers: { cookie: value } })
    expect(
      await originRequests({ cacheKey: { cookies: ['ab'] } }, [
        ['/k', cookie('ab=1; other=x')],
        ['/k', cookie('other=y; ab=1')],
        ['/k', cookie('ab=2')],
        ['/k'],
      ]),
    ).toBe(3)
  })
})

describe('unsafe methods (RFC 9111 §4.4)', () => {
  it('invalidate their URL and a same-host Location when they succeed, nothing when they fail', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    const hit = async (path: string) => {
      const response = await cdn.get(path)
      await response.text()
      return cacheStatusOf(response).hit === true
    }
    for (const path of ['/doc', '/list', '/other']) await (await cdn.get(path)).text()
    const failed = await cdn.get('/doc?status=500', { method: 'DELETE' })
    expect(failed.status).toBe(500)
    expect(cacheStatusOf(failed)).toMatchObject({ fwd: 'bypass', 'fwd-status': '500' })
    await failed.text()
    expect(await hit('/doc')).toBe(true)
    const location = `h-location=${encodeURIComponent('/other')}`
    const created = await cdn.get(`/list?status=201&${location}`, { method: 'POST', body: 'x' })
    expect(created.status).toBe(201)
    expect(((await created.json()) as { bodyBytes: number }).bodyBytes).toBe(1)
    expect([await hit('/list'), await hit('/other'), await hit('/doc')]).toEqual([false, false, true])
    expect([
      await cdn.originCount('/doc'),
      await cdn.originCount('/list'),
      await cdn.originCount('/other'),
    ]).toEqual([2, 3, 2])
  })
})

// RFC 9111 behaviour through a site, against a counting node:http origin: what reached the origin and what the client got.
import { describe, expect, it } from 'vitest'
import { openGate } from '../lb/support'
import { cacheStatusOf, cdnClient, q } from './support'

const json = async (r: Response) => (await r.json()) as { count: number; headers: Record<string, string> }

describe('freshness and storage', () => {
  it('stores a max-age response: miss then hit, with Age, Cache-Status and one origin request', async () => {
    const cdn = await cdnClient()
    // The origin's Date a minute ahead: no apparent age however slow the machine, so ttl is exactly 60.
    const date = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000).toUTCString()
    const path = `/a${q({ 'cache-control': 'max-age=60', date })}`
    const first = await cdn.get(path)
    expect(first.status).toBe(200)
    expect(cacheStatusOf(first)).toMatchObject({
      fwd: 'uri-miss',
      'fwd-status': '200',
      stored: true,
      ttl: '60',
    })
    const body = await first.text()
    const second = await cdn.get(path)
    expect(cacheStatusOf(second)).toMatchObject({ hit: true })
    expect(Number(cacheStatusOf(second).ttl)).toBeLessThanOrEqual(60)
    expect(second.headers.get('age')).toMatch(/^\d+$/)
    expect(await second.text()).toBe(body)
    expect(await cdn.originCount('/a')).toBe(1)
  })

  const notStored: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['no-store', { 'cache-control': 'no-store, max-age=60' }, {}],
    ['private', { 'cache-control': 'private, max-age=60' }, {}],
    ['Vary: *', { 'cache-control': 'max-age=60', vary: '*' }, {}],
    ['no freshness information', {}, {}],
    [
      'a targeted no-store over Cache-Control',
      {
        'cache-control': 'max-age=60',
        'edgeblocks-cdn-cache-control': 'no-store',
        'cdn-cache-control': 'max-age=60',
      },
      {},
    ],
  ]
  for (const [what, headers, requestHeaders] of notStored) {
    it(`does not store ${what}`, async () => {
      const cdn = await cdnClient()
      const path = `/n${q(headers)}`
      for (let i = 0; i < 2; i++) {
        const response = await cdn.get(path, { headers: requestHeaders })
        expect(response.status).toBe(200)
        expect(cacheStatusOf(response).stored).toBeUndefined()
        await response.text()
      }
      expect(await cdn.originCount('/n')).toBe(2)
    })
  }

  it('stores what CDN-Cache-Control allows although Cache-Control forbids (RFC 9213)', async () => {
    const cdn = await cdnClient()
    const targeted = `/t${q({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' })}`
    for (let i = 0; i < 2; i++) await (await cdn.get(targeted)).text()
    expect(await cdn.originCount('/t')).toBe(1)
  })

  it('caches responses without freshness for the default TTL when the site caches everything', async () => {
    const cdn = await cdnClient({ cacheEverything: true, defaultTtlSeconds: 120 })
    // The origin's Date a minute ahead, so no apparent age: ttl is exactly the default.
    const path = `/plain${q({ date: new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000).toUTCString() })}`
    const first = await cdn.get(path)
    expect(cacheStatusOf(first)).toMatchObject({ stored: true, ttl: '120' })
    await first.text()
    await (await cdn.get(path)).text()
    expect(await cdn.originCount('/plain')).toBe(1)
  })

  it('keeps a variant per Vary secondary key', async () => {
    const cdn = await cdnClient()
    const path = `/v${q({ 'cache-control': 'max-age=60', vary: 'Accept-Language' })}`
    const en = await cdn.get(path, { headers: { 'accept-language': 'en' } })
    expect(cacheStatusOf(en).fwd).toBe('uri-miss')
    const fr = await cdn.get(path, { headers: { 'accept-language': 'fr' } })
    expect(cacheStatusOf(fr).fwd).toBe('vary-miss')
    expect((await json(en)).headers['accept-language']).toBe('en')
    expect((await json(fr)).headers['accept-language']).toBe('fr')
    for (const lang of ['en', 'fr']) {
      const again = await cdn.get(path, { headers: { 'accept-language': lang } })
      expect(cacheStatusOf(again).hit).toBe(true)
      expect((await json(again)).headers['accept-language']).toBe(lang)
    }
    expect(await cdn.originCount('/v')).toBe(2)
  })
})

describe('validation and staleness', () => {
  it('revalidates a stale response with If-None-Match; the 304 refreshes it', async () => {
    const cdn = await cdnClient()
    const path = `/r${q({ 'cache-control': 'max-age=0' }, { etag: '"v1"' })}`
    const first = await json(await cdn.get(path))
    const second = await cdn.get(path)
    expect(cacheStatusOf(second)).toMatchObject({ fwd: 'stale', 'fwd-status': '304' })
    expect((await json(second)).count).toBe(first.count)
    const stats = await cdn.origin.stats()
    expect(stats.byPath['/r']).toBe(2)
    expect(stats.lastHeaders['if-none-match']).toBe('"v1"')
  })

  it('answers a client conditional request with 304 from the cache', async () => {
    const cdn = await cdnClient()
    const path = `/c${q({ 'cache-control': 'max-age=60' }, { etag: '"abc"' })}`
    await (await cdn.get(path)).text()
    const conditional = await cdn.get(path, { headers: { 'if-none-match': '"abc"' } })
    expect(conditional.status).toBe(304)
    expect(await cdn.originCount('/c')).toBe(1)
  })

  it('serves stale while revalidating in the background (RFC 5861): the stale answer completes while the refresh is held', async () => {
    // The origin shapes its answer by query; `gate` and `h-age` stay out of the key.
    const cdn = await cdnClient({ cacheKey: { query: 'exclude', queryParams: ['gate', 'h-age'] } })
    const size = 2 * 1024 * 1024
    const cc = { 'cache-control': 'max-age=60, stale-while-revalidate=600' }
    // Age 100 > max-age 60: stale from the start, within stale-while-revalidate.
    const stalePath = `/bytes/${size}${q({ ...cc, age: '100' })}`
    const first = await cdn.get(stalePath)
    expect(cacheStatusOf(first)).toMatchObject({ fwd: 'uri-miss', stored: true })
    await first.arrayBuffer()
    // The refresh's origin response stops after its first MiB until the gate opens: were the
    // refresh in the foreground, this stale answer could not complete.
    const gate = crypto.randomUUID()
    const stale = await cdn.get(`/bytes/${size}${q(cc, { gate })}`)
    expect(cacheStatusOf(stale)).toMatchObject({ hit: true, detail: 'stale-while-revalidate' })
    expect(Number(cacheStatusOf(stale).ttl)).toBeLessThan(0)
    expect((await stale.arrayBuffer()).byteLength).toBe(size)
    while ((await cdn.originCount(`/bytes/${size}`)) < 2) await scheduler.wait(10)
    await openGate(gate)
    // Once the refresh is stored (no Age this time), requests are fresh hits again.
    for (let fresh = false; !fresh; ) {
      const response = await cdn.get(stalePath)
      await response.arrayBuffer()
      fresh =
        cacheStatusOf(response).hit === true && cacheStatusOf(response).detail !== 'stale-while-revalidate'
    }
    expect(await cdn.originCount(`/bytes/${size}`)).toBe(2)
  })

  it('serves stale when the origin is down within stale-if-error, else a 502 problem', async () => {
    const cdn = await cdnClient()
    const sie = `/sie${q({ 'cache-control': 'max-age=60, stale-if-error=600', age: '100' })}`
    const plain = `/plain${q({ 'cache-control': 'max-age=60', age: '100' })}`
    const body = await (await cdn.get(sie)).text()
    await (await cdn.get(plain)).text()
    await cdn.origin.down()
    const stale = await cdn.get(sie)
    expect(stale.status).toBe(200)
    expect(cacheStatusOf(stale)).toMatchObject({
      hit: true,
      fwd: 'stale',
      'fwd-status': '502',
      detail: 'stale-if-error',
    })
    expect(await stale.text()).toBe(body)
    const failed = await cdn.get(plain)
    expect(failed.status).toBe(502)
    expect(failed.headers.get('content-type')).toBe('application/problem+json')
    expect(cacheStatusOf(failed).fwd).toBe('stale')
    await failed.text()
  })

  it('invalidates on a successful unsafe method, and answers HEAD from a stored GET', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    await (await cdn.get('/doc')).text()
    const head = await cdn.get('/doc', { method: 'HEAD' })
    expect(cacheStatusOf(head).hit).toBe(true)
    expect(await head.text()).toBe('')
    expect(await cdn.originCount('/doc')).toBe(1)
    const post = await cdn.get('/doc', { method: 'POST', body: 'change' })
    expect(cacheStatusOf(post).fwd).toBe('bypass')
    expect(((await post.json()) as { method: string }).method).toBe('POST')
    const after = await cdn.get('/doc')
    expect(cacheStatusOf(after).hit).toBeUndefined()
    await after.text()
    expect(await cdn.originCount('/doc')).toBe(3)
  })
})

describe('HEAD', () => {
  it('fills a cold key with a GET, answers the HEAD without a body, and a later GET from the cache', async () => {
    const cdn = await cdnClient()
    const path = `/cold-head${q({ 'cache-control': 'max-age=60' })}`
    const head = await cdn.get(path, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(cacheStatusOf(head)).toMatchObject({ fwd: 'uri-miss', stored: true })
    expect(await head.text()).toBe('')
    const get = await cdn.get(path)
    expect(cacheStatusOf(get).hit).toBe(true)
    expect(((await get.json()) as { method: string }).method).toBe('GET')
    expect(await cdn.originCount('/cold-head')).toBe(1)
  })
})

describe('origin answers', () => {
  it("gives the origin's Set-Cookie to the request that reached it, and never stores it", async () => {
    const cdn = await cdnClient()
    const path = `/login${q({ 'cache-control': 'max-age=60', 'set-cookie': 'session=abc' })}`
    const first = await cdn.get(path)
    expect(cacheStatusOf(first)).toMatchObject({ fwd: 'uri-miss', stored: true })
    expect(first.headers.get('set-cookie')).toBe('session=abc')
    await first.text()
    const second = await cdn.get(path)
    expect(cacheStatusOf(second).hit).toBe(true)
    expect(second.headers.get('set-cookie')).toBeNull()
    await second.text()
    expect(await cdn.originCount('/login')).toBe(1)
  })

  it('stores a 204 and serves it from the shield without a body (never copied to the edge tier)', async () => {
    const cdn = await cdnClient()
    const path = `/empty${q({ 'cache-control': 'max-age=60' }, { status: '204' })}`
    for (let i = 0; i < 5; i++) {
      const response = await cdn.get(path)
      expect(response.status).toBe(204)
      expect(await response.text()).toBe('')
      if (i > 0) expect(cacheStatusOf(response)).toMatchObject({ hit: true })
      expect(cacheStatusOf(response).detail).toBeUndefined()
    }
    expect(await cdn.originCount('/empty')).toBe(1)
  })

  it('answers 502 for an origin status no HTTP response can carry (999)', async () => {
    const cdn = await cdnClient()
    const response = await cdn.get('/odd?status=999')
    expect(response.status).toBe(502)
    expect(((await response.json()) as { detail: string }).detail).toContain('status 999')
  })
})

describe('collapsing', () => {
  it('makes one origin request for 200 concurrent misses of a key', async () => {
    const cdn = await cdnClient()
    const path = `/hot${q({ 'cache-control': 'max-age=60' }, { delay: '300' })}`
    const responses = await Promise.all(Array.from({ length: 200 }, () => cdn.get(path)))
    const bodies = await Promise.all(responses.map((r) => r.text()))
    expect(responses.every((r) => r.status === 200)).toBe(true)
    expect(new Set(bodies).size).toBe(1)
    expect(await cdn.originCount('/hot')).toBe(1)
    // Which of the other 199 arrived while the fill ran (collapsed) and which after it was
    // stored (hits) depends on timing; that exactly one went to the origin does not.
    const statuses = responses.map(cacheStatusOf)
    const initiators = statuses.filter((s) => s.fwd === 'uri-miss' && s.detail === undefined)
    const collapsed = statuses.filter((s) => s.fwd === 'uri-miss' && s.detail === 'collapsed')
    const hits = statuses.filter((s) => s.hit === true)
    expect(initiators).toHaveLength(1)
    expect(initiators[0]?.stored).toBe(true)
    expect(collapsed.length + hits.length).toBe(199)
  })
})

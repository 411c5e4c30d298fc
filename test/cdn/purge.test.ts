// Purges (URL, prefix, tag, host, everything; soft and hard) reach the shield when the call returns; bad purges change nothing.
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../workers/platform/encoding'
import { cacheStatusOf, cdnClient, q } from './support'

const cached = (tags = '') =>
  q({ 'cache-control': 'max-age=600, stale-while-revalidate=600', ...(tags ? { 'cache-tag': tags } : {}) })

async function warm(cdn: Awaited<ReturnType<typeof cdnClient>>, paths: string[]) {
  for (const path of paths) await (await cdn.get(path)).text()
  for (const path of paths) {
    const again = await cdn.get(path)
    expect(cacheStatusOf(again).hit).toBe(true)
    await again.text()
  }
}

async function hit(cdn: Awaited<ReturnType<typeof cdnClient>>, path: string): Promise<boolean> {
  const response = await cdn.get(path)
  await response.text()
  return cacheStatusOf(response).hit === true
}

describe('purge', () => {
  it('by tag (Cache-Tag and Surrogate-Key) removes exactly the tagged responses', async () => {
    const cdn = await cdnClient()
    const a = `/p/a${cached('product-1,list')}`
    const b = `/p/b${cached('product-2')}`
    const c = `/p/c${q({ 'cache-control': 'max-age=600', 'surrogate-key': 'list other' })}`
    await warm(cdn, [a, b, c])
    const purged = await cdn.purge({ tags: ['list'] })
    expect(purged.status).toBe(200)
    expect(purged.body).toMatchObject({ soft: false })
    expect(await hit(cdn, a)).toBe(false)
    expect(await hit(cdn, c)).toBe(false)
    expect(await hit(cdn, b)).toBe(true)
    expect(await cdn.originCount('/p/a')).toBe(2)
    expect(await cdn.originCount('/p/b')).toBe(1)
  })

  it('by URL, by prefix, by host and everything', async () => {
    const cdn = await cdnClient()
    const paths = [`/img/1${cached()}`, `/img/2${cached()}`, `/css/site${cached()}`]
    await warm(cdn, paths)
    await cdn.purge({ urls: ['http://edge.test/img/1'] })
    expect([await hit(cdn, paths[0] as string), await hit(cdn, paths[1] as string)]).toEqual([false, true])
    await cdn.purge({ prefixes: ['/img/'] })
    expect([await hit(cdn, paths[1] as string), await hit(cdn, paths[2] as string)]).toEqual([false, true])
    await cdn.purge({ hosts: ['other.example'] })
    expect(await hit(cdn, paths[2] as string)).toBe(true)
    await cdn.purge({ hosts: ['EDGE.test'] })
    expect(await hit(cdn, paths[2] as string)).toBe(false)
    await cdn.purge({ everything: true })
    for (const path of paths) expect(await hit(cdn, path)).toBe(false)
    // Each purge cost exactly one new origin request per purged response, nothing for the others.
    expect([
      await cdn.originCount('/img/1'),
      await cdn.originCount('/img/2'),
      await cdn.originCount('/css/site'),
    ]).toEqual([3, 3, 3])
  })

  it('soft purge keeps stale-if-error serving when the origin is down; hard purge leaves a 502', async () => {
    const cdn = await cdnClient()
    const sie = (tag: string) => q({ 'cache-control': 'max-age=600, stale-if-error=600', 'cache-tag': tag })
    const [soft, hard] = [`/sie-soft${sie('s')}`, `/sie-hard${sie('h')}`]
    await warm(cdn, [soft, hard])
    const body = await (await cdn.get(soft)).text()
    await cdn.purge({ tags: ['s'], soft: true })
    await cdn.purge({ tags: ['h'] })
    await cdn.origin.down()
    const stale = await cdn.get(soft)
    expect(stale.status).toBe(200)
    expect(cacheStatusOf(stale)).toMatchObject({ hit: true, fwd: 'stale', detail: 'stale-if-error' })
    expect(await stale.text()).toBe(body)
    const gone = await cdn.get(hard)
    expect(gone.status).toBe(502)
    expect(cacheStatusOf(gone)).toMatchObject({ fwd: 'miss' })
    await gone.text()
    expect([await cdn.originCount('/sie-soft'), await cdn.originCount('/sie-hard')]).toEqual([1, 1])
  })

  it('soft purge marks stale: served while revalidating, then fresh again', async () => {
    const cdn = await cdnClient()
    const path = `/soft${cached('news')}`
    await warm(cdn, [path])
    const result = await cdn.purge({ tags: ['news'], soft: true })
    expect(result.body).toMatchObject({ soft: true })
    const stale = await cdn.get(path)
    expect(cacheStatusOf(stale)).toMatchObject({ hit: true, detail: 'stale-while-revalidate' })
    await stale.text()
    while ((await cdn.originCount('/soft')) < 2) await scheduler.wait(10)
    let refreshed = false
    while (!refreshed) {
      const response = await cdn.get(path)
      await response.text()
      refreshed =
        cacheStatusOf(response).detail !== 'stale-while-revalidate' && cacheStatusOf(response).hit === true
    }
    expect(await cdn.originCount('/soft')).toBe(2)
  })

  it('reaches the edge tier: an edge copy serves hits until a purge, then the shield and origin answer', async () => {
    const cdn = await cdnClient()
    // The origin's Date, a minute old: the edge copy keeps it (the Cache API stamps its own).
    const date = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toUTCString()
    const path = `/edge${cached('e')}&h-date=${encodeURIComponent(date)}`
    await warm(cdn, [path])
    let fromEdge: Response | undefined
    for (let i = 0; i < 50 && !fromEdge; i++) {
      const response = await cdn.get(path)
      if (cacheStatusOf(response).detail === 'edge') fromEdge = response
      else await response.text()
    }
    expect(Number(fromEdge?.headers.get('age'))).toBeGreaterThanOrEqual(60)
    expect(fromEdge?.headers.get('date')).toBe(date)
    expect(fromEdge?.headers.get('cache-control')).toBe('max-age=600, stale-while-revalidate=600')
    expect(((await (fromEdge as Response).json()) as { count: number }).count).toBe(1)
    await cdn.purge({ tags: ['e'] })
    const after = await cdn.get(path)
    expect(cacheStatusOf(after)).toMatchObject({ fwd: 'miss', stored: true })
    await after.text()
    expect(await cdn.originCount('/edge')).toBe(2)
  })

  it('answers from the shield when the edge tier is cold: no origin request', async () => {
    const cdn = await cdnClient()
    const path = `/cold${cached()}`
    await warm(cdn, [path])
    let key = ''
    for (let i = 0; i < 50 && !key; i++) {
      const response = await cdn.get(path)
      await response.text()
      if (cacheStatusOf(response).detail === 'edge') key = String(cacheStatusOf(response).key)
    }
    expect(key).not.toBe('')
    // This location's edge copy disappears (evicted, or another location): the shield answers.
    const edgeUrl = `https://edge-cache.edgeblocks.internal/${cdn.tenant}/${cdn.site}/${await sha256Hex(key)}`
    expect(await caches.default.delete(edgeUrl)).toBe(true)
    const fromShield = await cdn.get(path)
    expect(cacheStatusOf(fromShield)).toMatchObject({ hit: true })
    expect(cacheStatusOf(fromShield).detail).toBeUndefined()
    expect(((await fromShield.json()) as { count: number }).count).toBe(1)
    expect(await cdn.originCount('/cold')).toBe(1)
  })

  const bad: Array<[string, Record<string, unknown>]> = [
    ['nothing named', {}],
    ['an empty list', { tags: [] }],
    ['a relative URL', { urls: ['/x'] }],
    ['a prefix without a slash', { prefixes: ['img'] }],
    ['too many tags', { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }],
    ['an unknown field', { tags: ['a'], colour: 'red' }],
    ['everything: false', { everything: false }],
  ]
  for (const [what, body] of bad) {
    it(`refuses ${what} with 400 and purges nothing`, async () => {
      const cdn = await cdnClient()
      const path = `/keep${cached('a')}`
      await warm(cdn, [path])
      const response = await cdn.purge(body)
      expect(response.status).toBe(400)
      expect(response.body.type).toBe('urn:edgeblocks:problem:validation_failed')
      expect(await hit(cdn, path)).toBe(true)
    })
  }
})

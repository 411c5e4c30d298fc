// RFC 9111 / 5861 / 9213 / 9211 rules and Range parsing as pure functions.
import { describe, expect, it } from 'vitest'
import {
  cacheStatus,
  currentAge,
  freshenHeaders,
  freshnessLifetime,
  invalidates,
  secondaryKey,
  storable,
  usability,
} from '../../workers/cdn/freshness'
import { cacheKey, purgeEffect, responseTags } from '../../workers/cdn/keys'
import { ifRangeHolds, notModified, parseRange } from '../../workers/cdn/ranges'

const policy = { defaultTtlSeconds: 300, cacheEverything: false }
const h = (init: Record<string, string>) => new Headers(init)
const T0 = Date.parse('2026-01-01T00:00:00Z')
const date = (ms: number) => new Date(ms).toUTCString()

describe('freshness lifetime (RFC 9111 §4.2.1) and targeted fields (RFC 9213)', () => {
  it('prefers s-maxage, then max-age, then Expires − Date, then 10% of Date − Last-Modified', () => {
    expect(freshnessLifetime(200, h({ 'cache-control': 'max-age=10, s-maxage=20' }), policy)).toBe(20)
    expect(freshnessLifetime(200, h({ 'cache-control': 'max-age=10' }), policy)).toBe(10)
    expect(freshnessLifetime(200, h({ date: date(T0), expires: date(T0 + 90_000) }), policy)).toBe(90)
    expect(freshnessLifetime(200, h({ date: date(T0), expires: 'garbage' }), policy)).toBe(0)
    // Only the three HTTP-date forms count; anything else is an expiry in the past.
    expect(freshnessLifetime(200, h({ date: date(T0), expires: '2026-01-01 00:01:30 UTC' }), policy)).toBe(0)
    expect(
      freshnessLifetime(200, h({ date: date(T0), expires: 'Thu, 01 Jan 2026 0:01:30 GMT' }), policy),
    ).toBe(0)
    expect(
      freshnessLifetime(200, h({ date: date(T0), expires: 'Thursday, 01-Jan-26 00:01:30 GMT' }), policy),
    ).toBe(90)
    expect(freshnessLifetime(200, h({ date: date(T0), expires: 'Thu Jan  1 00:01:30 2026' }), policy)).toBe(
      90,
    )
    expect(freshnessLifetime(200, h({ date: date(T0), 'last-modified': date(T0 - 1_000_000) }), policy)).toBe(
      100,
    )
    expect(
      freshnessLifetime(500, h({ date: date(T0), 'last-modified': date(T0 - 1_000_000) }), policy),
    ).toBeUndefined()
    expect(freshnessLifetime(200, h({}), policy)).toBeUndefined()
    expect(freshnessLifetime(200, h({}), { ...policy, cacheEverything: true })).toBe(300)
  })

  it('lets Edgeblocks-CDN-Cache-Control, then CDN-Cache-Control, replace Cache-Control', () => {
    const headers = h({
      'cache-control': 'max-age=5',
      'cdn-cache-control': 'max-age=50',
      'edgeblocks-cdn-cache-control': 'max-age=500',
    })
    expect(freshnessLifetime(200, headers, policy)).toBe(500)
    headers.delete('edgeblocks-cdn-cache-control')
    expect(freshnessLifetime(200, headers, policy)).toBe(50)
  })
})

describe('storage rules (§3)', () => {
  const get = (headers: Record<string, string> = {}) => ({ method: 'GET', headers: h(headers) })
  it('refuses no-store, private, Authorization without permission, Vary *, non-GET, 5xx, and responses without freshness', () => {
    const fresh = { 'cache-control': 'max-age=60' }
    expect(storable(get(), { status: 200, headers: h(fresh) }, policy).store).toBe(true)
    expect(
      storable(get({ 'cache-control': 'no-store' }), { status: 200, headers: h(fresh) }, policy).reason,
    ).toBe('request no-store')
    expect(
      storable(get(), { status: 200, headers: h({ 'cache-control': 'private, max-age=60' }) }, policy).reason,
    ).toBe('private')
    expect(storable(get({ authorization: 'x' }), { status: 200, headers: h(fresh) }, policy).reason).toBe(
      'authorization',
    )
    expect(
      storable(
        get({ authorization: 'x' }),
        { status: 200, headers: h({ 'cache-control': 's-maxage=60' }) },
        policy,
      ).store,
    ).toBe(true)
    expect(storable(get(), { status: 200, headers: h({ ...fresh, vary: 'accept, *' }) }, policy).reason).toBe(
      'vary *',
    )
    expect(
      storable({ method: 'POST', headers: h({}) }, { status: 200, headers: h(fresh) }, policy).reason,
    ).toBe('method')
    expect(storable(get(), { status: 503, headers: h(fresh) }, policy).reason).toBe('status')
    expect(storable(get(), { status: 200, headers: h({}) }, policy).reason).toBe('no freshness')
    expect(storable(get(), { status: 200, headers: h({ 'cache-control': 'no-cache' }) }, policy)).toEqual({
      store: true,
      lifetime: 0,
    })
  })
})

describe('age and usability (§4.2.3, RFC 5861)', () => {
  const times = { requestTime: T0, responseTime: T0 + 1000, lifetime: 60 }
  it('computes current_age from Age, the response delay and resident time', () => {
    expect(currentAge(h({ age: '10', date: date(T0) }), times, T0 + 31_000)).toBe(41)
  })

  it('is fresh, then stale-while-revalidate, then needs revalidation; request directives tighten it', () => {
    const stored = h({
      'cache-control': 'max-age=60, stale-while-revalidate=30, stale-if-error=100',
      date: date(T0 + 1000),
    })
    expect(usability(stored, times, h({}), T0 + 30_000)).toMatchObject({ use: 'fresh', age: 30, ttl: 30 })
    expect(usability(stored, times, h({ 'cache-control': 'max-age=10' }), T0 + 30_000).use).toBe('revalidate')
    expect(usability(stored, times, h({ 'cache-control': 'min-fresh=40' }), T0 + 30_000).use).toBe(
      'revalidate',
    )
    expect(usability(stored, times, h({ 'cache-control': 'no-cache' }), T0 + 30_000).use).toBe('revalidate')
    expect(usability(stored, times, h({}), T0 + 80_000).use).toBe('stale-while-revalidate')
    expect(usability(stored, times, h({}), T0 + 100_000)).toMatchObject({
      use: 'revalidate',
      staleIfErrorUntil: 60,
    })
    expect(usability(stored, times, h({}), T0 + 30_000, true).use).toBe('stale-while-revalidate')
  })

  it('never serves stale under must-revalidate, proxy-revalidate or s-maxage', () => {
    for (const cc of ['max-age=1, must-revalidate', 'max-age=1, proxy-revalidate', 's-maxage=1']) {
      const stored = h({ 'cache-control': `${cc}, stale-while-revalidate=999, stale-if-error=999` })
      expect(usability(stored, { ...times, lifetime: 1 }, h({}), T0 + 10_000)).toMatchObject({
        use: 'revalidate',
        staleIfErrorUntil: -1,
      })
    }
  })
})

describe('validation, Vary, invalidation, Cache-Status', () => {
  it('freshens stored headers from a 304 but keeps the body framing and the fields of the stored body', () => {
    const merged = freshenHeaders(
      h({ etag: '"1"', 'content-length': '10', 'cache-control': 'max-age=1', 'content-md5': 'a' }),
      h({ 'cache-control': 'max-age=60', 'content-length': '0', etag: '"2"', 'content-md5': 'b', x: 'y' }),
    )
    expect(merged.get('cache-control')).toBe('max-age=60')
    expect(merged.get('content-length')).toBe('10')
    expect(merged.get('etag')).toBe('"1"')
    expect(merged.get('content-md5')).toBe('a')
    expect(merged.get('x')).toBe('y')
  })

  it('builds secondary keys from the Vary fields, order- and case-insensitively', () => {
    const req = h({ 'accept-language': 'en', 'accept-encoding': 'gzip' })
    expect(secondaryKey('Accept-Language, Accept-Encoding', req)).toBe(
      secondaryKey('accept-encoding,accept-language', req),
    )
    expect(secondaryKey('accept-language', req)).not.toBe(
      secondaryKey('accept-language', h({ 'accept-language': 'fr' })),
    )
  })

  it('invalidates on successful unsafe methods only', () => {
    expect(invalidates('POST', 201)).toBe(true)
    expect(invalidates('DELETE', 500)).toBe(false)
    expect(invalidates('GET', 200)).toBe(false)
  })

  it('writes RFC 9211 Cache-Status parameters', () => {
    expect(cacheStatus({ fwd: 'uri-miss', fwdStatus: 200, stored: true, ttl: 60, key: 'a"b' })).toBe(
      'edgeblocks; fwd=uri-miss; fwd-status=200; stored; ttl=60; key="a\\"b"',
    )
    expect(cacheStatus({ hit: true, ttl: -3, detail: 'stale-while-revalidate' })).toBe(
      'edgeblocks; hit; ttl=-3; detail="stale-while-revalidate"',
    )
  })
})

describe('keys, tags, purges, ranges', () => {
  it('filters and sorts the query into the key', () => {
    const rule = {
      query: 'exclude' as const,
      queryParams: ['utm'],
      sortQuery: true,
      headers: [],
      cookies: ['ab'],
    }
    const key = cacheKey(new URL('http://Shop.example/p?b=2&utm=x&a=1'), h({ cookie: 'ab=1; other=2' }), rule)
    expect(key).toBe('shop.example/p?a=1&b=2\nc:ab=1')
  })

  it('reads Cache-Tag and Surrogate-Key and applies purges recorded after storage', () => {
    expect(responseTags(h({ 'cache-tag': 'a, b', 'surrogate-key': 'b c' }))).toEqual(['a', 'b', 'c'])
    const entry = { host: 'x.example', path: '/img/1?v=2', tags: ['a'], seq: 5 }
    expect(purgeEffect([{ seq: 5, kind: 'everything', value: '', soft: false }], entry)).toBe('none')
    expect(purgeEffect([{ seq: 6, kind: 'tag', value: 'a', soft: true }], entry)).toBe('soft')
    expect(
      purgeEffect(
        [
          { seq: 6, kind: 'tag', value: 'a', soft: true },
          { seq: 7, kind: 'prefix', value: '/img/', soft: false },
        ],
        entry,
      ),
    ).toBe('hard')
    expect(purgeEffect([{ seq: 6, kind: 'url', value: 'http://x.example/img/1', soft: false }], entry)).toBe(
      'hard',
    )
    expect(purgeEffect([{ seq: 6, kind: 'host', value: 'y.example', soft: false }], entry)).toBe('none')
  })

  it('parses byte ranges against a size and checks If-Range and conditionals', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 9 }] })
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 90, end: 99 }] })
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 95, end: 99 }] })
    expect(parseRange('bytes=95-200', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 95, end: 99 }] })
    expect(parseRange('bytes=200-300', 100)).toEqual({ kind: 'unsatisfiable' })
    expect(parseRange('bytes=9-1', 100)).toEqual({ kind: 'whole' })
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'whole' })
    expect(ifRangeHolds('"a"', '"a"', null)).toBe(true)
    expect(ifRangeHolds('"a"', 'W/"a"', null)).toBe(false)
    expect(notModified(h({ 'if-none-match': 'W/"a", "b"' }), '"a"', null)).toBe(true)
    expect(notModified(h({ 'if-modified-since': date(T0) }), null, date(T0 - 1000))).toBe(true)
  })
})

/**
 * HTTP caching rules for a shared cache (RFC 9111), with RFC 5861 (stale-while-revalidate,
 * stale-if-error) and RFC 9213 (targeted fields): pure functions of headers and times.
 *
 * Guarantees:
 * - Freshness control comes from the most specific field present: `Edgeblocks-CDN-Cache-Control`,
 *   then `CDN-Cache-Control`, then `Cache-Control` (RFC 9213 §2.1: a targeted field, when
 *   present, replaces `Cache-Control` for this cache).
 * - Lifetime: `s-maxage`, else `max-age`, else `Expires − Date`, else a heuristic of 10% of
 *   `Date − Last-Modified` (at most a day) for heuristically cacheable statuses, else the
 *   site's default TTL when the site caches everything (RFC 9111 §4.2.1, §4.2.2).
 * - Not stored: `no-store` (request or response), `private`, a request with `Authorization`
 *   unless `public`, `s-maxage` or `must-revalidate` allow it (§3.5), `Vary: *`, methods
 *   other than GET, responses with neither freshness nor a heuristic (§3).
 * - Age is RFC 9111 §4.2.3's `current_age`. A stored response is used fresh while
 *   age < lifetime and the request's `max-age` / `min-fresh` allow; `no-cache` (either side)
 *   forces validation; `must-revalidate` / `proxy-revalidate` / `s-maxage` forbid serving it stale.
 * Cost: O(header length) per call.
 */

export type Directives = Map<string, string | true>

export function parseCacheControl(value: string | null | undefined): Directives {
  const directives: Directives = new Map()
  for (const part of (value ?? '').split(',')) {
    const [rawName, ...rest] = part.split('=')
    const name = rawName?.trim().toLowerCase()
    if (!name) continue
    const raw = rest.join('=').trim()
    directives.set(name, raw ? raw.replace(/^"|"$/g, '') : true)
  }
  return directives
}

/** A directive's delta-seconds, or undefined when absent or malformed. */
export function seconds(directives: Directives, name: string): number | undefined {
  const value = directives.get(name)
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined
  return Math.min(Number(value), 2 ** 31)
}

/** The field that controls this cache (RFC 9213), and whether it was a targeted one. */
export function controlling(headers: Headers): { directives: Directives; targeted: boolean } {
  for (const name of ['edgeblocks-cdn-cache-control', 'cdn-cache-control']) {
    const value = headers.get(name)
    if (value !== null) return { directives: parseCacheControl(value), targeted: true }
  }
  return { directives: parseCacheControl(headers.get('cache-control')), targeted: false }
}

const HEURISTIC_STATUSES = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])
const DAY = 86_400

const DAY_NAME = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
/** RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms; nothing else. */
const HTTP_DATE = new RegExp(
  `^(?:${DAY_NAME}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|${DAY_NAME} ${MONTH} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4})$`,
)

function httpDate(value: string | null): number | undefined {
  if (!value || !HTTP_DATE.test(value)) return undefined
  const time = Date.parse(value)
  return Number.isNaN(time) ? undefined : time
}

export interface SiteCachePolicy {
  /** Seconds for a response without explicit freshness, when `cacheEverything`. */
  defaultTtlSeconds: number
  cacheEverything: boolean
}

/** Freshness lifetime in seconds, or undefined when the response has none (not storable). */
export function freshnessLifetime(
  status: number,
  headers: Headers,
  policy: SiteCachePolicy,
): number | undefined {
  const { directives, targeted } = controlling(headers)
  const sMaxAge = seconds(directives, 's-maxage')
  if (sMaxAge !== undefined) return sMaxAge
  const maxAge = seconds(directives, 'max-age')
  if (maxAge !== undefined) return maxAge
  if (!targeted) {
    const expires = headers.get('expires')
    if (expires !== null) {
      const at = httpDate(expires)
      const date = httpDate(headers.get('date')) ?? Date.now()
      return at === undefined ? 0 : Math.max(0, Math.floor((at - date) / 1000))
    }
  }
  const lastModified = httpDate(headers.get('last-modified'))
  if (HEURISTIC_STATUSES.has(status) && lastModified !== undefined) {
    const date = httpDate(headers.get('date')) ?? lastModified
    return Math.min(DAY, Math.max(0, Math.floor((date - lastModified) / 10_000)))
  }
  if (policy.cacheEverything && HEURISTIC_STATUSES.has(status)) return policy.defaultTtlSeconds
  return undefined
}

export interface StoreDecision {
  store: boolean
  /** Why not, for Cache-Status `detail`. */
  reason?: string
  lifetime?: number
}

export function storable(
  request: { method: string; headers: Headers },
  response: { status: number; headers: Headers },
  policy: SiteCachePolicy,
): StoreDecision {
  if (request.method !== 'GET') return { store: false, reason: 'method' }
  const req = parseCacheControl(request.headers.get('cache-control'))
  if (req.has('no-store')) return { store: false, reason: 'request no-store' }
  const { directives } = controlling(response.headers)
  if (directives.has('no-store')) return { store: false, reason: 'no-store' }
  if (directives.has('private')) return { store: false, reason: 'private' }
  if ((response.headers.get('vary') ?? '').split(',').some((v) => v.trim() === '*')) {
    return { store: false, reason: 'vary *' }
  }
  if (
    request.headers.has('authorization') &&
    !(directives.has('public') || directives.has('s-maxage') || directives.has('must-revalidate'))
  ) {
    return { store: false, reason: 'authorization' }
  }
  if (
    response.status === 206 ||
    response.status === 304 ||
    (response.status >= 500 && response.status !== 501)
  ) {
    return { store: false, reason: 'status' }
  }
  const lifetime = freshnessLifetime(response.status, response.headers, policy)
  if (lifetime === undefined && !directives.has('no-cache')) return { store: false, reason: 'no freshness' }
  return { store: true, lifetime: lifetime ?? 0 }
}

/** What a stored response remembers for age and freshness. */
export interface StoredTimes {
  /** When the request that got it was sent and the response arrived (ms). */
  requestTime: number
  responseTime: number
  lifetime: number
}

/** RFC 9111 §4.2.3 current_age, in seconds. */
export function currentAge(headers: Headers, times: StoredTimes, now: number): number {
  const ageValue = Number(headers.get('age') ?? 0) || 0
  const date = httpDate(headers.get('date')) ?? times.responseTime
  const apparentAge = Math.max(0, (times.responseTime - date) / 1000)
  const responseDelay = (times.responseTime - times.requestTime) / 1000
  const correctedAgeValue = ageValue + responseDelay
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue)
  return Math.floor(correctedInitialAge + (now - times.responseTime) / 1000)
}

export type Usability =
  /** Serve it. */
  | { use: 'fresh'; age: number; ttl: number }
  /** Serve it now and refresh in the background (RFC 5861 stale-while-revalidate). */
  | { use: 'stale-while-revalidate'; age: number; ttl: number }
  /** Validate with the origin first; `staleIfError` says how long it may still serve on an origin error. */
  | { use: 'revalidate'; age: number; ttl: number; staleIfErrorUntil: number }

/** How a stored response may answer a request now (`softPurged`: marked stale by a purge). */
export function usability(
  stored: Headers,
  times: StoredTimes,
  requestHeaders: Headers,
  now: number,
  softPurged = false,
): Usability {
  const age = currentAge(stored, times, now)
  const ttl = softPurged ? Math.min(-1, times.lifetime - age) : times.lifetime - age
  const { directives } = controlling(stored)
  const req = parseCacheControl(requestHeaders.get('cache-control'))
  const noCache =
    directives.has('no-cache') || req.has('no-cache') || /no-cache/i.test(requestHeaders.get('pragma') ?? '')
  const maxAge = seconds(req, 'max-age')
  const minFresh = seconds(req, 'min-fresh') ?? 0
  const fresh = !noCache && ttl - minFresh > 0 && (maxAge === undefined || age <= maxAge)
  if (fresh) return { use: 'fresh', age, ttl }
  const mayServeStale = !(
    directives.has('must-revalidate') ||
    directives.has('proxy-revalidate') ||
    directives.has('s-maxage') ||
    noCache
  )
  const swr = seconds(directives, 'stale-while-revalidate')
  // Only a response that is really stale, and only when the request asked for nothing stricter.
  const relaxed = ttl <= 0 && maxAge === undefined && minFresh === 0
  if (mayServeStale && relaxed && swr !== undefined && -ttl <= swr)
    return { use: 'stale-while-revalidate', age, ttl }
  const sie = seconds(directives, 'stale-if-error') ?? seconds(req, 'stale-if-error')
  const staleIfErrorUntil = mayServeStale && sie !== undefined ? ttl + sie : -1
  return { use: 'revalidate', age, ttl, staleIfErrorUntil }
}

/** Headers a 304 carries that replace the stored ones (RFC 9111 §3.2, §4.3.4). */
export function freshenHeaders(stored: Headers, notModified: Headers): Headers {
  const merged = new Headers(stored)
  // The body's framing and the fields that describe the stored body itself (RFC 9111 §3.2).
  const skip = new Set([
    'content-length',
    'content-encoding',
    'transfer-encoding',
    'content-range',
    'etag',
    'content-md5',
  ])
  notModified.forEach((value, name) => {
    if (!skip.has(name)) merged.set(name, value)
  })
  return merged
}

/** The request's values of the fields the response varies on: the secondary key (RFC 9111 §4.1). */
export function secondaryKey(vary: string | null, requestHeaders: Headers): string {
  const names = (vary ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean)
    .sort()
  return names.map((n) => `${n}=${(requestHeaders.get(n) ?? '').replace(/\s+/g, ' ').trim()}`).join('\n')
}

/** Unsafe methods invalidate the stored responses of their URL when they succeed (§4.4). */
export function invalidates(method: string, status: number): boolean {
  return !['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(method) && status >= 200 && status < 400
}

/** An RFC 9211 Cache-Status entry for this cache. */
export function cacheStatus(fields: {
  hit?: boolean
  fwd?: 'miss' | 'stale' | 'uri-miss' | 'vary-miss' | 'bypass' | 'request'
  fwdStatus?: number
  stored?: boolean
  ttl?: number
  key?: string
  detail?: string
}): string {
  const parts = ['edgeblocks']
  if (fields.hit) parts.push('hit')
  if (fields.fwd) parts.push(`fwd=${fields.fwd}`)
  if (fields.fwdStatus !== undefined) parts.push(`fwd-status=${fields.fwdStatus}`)
  if (fields.stored) parts.push('stored')
  if (fields.ttl !== undefined) parts.push(`ttl=${Math.round(fields.ttl)}`)
  if (fields.key !== undefined)
    parts.push(`key="${fields.key.replaceAll('\n', ' ').replace(/["\\]/g, '\\$&')}"`)
  if (fields.detail) parts.push(`detail="${fields.detail.replace(/["\\]/g, '\\$&')}"`)
  return parts.join('; ')
}

/**
 * Cache keys and purge matching, pure.
 *
 * - `cacheKey`: host + path + the query as the site's rule keeps it (all, none, include or
 *   exclude listed parameters; sorted by default) + the listed request headers and cookies.
 *   Equal keys share stored responses; `Vary` then picks the variant (freshness.ts).
 * - `purgeEffect`: a stored response is affected by every purge recorded after it was
 *   stored whose URL, path prefix, tag, host or "everything" matches it; a hard purge wins
 *   over a soft one. O(purges since it was stored).
 */
import { parse } from 'hono/utils/cookie'
import type { CreateSiteInput } from '../../schemas/cdn'

export function cacheKey(url: URL, headers: Headers, rule: CreateSiteInput['cacheKey']): string {
  let params = [...url.searchParams]
  if (rule.query === 'none') params = []
  else if (rule.query === 'include') params = params.filter(([name]) => rule.queryParams.includes(name))
  else if (rule.query === 'exclude') params = params.filter(([name]) => !rule.queryParams.includes(name))
  if (rule.sortQuery)
    params.sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1))
  const query = params.length ? `?${new URLSearchParams(params).toString()}` : ''
  let key = `${url.host.toLowerCase()}${url.pathname}${query}`
  for (const name of rule.headers) key += `\nh:${name.toLowerCase()}=${headers.get(name) ?? ''}`
  if (rule.cookies.length) {
    const cookies = parse(headers.get('cookie') ?? '')
    for (const name of rule.cookies) key += `\nc:${name}=${cookies[name] ?? ''}`
  }
  return key
}

/** The tags a response carries: `Cache-Tag` (comma-separated) and `Surrogate-Key` (space-separated). */
export function responseTags(headers: Headers): string[] {
  const tags = [
    ...(headers.get('cache-tag') ?? '').split(','),
    ...(headers.get('surrogate-key') ?? '').split(' '),
  ]
    .map((t) => t.trim())
    .filter(Boolean)
  return [...new Set(tags)].slice(0, 64)
}

export type PurgeKind = 'url' | 'prefix' | 'tag' | 'host' | 'everything'

export interface PurgeRecord {
  seq: number
  kind: PurgeKind
  value: string
  soft: boolean
}

export interface StoredIdentity {
  host: string
  /** Path and query as stored (the key's URL part). */
  path: string
  tags: readonly string[]
  /** The purge sequence number current when it was stored. */
  seq: number
}

export function purgeMatches(purge: PurgeRecord, entry: StoredIdentity): boolean {
  switch (purge.kind) {
    case 'everything':
      return true
    case 'host':
      return entry.host === purge.value.toLowerCase()
    case 'tag':
      return entry.tags.includes(purge.value)
    case 'prefix':
      return entry.path.startsWith(purge.value)
    case 'url': {
      const url = new URL(purge.value)
      return entry.host === url.host.toLowerCase() && entry.path.split('?')[0] === url.pathname
    }
  }
}

export function purgeEffect(purges: readonly PurgeRecord[], entry: StoredIdentity): 'none' | 'soft' | 'hard' {
  let effect: 'none' | 'soft' | 'hard' = 'none'
  for (const purge of purges) {
    if (purge.seq <= entry.seq || !purgeMatches(purge, entry)) continue
    if (!purge.soft) return 'hard'
    effect = 'soft'
  }
  return effect
}

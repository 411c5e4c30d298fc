/**
 * The edge tier: the location's HTTP cache (the Workers Cache API, through the `EdgeCache`
 * port) in front of the shield. It holds copies of fresh shield variants of whole GET
 * responses up to `EDGE_MAX_BYTES`, one per cache key, kept for at most their remaining
 * freshness (sliced variants stay at the shield). Every edge hit is checked against the site's purge log like a shield hit, so a
 * purge is in force at this tier too when the purge call returns; a soft-purged or stale
 * copy is not used here (the shield applies stale-while-revalidate and stale-if-error).
 * Range requests and conditional revalidation go to the shield.
 */
import type { Env } from '../platform/env'
import { edgeCache, objectBucket } from '../platform/ports'
import { withoutHopByHop } from '../platform/proxy'
import { secondaryKey, usability } from './freshness'
import type { CdnSite } from './site-object'
import type { Variant } from './variant'

export const EDGE_MAX_BYTES = 32 * 1024 * 1024
const META = 'edgeblocks-edge-meta'
const ORIGINAL_DATE = 'edgeblocks-original-date'
const NULL_BODY_STATUSES = new Set([204, 205])

type Meta = Omit<Variant, 'headers' | 'bodyKey'>

const edgeUrl = (tenant: string, site: string, keyHash: string) =>
  `https://edge-cache.edgeblocks.internal/${encodeURIComponent(tenant)}/${encodeURIComponent(site)}/${keyHash}`

export interface EdgeHit {
  response: Response
  age: number
  ttl: number
  size: number
}

/** A fresh, unpurged edge copy for this request, or undefined. */
export async function edgeLookup(
  env: Env,
  site: DurableObjectStub<CdnSite>,
  target: { tenant: string; site: string; keyHash: string },
  request: Request,
): Promise<EdgeHit | undefined> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined
  if (request.headers.has('range')) return undefined
  const url = edgeUrl(target.tenant, target.site, target.keyHash)
  const cached = await edgeCache(env).match(url)
  if (!cached) return undefined
  const meta = JSON.parse(cached.headers.get(META) ?? 'null') as Meta | null
  if (!meta || meta.secondary !== secondaryKey(meta.vary, request.headers)) {
    await cached.body?.cancel()
    return undefined
  }
  const effect = await site.effect({ host: meta.host, path: meta.path, tags: meta.tags, seq: meta.seq })
  const headers = new Headers(cached.headers)
  headers.delete(META)
  headers.delete('cf-cache-status')
  const original = headers.get('edgeblocks-original-cache-control')
  headers.delete('edgeblocks-original-cache-control')
  if (original === null) headers.delete('cache-control')
  else headers.set('cache-control', original)
  // The Cache API stamps its own Date on a stored copy; the origin's is the one that counts (RFC 9111 §4.2.3).
  const date = headers.get(ORIGINAL_DATE)
  headers.delete(ORIGINAL_DATE)
  if (date !== null) headers.set('date', date)
  if (meta.vary) headers.set('vary', meta.vary)
  const use = usability(headers, meta, request.headers, Date.now(), effect !== 'none')
  if (effect === 'hard') await edgeCache(env).delete(url)
  if (effect !== 'none' || use.use !== 'fresh') {
    await cached.body?.cancel()
    return undefined
  }
  return {
    response: new Response(cached.body, { status: meta.status, headers }),
    age: use.age,
    ttl: use.ttl,
    size: meta.size,
  }
}

/** Copies a fresh shield variant to the edge (in the background, reading the body again). */
export async function edgeStore(
  env: Env,
  target: { tenant: string; site: string; keyHash: string },
  variant: Variant,
  ttl: number,
) {
  // A 204 or 205 stays at the shield: no Response with a body can carry it, and the local
  // Cache API cannot store one without.
  if (variant.slice || variant.size > EDGE_MAX_BYTES || ttl <= 0 || NULL_BODY_STATUSES.has(variant.status))
    return
  const object = await objectBucket(env).get(variant.bodyKey)
  if (!object) return
  const { bodyKey: _, headers: stored, ...meta } = variant
  const headers = withoutHopByHop(new Headers(stored))
  const original = headers.get('cache-control')
  if (original !== null) headers.set('edgeblocks-original-cache-control', original)
  const date = headers.get('date')
  if (date !== null) headers.set(ORIGINAL_DATE, date)
  headers.set('cache-control', `max-age=${Math.floor(ttl)}`)
  headers.delete('vary')
  headers.delete('set-cookie')
  headers.set('content-length', String(variant.size))
  headers.set(META, JSON.stringify(meta))
  await edgeCache(env).put(
    edgeUrl(target.tenant, target.site, target.keyHash),
    new Response(object.body, { status: variant.status, headers }),
  )
}

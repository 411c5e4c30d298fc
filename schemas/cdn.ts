/**
 * Schemas of the CDN block (`/v1/cdn`): sites (an origin URL or a load balancer of the
 * same tenant, cache rules, the cache key) and purges. Every bound is here so it shows in
 * OpenAPI; the origin's loop check is done by the block and answers 400 the same way.
 */
import * as v from 'valibot'
import { ResourceName } from './common'

const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.regex(/^https?:\/\//i, 'An http:// or https:// URL'),
)

const FieldName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(64),
  v.regex(/^[!#-'*+.0-9A-Z^-z|~-]+$/, 'A header or cookie name'),
)
const QueryName = v.pipe(v.string(), v.minLength(1), v.maxLength(128))

export const CacheKeyInput = v.strictObject({
  /** `all` keeps the query, `none` drops it, `include` / `exclude` keep or drop the listed parameters. */
  query: v.optional(v.picklist(['all', 'none', 'include', 'exclude']), 'all'),
  queryParams: v.optional(v.pipe(v.array(QueryName), v.maxLength(32)), []),
  /** Sort the query parameters, so `?a=1&b=2` and `?b=2&a=1` share an entry. */
  sortQuery: v.optional(v.boolean(), true),
  /** Request headers whose values are part of the key. */
  headers: v.optional(v.pipe(v.array(FieldName), v.maxLength(8)), []),
  /** Cookies whose values are part of the key. */
  cookies: v.optional(v.pipe(v.array(FieldName), v.maxLength(8)), []),
})

export const CreateSiteRequest = v.pipe(
  v.strictObject({
    /** The origin: a URL… */
    originUrl: v.optional(v.nullable(HttpUrl), null),
    /** …or a load balancer of the same tenant… */
    originBalancer: v.optional(v.nullable(ResourceName), null),
    /** …or a public-read blob bucket of the same tenant (its objects by key, path = key). */
    originBucket: v.optional(
      v.nullable(
        v.pipe(
          v.string(),
          v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'A bucket name (3-63 of a-z, 0-9, ".", "-")'),
        ),
      ),
      null,
    ),
    /**
     * Sliced fetching (nginx slice style): fills ask the origin for this many bytes at a time
     * (Range requests); an object larger than one slice is stored as slices of this size, each
     * fetched when first needed. null: whole objects.
     */
    sliceBytes: v.optional(
      v.nullable(v.pipe(v.number(), v.integer(), v.minValue(65_536), v.maxValue(67_108_864))),
      null,
    ),
    /** Seconds for responses without explicit freshness, when `cacheEverything`. */
    defaultTtlSeconds: v.optional(
      v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(31_536_000)),
      3600,
    ),
    /** Store responses without freshness information for `defaultTtlSeconds` (statuses cacheable by default). */
    cacheEverything: v.optional(v.boolean(), false),
    cacheKey: v.optional(CacheKeyInput, {}),
    /** Time to the origin's response headers. */
    originTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(300_000)), 30_000),
  }),
  v.check(
    (site) => [site.originUrl, site.originBalancer, site.originBucket].filter((o) => o !== null).length === 1,
    'Exactly one of originUrl, originBalancer and originBucket',
  ),
)
export type CreateSiteInput = v.InferOutput<typeof CreateSiteRequest>

export const SiteParam = v.object({ site: ResourceName })

export const SiteView = v.object({
  name: v.string(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
  settings: v.record(v.string(), v.unknown()),
})
export const SiteList = v.object({ items: v.array(SiteView), nextCursor: v.optional(v.string()) })

export const PurgeRequest = v.pipe(
  v.strictObject({
    /** Absolute URLs (their path and query, as the site's cache key sees them). */
    urls: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(2048), v.url())), v.maxLength(100))),
    /** Path prefixes, each starting with `/`. */
    prefixes: v.optional(
      v.pipe(v.array(v.pipe(v.string(), v.maxLength(1024), v.startsWith('/'))), v.maxLength(100)),
    ),
    /** `Cache-Tag` / `Surrogate-Key` values. */
    tags: v.optional(
      v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))), v.maxLength(100)),
    ),
    hosts: v.optional(
      v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(253))), v.maxLength(100)),
    ),
    everything: v.optional(v.literal(true)),
    /** Mark stale instead of removing: stale-while-revalidate and stale-if-error still serve. */
    soft: v.optional(v.boolean(), false),
  }),
  v.check(
    (p) => Boolean(p.everything || p.urls?.length || p.prefixes?.length || p.tags?.length || p.hosts?.length),
    'Name something to purge: urls, prefixes, tags, hosts or everything',
  ),
)
export type PurgeInput = v.InferOutput<typeof PurgeRequest>

export const PurgeResult = v.object({ purgeId: v.number(), soft: v.boolean() })

export const SiteStats = v.object({
  requests: v.number(),
  hits: v.number(),
  misses: v.number(),
  hitRatio: v.number(),
  bytesFromCache: v.number(),
  bytesFromOrigin: v.number(),
  originRequests: v.number(),
  originErrors: v.number(),
  topKeys: v.array(v.object({ key: v.string(), requests: v.number() })),
})

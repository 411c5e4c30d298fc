/**
 * Schemas of the search block's crawler (`/v1/search/crawls`, the platform's own JSON and
 * problem+json, not the Meilisearch wire): a job's seeds, allow-list and limits, and its
 * status with statistics.
 */
import * as v from 'valibot'

export const CRAWL_LIMITS = {
  maxSeeds: 100,
  maxAllow: 100,
  maxUrlLength: 2048,
  maxDepth: 20,
  maxPages: 10_000,
  minRecrawlSeconds: 60,
  maxRecrawlSeconds: 30 * 24 * 3600,
} as const

const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(CRAWL_LIMITS.maxUrlLength),
  v.url('An absolute URL'),
  v.regex(/^https?:\/\//i, 'An http(s) URL'),
)
/** A host (`docs.example.com`, optional port) or an http(s) URL prefix. */
const AllowEntry = v.union([
  HttpUrl,
  v.pipe(v.string(), v.regex(/^[a-z0-9.-]{1,253}(:\d{1,5})?$/i, 'A host name or URL prefix')),
])

const Whole = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))

export const CrawlBody = v.object({
  index: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,400}$/, 'An index uid')),
  seeds: v.pipe(v.array(HttpUrl), v.minLength(1), v.maxLength(CRAWL_LIMITS.maxSeeds)),
  allow: v.pipe(v.array(AllowEntry), v.minLength(1), v.maxLength(CRAWL_LIMITS.maxAllow)),
  maxDepth: Whole(0, CRAWL_LIMITS.maxDepth),
  maxPages: Whole(1, CRAWL_LIMITS.maxPages),
  recrawlSeconds: v.optional(Whole(CRAWL_LIMITS.minRecrawlSeconds, CRAWL_LIMITS.maxRecrawlSeconds)),
})
export type CrawlBody = v.InferOutput<typeof CrawlBody>

export const CrawlParam = v.object({ crawl: v.pipe(v.string(), v.uuid('A crawl id')) })

export const CrawlStats = v.object({
  discovered: v.number(),
  fetched: v.number(),
  indexed: v.number(),
  duplicates: v.number(),
  nearDuplicates: v.number(),
  notModified: v.number(),
  disallowed: v.number(),
  redirects: v.number(),
  retries: v.number(),
  failed: v.number(),
  pending: v.number(),
})
export type CrawlStats = v.InferOutput<typeof CrawlStats>

export const CrawlView = v.object({
  id: v.string(),
  index: v.string(),
  status: v.picklist(['running', 'done', 'cancelled']),
  seeds: v.array(v.string()),
  allow: v.array(v.string()),
  maxDepth: v.number(),
  maxPages: v.number(),
  recrawlSeconds: v.nullable(v.number()),
  createdAt: v.string(),
  stats: CrawlStats,
  /** The last failures (URL, reason), newest first. */
  errors: v.array(v.object({ url: v.string(), reason: v.string(), at: v.string() })),
})
export type CrawlView = v.InferOutput<typeof CrawlView>

/**
 * `CrawlFetcher`: the Worker-side half of the crawler (a WorkerEntrypoint the frontier
 * objects reach through the `SEARCH_CRAWL_FETCHER` service binding). It does the network
 * and the HTML, which stay out of the Durable Objects: one conditional GET (no redirect
 * following: a redirect is a link), HTML to fields and links through the `HtmlExtractor`
 * port, content dedup with the job, and the page written to the job's index by the search
 * block's own `addDocuments`. It answers with the outcome and the admitted links.
 *
 * Cost: one subrequest per page; the body is streamed through the rewriter once.
 */
import { WorkerEntrypoint } from 'cloudflare:workers'
import { sha256Hex } from '../../platform/encoding'
import type { Env } from '../../platform/env'
import { type HtmlExtractor, rewriterExtractor } from '../../platform/html'
import { addDocuments } from '../writes'
import { allowsPrivateNetworks, refusal } from './address'
import { type FrontierEntry, jobStub, type Outcome } from './job-object'
import { CRAWLER_AGENT, sitemapUrls } from './robots'
import { simhash } from './simhash'
import { normaliseUrl } from './url'

declare global {
  namespace Cloudflare {
    interface Env {
      SEARCH_CRAWL_FETCHER: Service<CrawlFetcher>
      /** `true` lets the crawler fetch loopback, private and link-local addresses (local test sites). */
      CRAWL_ALLOW_PRIVATE_NETWORKS?: string
    }
  }
}

export const USER_AGENT = `${CRAWLER_AGENT}/1.0 (+https://edgeblocks.dev/crawler)`
const FETCH_TIMEOUT_MS = 15_000
const MAX_SITEMAP_BYTES = 5 * 1024 * 1024

export interface FetchRequest {
  tenant: string
  job: string
  index: string
  url: string
  depth: number
  kind: FrontierEntry['kind']
  etag: string | null
  lastModified: string | null
}

export interface FetchResult {
  outcome: Outcome
  /** Temporary failures (network, 429, 5xx) the frontier retries with backoff. */
  retryable: boolean
  reason?: string
  etag: string | null
  lastModified: string | null
  admitted: FrontierEntry[]
}

/** The id of a crawled page's document: stable per URL, a valid Meilisearch id. */
export async function pageDocumentId(url: string): Promise<string> {
  return (await sha256Hex(url)).slice(0, 40)
}

export async function fetchPage(
  env: Env,
  request: FetchRequest,
  html: HtmlExtractor = rewriterExtractor,
): Promise<FetchResult> {
  const result: FetchResult = {
    outcome: 'failed',
    retryable: false,
    etag: null,
    lastModified: null,
    admitted: [],
  }
  // Private, loopback and metadata addresses only when the deployment opts in (a seed, a
  // link or a redirect target alike): a clear error on the job, no request made.
  const refused = refusal(request.url, allowsPrivateNetworks(env))
  if (refused)
    return request.kind === 'sitemap' ? { ...result, outcome: 'skipped' } : { ...result, reason: refused }
  const headers: Record<string, string> = { 'user-agent': USER_AGENT }
  if (request.etag) headers['if-none-match'] = request.etag
  if (request.lastModified) headers['if-modified-since'] = request.lastModified
  let response: Response
  try {
    response = await fetch(request.url, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    })
  } catch (error) {
    return { ...result, retryable: true, reason: `fetch failed: ${String(error)}` }
  }
  result.etag = response.headers.get('etag')
  result.lastModified = response.headers.get('last-modified')
  const job = jobStub(env, request.tenant, request.job)
  if (response.status === 304) {
    await response.body?.cancel()
    return { ...result, outcome: 'notModified', etag: request.etag, lastModified: request.lastModified }
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel()
    const target = normaliseUrl(response.headers.get('location') ?? '', request.url)
    if (!target) return { ...result, reason: `HTTP ${response.status} without a usable Location` }
    result.admitted = await job.admit([{ url: target, depth: request.depth, kind: request.kind }])
    return { ...result, outcome: 'redirect' }
  }
  if (response.status === 429 || response.status >= 500) {
    await response.body?.cancel()
    return { ...result, retryable: true, reason: `HTTP ${response.status}` }
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    // A site without a sitemap is normal, not a failure.
    if (request.kind === 'sitemap') return { ...result, outcome: 'skipped' }
    return { ...result, reason: `HTTP ${response.status}` }
  }
  if (request.kind === 'sitemap') {
    const xml = (await response.text()).slice(0, MAX_SITEMAP_BYTES)
    const entries = sitemapUrls(xml).flatMap((loc) => {
      const url = normaliseUrl(loc)
      if (!url) return []
      // A sitemap index lists sitemaps; a sitemap lists pages (one level below the seeds).
      return [{ url, depth: 1, kind: /<sitemapindex/i.test(xml) ? ('sitemap' as const) : ('page' as const) }]
    })
    result.admitted = await job.admit(entries)
    return { ...result, outcome: 'skipped' }
  }
  const type = response.headers.get('content-type') ?? ''
  if (!/^\s*(text\/html|application\/xhtml\+xml)/i.test(type)) {
    await response.body?.cancel()
    return { ...result, outcome: 'skipped' }
  }
  const page = await html.extract(response)
  if (!page.nofollow) {
    const links = page.links.flatMap((href) => {
      const url = normaliseUrl(href, request.url)
      return url ? [{ url, depth: request.depth + 1, kind: 'page' as const }] : []
    })
    result.admitted = await job.admit(links)
  }
  if (page.noindex) return { ...result, outcome: 'skipped' }
  const verdict = await job.checkContent(request.url, await sha256Hex(page.text), simhash(page.text))
  if (verdict !== 'new') return { ...result, outcome: verdict }
  const document = {
    id: await pageDocumentId(request.url),
    url: request.url,
    title: page.title,
    headings: page.headings,
    description: page.description,
    text: page.text,
  }
  const task = await addDocuments(env, request.tenant, request.index, [document], 'replace', 'id')
  if (task.status !== 'succeeded') return { ...result, reason: `indexing failed (task ${task.taskUid})` }
  return { ...result, outcome: 'indexed' }
}

/**
 * robots.txt of an origin: its text, `null` when there is none (4xx) or the origin is a
 * refused private address (its pages are then refused one by one), or a temporary failure.
 */
export async function fetchRobots(
  origin: string,
  allowPrivate: boolean,
): Promise<{ text: string | null } | { retry: string }> {
  if (refusal(origin, allowPrivate)) return { text: null }
  try {
    const response = await fetch(`${origin}/robots.txt`, {
      headers: { 'user-agent': USER_AGENT },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    })
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel()
      return { retry: `robots.txt: HTTP ${response.status}` }
    }
    if (response.status !== 200) {
      await response.body?.cancel()
      return { text: null }
    }
    return { text: (await response.text()).slice(0, 512 * 1024) }
  } catch (error) {
    return { retry: `robots.txt: ${String(error)}` }
  }
}

export class CrawlFetcher extends WorkerEntrypoint<Env> {
  fetchPage(request: FetchRequest): Promise<FetchResult> {
    return fetchPage(this.env, request)
  }

  fetchRobots(origin: string) {
    return fetchRobots(origin, allowsPrivateNetworks(this.env))
  }
}

/**
 * `CrawlJob`: one crawl job of a tenant (`<tenant>:search-crawl:<id>`). It owns the job's
 * settings, status and statistics, the set of URLs ever admitted (URL dedup across hosts,
 * and the `maxPages` budget), and the content fingerprints (exact dedup by SHA-256,
 * near-duplicates by simhash). Frontier objects ask it to admit links and report each
 * outcome; `pending` counts admitted URLs not yet finished, and the job is `done` when it
 * reaches zero (unless it recrawls).
 *
 * Cost: one SQLite row per admitted URL and per fingerprint; a near-duplicate check scans
 * the job's fingerprints (at most `maxPages`).
 */
import type { CrawlBody, CrawlStats, CrawlView } from '../../../schemas/search-crawl'
import { AppError } from '../../platform/errors'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
import { hammingDistance, NEAR_DUPLICATE_BITS } from './simhash'
import { isAllowed, normaliseUrl } from './url'

declare global {
  namespace Cloudflare {
    interface Env {
      SEARCH_CRAWL_JOBS: DurableObjectNamespace<CrawlJob>
    }
  }
}

export const CRAWL_KIND = 'search-crawl'

export function jobStub(env: Cloudflare.Env, tenant: string, job: string) {
  return objectStub(env.SEARCH_CRAWL_JOBS, tenant, CRAWL_KIND, job)
}

export type FrontierKind = 'page' | 'sitemap'

export interface FrontierEntry {
  url: string
  depth: number
  kind: FrontierKind
}

export type Outcome =
  | 'indexed'
  | 'skipped'
  | 'duplicate'
  | 'nearDuplicate'
  | 'notModified'
  | 'disallowed'
  | 'redirect'
  | 'retry'
  | 'failed'

interface JobState {
  id: string
  tenant: string
  config: CrawlBody
  status: CrawlView['status']
  createdAt: number
  stats: CrawlStats
}

const MAX_ERRORS = 50
const EMPTY_STATS: CrawlStats = {
  discovered: 0,
  fetched: 0,
  indexed: 0,
  duplicates: 0,
  nearDuplicates: 0,
  notModified: 0,
  disallowed: 0,
  redirects: 0,
  retries: 0,
  failed: 0,
  pending: 0,
}
const FETCHING: ReadonlySet<Outcome> = new Set([
  'indexed',
  'skipped',
  'duplicate',
  'nearDuplicate',
  'notModified',
  'redirect',
])

export class CrawlJob extends HostedObject<Cloudflare.Env> {
  private readonly sql = this.ctx.storage.sql

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS seen (url TEXT PRIMARY KEY, kind TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS contents (url TEXT PRIMARY KEY, sha TEXT NOT NULL, simhash TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS contents_sha ON contents (sha);
      CREATE TABLE IF NOT EXISTS job (only INTEGER PRIMARY KEY CHECK (only = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS errors (seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);`)
  }

  private stored(): JobState | undefined {
    const row = this.sql.exec<{ state: string }>('SELECT state FROM job').toArray()[0]
    return row ? (JSON.parse(row.state) as JobState) : undefined
  }

  private save(job: JobState): void {
    this.sql.exec('INSERT OR REPLACE INTO job (only, state) VALUES (1, ?)', JSON.stringify(job))
  }

  private state(): JobState {
    const state = this.stored()
    if (!state) throw new AppError('not_found', 'No such crawl.')
    return state
  }

  /** Creates the job and admits its seeds; returns the seeds to hand to their hosts. */
  create(id: string, tenant: string, config: CrawlBody, now: number): FrontierEntry[] {
    return this.ctx.storage.transactionSync(() => {
      if (this.stored()) throw new AppError('conflict', 'The crawl exists.')
      this.save({
        id,
        tenant,
        config,
        status: 'running',
        createdAt: now,
        stats: { ...EMPTY_STATS },
      })
      const seeds = config.seeds.flatMap((seed) => {
        const url = normaliseUrl(seed)
        return url ? [{ url, depth: 0, kind: 'page' as const }] : []
      })
      return this.admitLocked(seeds)
    })
  }

  view(): CrawlView {
    const job = this.state()
    return {
      id: job.id,
      index: job.config.index,
      status: job.status,
      seeds: job.config.seeds,
      allow: job.config.allow,
      maxDepth: job.config.maxDepth,
      maxPages: job.config.maxPages,
      recrawlSeconds: job.config.recrawlSeconds ?? null,
      createdAt: new Date(job.createdAt).toISOString(),
      stats: job.stats,
      errors: this.sql
        .exec<{ url: string; reason: string; at: number }>(
          'SELECT url, reason, at FROM errors ORDER BY seq DESC',
        )
        .toArray()
        .map((row) => ({ url: row.url, reason: row.reason, at: new Date(row.at).toISOString() })),
    }
  }

  cancel(): CrawlView {
    this.ctx.storage.transactionSync(() => {
      const job = this.state()
      if (job.status === 'running') this.save({ ...job, status: 'cancelled' })
    })
    return this.view()
  }

  /** Whether the job still crawls (frontier objects drop a stopped job's URLs). */
  running(): boolean {
    return this.state().status === 'running'
  }

  /** Admits new URLs: running job, inside the allow-list and depth, unseen, within `maxPages`. */
  admit(entries: FrontierEntry[]): FrontierEntry[] {
    return this.ctx.storage.transactionSync(() => this.admitLocked(entries))
  }

  private admitLocked(entries: FrontierEntry[]): FrontierEntry[] {
    const job = this.state()
    if (job.status !== 'running') return []
    const admitted: FrontierEntry[] = []
    let pages = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM seen WHERE kind = 'page'").one().n
    for (const entry of entries) {
      if (entry.kind === 'page') {
        if (entry.depth > job.config.maxDepth || pages >= job.config.maxPages) continue
        if (!isAllowed(entry.url, job.config.allow)) continue
      }
      if (
        this.sql.exec('INSERT OR IGNORE INTO seen (url, kind) VALUES (?, ?)', entry.url, entry.kind)
          .rowsWritten === 0
      )
        continue
      if (entry.kind === 'page') pages++
      admitted.push(entry)
    }
    job.stats.discovered += admitted.filter((entry) => entry.kind === 'page').length
    job.stats.pending += admitted.length
    this.save(job)
    return admitted
  }

  /** Records a page's fingerprints; says whether it repeats (exactly or nearly) another URL's. */
  checkContent(url: string, sha: string, fingerprint: string): 'new' | 'duplicate' | 'nearDuplicate' {
    return this.ctx.storage.transactionSync(() => {
      const exact = this.sql
        .exec('SELECT 1 FROM contents WHERE sha = ? AND url != ? LIMIT 1', sha, url)
        .toArray()
      let verdict: 'new' | 'duplicate' | 'nearDuplicate' = exact.length > 0 ? 'duplicate' : 'new'
      if (verdict === 'new') {
        for (const row of this.sql.exec<{ simhash: string }>(
          'SELECT simhash FROM contents WHERE url != ?',
          url,
        )) {
          if (hammingDistance(row.simhash, fingerprint) <= NEAR_DUPLICATE_BITS) {
            verdict = 'nearDuplicate'
            break
          }
        }
      }
      if (verdict === 'new')
        this.sql.exec(
          'INSERT OR REPLACE INTO contents (url, sha, simhash) VALUES (?, ?, ?)',
          url,
          sha,
          fingerprint,
        )
      return verdict
    })
  }

  /** One outcome of one fetch; `finished` when the URL leaves the frontier for the first time. */
  report(url: string, outcome: Outcome, finished: boolean, now: number, reason?: string): void {
    this.ctx.storage.transactionSync(() => {
      const job = this.stored()
      if (!job) return
      const stats = job.stats
      if (FETCHING.has(outcome)) stats.fetched++
      if (outcome === 'indexed') stats.indexed++
      else if (outcome === 'duplicate') stats.duplicates++
      else if (outcome === 'nearDuplicate') stats.nearDuplicates++
      else if (outcome === 'notModified') stats.notModified++
      else if (outcome === 'disallowed') stats.disallowed++
      else if (outcome === 'redirect') stats.redirects++
      else if (outcome === 'retry') stats.retries++
      else if (outcome === 'failed') stats.failed++
      if (reason) {
        this.sql.exec('INSERT INTO errors (url, reason, at) VALUES (?, ?, ?)', url, reason.slice(0, 500), now)
        this.sql.exec('DELETE FROM errors WHERE seq <= (SELECT max(seq) FROM errors) - ?', MAX_ERRORS)
      }
      if (finished) stats.pending = Math.max(0, stats.pending - 1)
      if (stats.pending === 0 && job.status === 'running' && job.config.recrawlSeconds === undefined)
        job.status = 'done'
      this.save(job)
    })
  }
}

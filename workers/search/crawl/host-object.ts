/**
 * `CrawlHost`: the frontier of one host for one tenant (`<tenant>:search-crawl-host:<host>`),
 * shared by the tenant's jobs, so politeness holds across them. It fetches robots.txt
 * before anything else and honours it (rules and Crawl-delay), reads the sitemaps, and
 * makes at most one request at a time, spaced by the crawl delay: the one alarm is set to
 * max(next free slot, earliest due URL), and due times live in the `frontier` table.
 * An alarm counts as firing at its scheduled time, so the schedule (kept in `fetches`)
 * is exact even when an alarm runs late. Temporary failures come back after a full-jitter
 * backoff, up to `MAX_ATTEMPTS`; with a recrawl interval a page stays, re-fetched
 * conditionally (ETag / Last-Modified).
 *
 * Cost: one SQLite row per queued URL; per fetch one job RPC and one fetcher call.
 */
import { backoffDelayMs } from '../../platform/delivery'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
import type { FetchRequest } from './fetcher'
import { type FrontierEntry, jobStub, type Outcome } from './job-object'
import { parseRobots, type Robots, robotsAllow } from './robots'
import { hostKey } from './url'

declare global {
  namespace Cloudflare {
    interface Env {
      SEARCH_CRAWL_HOSTS: DurableObjectNamespace<CrawlHost>
    }
  }
}

export const HOST_KIND = 'search-crawl-host'
export const DEFAULT_DELAY_MS = 1000
export const MAX_DELAY_MS = 60_000
export const MAX_ATTEMPTS = 4
const FETCH_LOG_ROWS = 1000
const CRAWL_BACKOFF = { baseMs: 2_000, capMs: 10 * 60_000 }

export interface JobInfo {
  job: string
  index: string
  recrawlSeconds: number | null
}

interface HostState {
  tenant: string
  origin: string
  robots: Robots | null
  robotsAttempts: number
  nextSlotAt: number
  alarmAt: number | null
}

type FrontierRow = {
  job: string
  url: string
  depth: number
  kind: FrontierEntry['kind']
  due: number
  attempts: number
  visits: number
  etag: string | null
  last_modified: string | null
}

export function hostStub(env: Cloudflare.Env, tenant: string, host: string) {
  return objectStub(env.SEARCH_CRAWL_HOSTS, tenant, HOST_KIND, host)
}

/** Hands admitted URLs to their hosts' frontiers (one call per host). */
export async function distribute(
  env: Cloudflare.Env,
  tenant: string,
  info: JobInfo,
  entries: FrontierEntry[],
) {
  const byHost = new Map<string, FrontierEntry[]>()
  for (const entry of entries) {
    const host = hostKey(entry.url)
    byHost.set(host, [...(byHost.get(host) ?? []), entry])
  }
  await Promise.all(
    [...byHost].map(([host, group]) =>
      hostStub(env, tenant, host).enqueue(tenant, new URL(group[0]?.url ?? '').origin, info, group),
    ),
  )
}

export class CrawlHost extends HostedObject<Cloudflare.Env> {
  private readonly sql = this.ctx.storage.sql
  private busy = false
  /** The jitter source of the retry backoff, in [0, 1) (a test fixes it to check the delays). */
  random: () => number = Math.random

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS host (only INTEGER PRIMARY KEY CHECK (only = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (job TEXT PRIMARY KEY, info TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS frontier (job TEXT NOT NULL, url TEXT NOT NULL, depth INTEGER NOT NULL,
        kind TEXT NOT NULL, due INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, visits INTEGER NOT NULL DEFAULT 0,
        etag TEXT, last_modified TEXT, PRIMARY KEY (job, url));
      CREATE INDEX IF NOT EXISTS frontier_due ON frontier (due);
      CREATE TABLE IF NOT EXISTS fetches (seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, at INTEGER NOT NULL);`)
  }

  private state(): HostState | undefined {
    const row = this.sql.exec<{ state: string }>('SELECT state FROM host').toArray()[0]
    return row ? (JSON.parse(row.state) as HostState) : undefined
  }

  private save(state: HostState): void {
    this.sql.exec('INSERT OR REPLACE INTO host (only, state) VALUES (1, ?)', JSON.stringify(state))
  }

  private delayMs(state: HostState): number {
    const seconds = state.robots?.crawlDelaySeconds
    return seconds === undefined ? DEFAULT_DELAY_MS : Math.min(MAX_DELAY_MS, Math.round(seconds * 1000))
  }

  /** Queues admitted URLs of a job; a job new to this host also gets the host's sitemaps. */
  async enqueue(tenant: string, origin: string, info: JobInfo, entries: FrontierEntry[]): Promise<void> {
    const now = Date.now()
    const known = this.sql.exec('SELECT 1 FROM jobs WHERE job = ?', info.job).toArray().length > 0
    this.ctx.storage.transactionSync(() => {
      if (!this.state())
        this.save({ tenant, origin, robots: null, robotsAttempts: 0, nextSlotAt: now, alarmAt: null })
      this.sql.exec('INSERT OR REPLACE INTO jobs (job, info) VALUES (?, ?)', info.job, JSON.stringify(info))
      this.insert(info.job, entries, now)
    })
    const state = this.state() as HostState
    if (!known && state.robots) await this.addSitemaps(state, [info.job], now)
    await this.arm()
  }

  private insert(job: string, entries: FrontierEntry[], now: number): void {
    for (const entry of entries)
      this.sql.exec(
        'INSERT OR IGNORE INTO frontier (job, url, depth, kind, due) VALUES (?, ?, ?, ?, ?)',
        job,
        entry.url,
        entry.depth,
        entry.kind,
        now,
      )
  }

  private async addSitemaps(state: HostState, jobs: string[], now: number): Promise<void> {
    const declared = (state.robots?.sitemaps ?? []).filter((url) => url.startsWith(`${state.origin}/`))
    const candidates = [...new Set([`${state.origin}/sitemap.xml`, ...declared])].map((url) => ({
      url,
      depth: 1,
      kind: 'sitemap' as const,
    }))
    for (const job of jobs) {
      const admitted = await jobStub(this.env, state.tenant, job).admit(candidates)
      this.ctx.storage.transactionSync(() => this.insert(job, admitted, now))
    }
  }

  /** The alarm at max(next free slot, earliest due URL); robots.txt comes first. */
  private async arm(): Promise<void> {
    if (this.busy) return
    const state = this.state()
    if (!state) return
    const next = this.sql.exec<{ due: number | null }>('SELECT min(due) AS due FROM frontier').one().due
    if (next === null && state.robots) {
      await this.ctx.storage.deleteAlarm()
      state.alarmAt = null
    } else {
      state.alarmAt = Math.max(state.nextSlotAt, next ?? Date.now())
      await this.ctx.storage.setAlarm(state.alarmAt)
    }
    this.save(state)
  }

  override async alarm(): Promise<void> {
    const state = this.state()
    if (!state || this.busy) return
    this.busy = true
    try {
      // The alarm's own time: its schedule stays exact however late the alarm runs.
      const now = Math.max(Date.now(), state.alarmAt ?? 0)
      if (!state.robots) await this.loadRobots(state, now)
      else await this.fetchNext(state, now)
    } finally {
      this.busy = false
    }
    await this.arm()
  }

  private logFetch(url: string, at: number): void {
    this.sql.exec('INSERT INTO fetches (url, at) VALUES (?, ?)', url, at)
    this.sql.exec('DELETE FROM fetches WHERE seq <= (SELECT max(seq) FROM fetches) - ?', FETCH_LOG_ROWS)
  }

  private async loadRobots(state: HostState, now: number): Promise<void> {
    this.logFetch(`${state.origin}/robots.txt`, now)
    const answer = await this.env.SEARCH_CRAWL_FETCHER.fetchRobots(state.origin)
    if ('retry' in answer && state.robotsAttempts + 1 < MAX_ATTEMPTS) {
      state.robotsAttempts++
      state.nextSlotAt = now + backoffDelayMs(state.robotsAttempts, this.random(), CRAWL_BACKOFF)
      this.save(state)
      return
    }
    // No robots.txt (or none reachable after the retries): everything is allowed.
    state.robots = parseRobots('text' in answer && answer.text ? answer.text : '')
    state.nextSlotAt = now + this.delayMs(state)
    this.save(state)
    const jobs = this.sql.exec<{ job: string }>('SELECT job FROM jobs').toArray()
    await this.addSitemaps(
      state,
      jobs.map((row) => row.job),
      now,
    )
  }

  private async fetchNext(state: HostState, now: number): Promise<void> {
    const row = this.sql
      .exec<FrontierRow>('SELECT * FROM frontier WHERE due <= ? ORDER BY due LIMIT 1', now)
      .toArray()[0]
    if (!row) return
    const info = this.jobInfo(row.job)
    const job = jobStub(this.env, state.tenant, row.job)
    if (!info || !(await job.running())) {
      this.sql.exec('DELETE FROM frontier WHERE job = ?', row.job)
      this.sql.exec('DELETE FROM jobs WHERE job = ?', row.job)
      return
    }
    const first = row.visits === 0
    if (!robotsAllow(state.robots as Robots, row.url)) {
      this.sql.exec('DELETE FROM frontier WHERE job = ? AND url = ?', row.job, row.url)
      await job.report(row.url, 'disallowed', first, now)
      return
    }
    this.logFetch(row.url, now)
    state.nextSlotAt = now + this.delayMs(state)
    this.save(state)
    const request: FetchRequest = {
      tenant: state.tenant,
      job: row.job,
      index: info.index,
      url: row.url,
      depth: row.depth,
      kind: row.kind,
      etag: row.etag,
      lastModified: row.last_modified,
    }
    const result = await this.env.SEARCH_CRAWL_FETCHER.fetchPage(request)
    let outcome: Outcome = result.outcome
    let finished = first
    this.ctx.storage.transactionSync(() => {
      if (result.retryable && row.attempts + 1 < MAX_ATTEMPTS) {
        outcome = 'retry'
        finished = false
        const due = now + backoffDelayMs(row.attempts + 1, this.random(), CRAWL_BACKOFF)
        this.sql.exec(
          'UPDATE frontier SET attempts = attempts + 1, due = ? WHERE job = ? AND url = ?',
          due,
          row.job,
          row.url,
        )
      } else if (
        info.recrawlSeconds !== null &&
        row.kind === 'page' &&
        outcome !== 'failed' &&
        outcome !== 'redirect'
      ) {
        this.sql.exec(
          'UPDATE frontier SET attempts = 0, visits = visits + 1, due = ?, etag = ?, last_modified = ? WHERE job = ? AND url = ?',
          now + info.recrawlSeconds * 1000,
          result.etag,
          result.lastModified,
          row.job,
          row.url,
        )
      } else {
        this.sql.exec('DELETE FROM frontier WHERE job = ? AND url = ?', row.job, row.url)
      }
    })
    await job.report(row.url, outcome, finished, now, result.reason)
    if (result.admitted.length > 0) await this.forward(state, info, result.admitted)
  }

  private async forward(state: HostState, info: JobInfo, entries: FrontierEntry[]): Promise<void> {
    const own = entries.filter((entry) => new URL(entry.url).origin === state.origin)
    this.ctx.storage.transactionSync(() => this.insert(info.job, own, Date.now()))
    const others = entries.filter((entry) => new URL(entry.url).origin !== state.origin)
    if (others.length > 0) await distribute(this.env, state.tenant, info, others)
  }

  private jobInfo(job: string): JobInfo | undefined {
    const row = this.sql.exec<{ info: string }>('SELECT info FROM jobs WHERE job = ?', job).toArray()[0]
    return row ? (JSON.parse(row.info) as JobInfo) : undefined
  }

  /** The request schedule: each request to this host with its slot time, oldest first. */
  schedule(): Array<{ url: string; at: number }> {
    return this.sql.exec<{ url: string; at: number }>('SELECT url, at FROM fetches ORDER BY seq').toArray()
  }

  /** The crawl delay in force (after robots.txt), in milliseconds. */
  delay(): number {
    const state = this.state()
    return state ? this.delayMs(state) : DEFAULT_DELAY_MS
  }
}

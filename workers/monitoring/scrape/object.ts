/**
 * `MonitoringScrapes`: one per tenant (`<tenant>:monitoring-scrapes:jobs`). It keeps the
 * tenant's scrape jobs and their targets' health, and scrapes from its one alarm: each due
 * job's targets are fetched concurrently (each within the job's timeout), their series
 * written through the tenant's ingest path, and the alarm armed for the earliest next due
 * time. A target's samples and its `up` series are written together; a job replaced or
 * deleted during a scrape keeps the new configuration (the scrape's bookkeeping is dropped).
 *
 * It also keeps the series each source wrote last (sources.ts), as Prometheus does: a series
 * gone from a target's scrape, every series of a failed scrape, and a removed target's series
 * get staleness markers; so do a pushgateway group's series its replacement or deletion drops.
 * And the tenant's metric metadata from every wire (metadata.ts).
 */
import { SCRAPE_LIMITS, type ScrapeJobInput } from '../../../schemas/monitoring-scrape'
import type { Env } from '../../platform/env'
import { AppError } from '../../platform/errors'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
import { writeSeries } from '../ingest'
import { expositionMetadata, MetadataStore, type MetricMetadata } from '../metadata'
import { type Labels, SampleError, type Series } from '../series'
import { pushSource, SeriesSources, scrapeSource, staleMarkers } from '../sources'
import { healthSeries, instanceOf, nextDue, scrapedSeries, targetLabels } from './scrape'

declare global {
  namespace Cloudflare {
    interface Env {
      MONITORING_SCRAPES: DurableObjectNamespace<MonitoringScrapes>
    }
  }
}

export function scrapesObject(env: Env, tenant: string): DurableObjectStub<MonitoringScrapes> {
  return objectStub(env.MONITORING_SCRAPES, tenant, 'monitoring-scrapes', 'jobs')
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS jobs (name TEXT PRIMARY KEY, config TEXT NOT NULL, version INTEGER NOT NULL,
     next_due INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS targets (job TEXT NOT NULL, url TEXT NOT NULL, health TEXT NOT NULL,
     last_scrape INTEGER, last_error TEXT, last_duration REAL, last_samples INTEGER, PRIMARY KEY (job, url))`,
]

type JobRow = {
  name: string
  config: string
  version: number
  next_due: number
  updated_at: number
}

interface Outcome {
  url: string
  up: boolean
  error: string | null
  durationSeconds: number
  samples: number
}

export class MonitoringScrapes extends HostedObject<Env> {
  /** The scrape clock and the outbound fetch; tests replace them. */
  clock: () => number = () => Date.now()
  fetcher: (request: Request) => Promise<Response> = (request) => fetch(request)

  private readonly sources: SeriesSources
  private readonly metadataStore: MetadataStore

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sources = new SeriesSources(ctx.storage.sql)
    this.metadataStore = new MetadataStore(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => {
      for (const statement of SCHEMA) ctx.storage.sql.exec(statement)
      this.sources.migrate()
      this.metadataStore.migrate()
    })
  }

  /** Records metric metadata written by any wire. */
  async recordMetadata(entries: MetricMetadata[]): Promise<void> {
    if (entries.length > 0)
      this.ctx.storage.transactionSync(() => this.metadataStore.record(entries, this.clock()))
  }

  /** The tenant's metric metadata in the shape of Prometheus's `/api/v1/metadata`. */
  async metadata(metric: string | undefined, limit: number, limitPerMetric: number) {
    return this.metadataStore.query(metric, limit, limitPerMetric)
  }

  private get sql() {
    return this.ctx.storage.sql
  }

  private async arm(): Promise<void> {
    const { next } = this.sql.exec<{ next: number | null }>('SELECT min(next_due) AS next FROM jobs').one()
    if (next === null) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(next)
  }

  private row(name: string): JobRow | undefined {
    return this.sql.exec<JobRow>('SELECT * FROM jobs WHERE name = ?', name).toArray()[0]
  }

  async putJob(tenant: string, name: string, input: ScrapeJobInput) {
    const now = this.clock()
    const gone = this.ctx.storage.transactionSync(() => {
      const existing = this.row(name)
      const { n } = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM jobs').one()
      if (!existing && n >= SCRAPE_LIMITS.maxJobs)
        throw new AppError('conflict', `At most ${SCRAPE_LIMITS.maxJobs} scrape jobs per tenant.`)
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('tenant', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        tenant,
      )
      // A new or changed job is first scraped one interval later (Prometheus spreads first
      // scrapes over the interval too).
      this.sql.exec(
        `INSERT INTO jobs (name, config, version, next_due, updated_at) VALUES (?, ?, 1, ?, ?)
         ON CONFLICT (name) DO UPDATE SET config = excluded.config, version = jobs.version + 1,
           next_due = excluded.next_due, updated_at = excluded.updated_at`,
        name,
        JSON.stringify(input),
        now + input.intervalSeconds * 1000,
        now,
      )
      const keep = new Set(input.targets)
      const removed = this.sql
        .exec<{ url: string }>('SELECT url FROM targets WHERE job = ?', name)
        .toArray()
        .map((t) => t.url)
        .filter((url) => !keep.has(url))
      for (const url of removed) this.sql.exec('DELETE FROM targets WHERE job = ? AND url = ?', name, url)
      for (const url of input.targets)
        this.sql.exec(
          `INSERT INTO targets (job, url, health) VALUES (?, ?, 'unknown') ON CONFLICT DO NOTHING`,
          name,
          url,
        )
      return existing ? this.forgetTargets(name, JSON.parse(existing.config) as ScrapeJobInput, removed) : []
    })
    await this.markStale(tenant, gone, now)
    await this.arm()
    return this.getJob(name)
  }

  /** A removed target's series, its `up` and scrape series included, which go stale now. */
  private forgetTargets(job: string, config: ScrapeJobInput, urls: string[]): Labels[] {
    return urls.flatMap((url) => [
      ...this.sources.remove(scrapeSource(job, url)),
      ...healthSeries(targetLabels(job, url, config.labels), 0, {
        up: false,
        durationSeconds: 0,
        samples: 0,
      }).map((series) => series.labels),
    ])
  }

  private async markStale(tenant: string, gone: Labels[], t: number): Promise<void> {
    if (gone.length > 0) await writeSeries(this.env, tenant, staleMarkers(gone, t))
  }

  /**
   * Records a pushgateway push's series as its group's (PUT: all of them; POST: those of the
   * pushed metric names) and returns the group's series it dropped, to be marked stale.
   */
  async replacePushGroup(grouping: Labels, series: Labels[], method: 'PUT' | 'POST'): Promise<Labels[]> {
    const names = method === 'POST' ? new Set(series.map((labels) => labels.__name__ ?? '')) : undefined
    return this.ctx.storage.transactionSync(() => this.sources.replace(pushSource(grouping), series, names))
  }

  /** Forgets a pushgateway group; returns its series, to be marked stale. */
  async deletePushGroup(grouping: Labels): Promise<Labels[]> {
    return this.ctx.storage.transactionSync(() => this.sources.remove(pushSource(grouping)))
  }

  async getJob(name: string) {
    const row = this.row(name)
    if (!row) throw new AppError('not_found', `No scrape job named ${name}.`)
    return this.view(row)
  }

  async listJobs() {
    return this.sql
      .exec<JobRow>('SELECT * FROM jobs ORDER BY name')
      .toArray()
      .map((row) => this.view(row))
  }

  async deleteJob(name: string): Promise<void> {
    const gone = this.ctx.storage.transactionSync(() => {
      const existing = this.row(name)
      if (!existing) return undefined
      const urls = this.sql
        .exec<{ url: string }>('SELECT url FROM targets WHERE job = ?', name)
        .toArray()
        .map((t) => t.url)
      this.sql.exec('DELETE FROM targets WHERE job = ?', name)
      this.sql.exec('DELETE FROM jobs WHERE name = ?', name)
      return this.forgetTargets(name, JSON.parse(existing.config) as ScrapeJobInput, urls)
    })
    if (!gone) throw new AppError('not_found', `No scrape job named ${name}.`)
    const tenant = this.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`)
      .toArray()[0]
    if (tenant) await this.markStale(tenant.value, gone, this.clock())
    await this.arm()
  }

  private view(row: JobRow) {
    const config = JSON.parse(row.config) as ScrapeJobInput
    const health = new Map(
      this.sql
        .exec<{
          url: string
          health: 'up' | 'down' | 'unknown'
          last_scrape: number | null
          last_error: string | null
          last_duration: number | null
          last_samples: number | null
        }>('SELECT * FROM targets WHERE job = ?', row.name)
        .toArray()
        .map((t) => [t.url, t]),
    )
    return {
      name: row.name,
      targets: config.targets.map((url) => {
        const t = health.get(url)
        return {
          url,
          instance: instanceOf(url),
          health: t?.health ?? ('unknown' as const),
          lastScrape: t?.last_scrape ?? null,
          lastError: t?.last_error ?? null,
          lastDurationSeconds: t?.last_duration ?? null,
          lastSamples: t?.last_samples ?? null,
        }
      }),
      intervalSeconds: config.intervalSeconds,
      timeoutSeconds: config.timeoutSeconds,
      labels: config.labels,
      nextScrapeAt: row.next_due,
      updatedAt: row.updated_at,
    }
  }

  /** Scrapes every due job, then arms the alarm for the next one. */
  override async alarm(): Promise<void> {
    const now = this.clock()
    const tenant = this.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'tenant'`)
      .toArray()[0]
    const due = this.sql.exec<JobRow>('SELECT * FROM jobs WHERE next_due <= ?', now).toArray()
    if (tenant) {
      await Promise.all(due.map((job) => this.scrapeJob(tenant.value, job, now)))
    }
    await this.arm()
  }

  private async scrapeJob(tenant: string, job: JobRow, now: number): Promise<void> {
    const config = JSON.parse(job.config) as ScrapeJobInput
    const outcomes = await Promise.all(
      config.targets.map((url) => this.scrapeTarget(tenant, job.name, url, config, now)),
    )
    this.ctx.storage.transactionSync(() => {
      const current = this.row(job.name)
      if (!current || current.version !== job.version) return
      this.sql.exec(
        'UPDATE jobs SET next_due = ? WHERE name = ?',
        nextDue(job.next_due, config.intervalSeconds * 1000, now),
        job.name,
      )
      for (const o of outcomes)
        this.sql.exec(
          `UPDATE targets SET health = ?, last_scrape = ?, last_error = ?, last_duration = ?, last_samples = ?
           WHERE job = ? AND url = ?`,
          o.up ? 'up' : 'down',
          now,
          o.error,
          o.durationSeconds,
          o.samples,
          job.name,
          o.url,
        )
    })
  }

  private async scrapeTarget(
    tenant: string,
    job: string,
    url: string,
    config: ScrapeJobInput,
    now: number,
  ): Promise<Outcome> {
    const target = targetLabels(job, url, config.labels)
    const started = Date.now()
    let series: Series[] = []
    let error: string | null = null
    try {
      const response = await this.fetcher(
        new Request(url, {
          headers: {
            accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
            'user-agent': 'edgeblocks-scraper/1',
            'x-prometheus-scrape-timeout-seconds': String(config.timeoutSeconds),
          },
          signal: AbortSignal.timeout(config.timeoutSeconds * 1000),
        }),
      )
      if (!response.ok) {
        await response.body?.cancel()
        throw new SampleError(`server returned HTTP status ${response.status}`)
      }
      const length = Number(response.headers.get('content-length') ?? 0)
      if (length > SCRAPE_LIMITS.maxBodyBytes) {
        await response.body?.cancel()
        throw new SampleError(`body over ${SCRAPE_LIMITS.maxBodyBytes} bytes`)
      }
      const text = await response.text()
      if (text.length > SCRAPE_LIMITS.maxBodyBytes)
        throw new SampleError(`body over ${SCRAPE_LIMITS.maxBodyBytes} bytes`)
      series = scrapedSeries(text, target, now, SCRAPE_LIMITS.sampleLimit)
      await this.recordMetadata(expositionMetadata(text))
    } catch (e) {
      error = e instanceof Error ? e.message : String(e)
      series = []
    }
    const durationSeconds = Math.max(0, (Date.now() - started) / 1000)
    const samples = series.reduce((n, s) => n + s.times.length, 0)
    const health = (up: boolean, n: number) => healthSeries(target, now, { up, durationSeconds, samples: n })
    // What the last scrape had and this one has not (all of it when this one failed) goes stale.
    const source = scrapeSource(job, url)
    const gone = this.ctx.storage.transactionSync(() =>
      this.sources.replace(
        source,
        series.map((s) => s.labels),
      ),
    )
    try {
      await writeSeries(this.env, tenant, [
        ...series,
        ...health(error === null, samples),
        ...staleMarkers(gone, now),
      ])
    } catch (e) {
      // Series the tenant cannot store (an invalid name, the series limit) fail the scrape.
      if (!(e instanceof SampleError) || series.length === 0) throw e
      error = e.message
      const all = [...gone, ...this.ctx.storage.transactionSync(() => this.sources.replace(source, []))]
      await writeSeries(this.env, tenant, [...health(false, 0), ...staleMarkers(all, now)])
    }
    return { url, up: error === null, error, durationSeconds, samples }
  }
}

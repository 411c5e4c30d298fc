/**
 * `MetricShard`: the Durable Object holding one slice of a tenant's series,
 * `<tenant>:metrics:series#<shard>` (the shard is the series key's hash). A thin host over
 * `MetricStore`: each write batch is one `transactionSync`, reads match series by their
 * labels and return the samples in a time range.
 */

import { MONITORING_LIMITS } from '../../schemas/monitoring'
import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import { anchored, type Matcher, matches } from './promql/ast'
import { type Retention, RollupStore } from './rollup-store'
import type { Bucket } from './rollups'
import type { Labels, Series } from './series'
import { SeriesLedger } from './series-ledger'
import { MetricStore, type StoredSeries, type WriteLimits, type WriteOutcome } from './store'

/** How often a shard with new samples rolls them up and applies retention. */
export const ROLLUP_EVERY_MS = 60_000

declare global {
  namespace Cloudflare {
    interface Env {
      METRIC_SHARDS: DurableObjectNamespace<MetricShard>
    }
  }
}

export const METRICS_KIND = 'metrics'

const SERIES_LIMIT_KEY = 'seriesLimit'

/** A shard's place: its tenant and index. Shard 0 keeps the tenant's series limit and ledger. */
export interface ShardAddress {
  tenant: string
  shard: number
}

export function metricShard(env: Env, tenant: string, shard: number): DurableObjectStub<MetricShard> {
  return objectStub(env.METRIC_SHARDS, tenant, METRICS_KIND, 'series', shard)
}

/** Series whose labels satisfy every matcher. */
export function filterSeries<T extends { labels: Labels }>(all: T[], matchers: Matcher[]): T[] {
  const compiled = matchers.map((m) => ({ m, re: m.op.includes('~') ? anchored(m.value) : undefined }))
  return all.filter((s) => compiled.every(({ m, re }) => matches(m, s.labels[m.name], re)))
}

export class MetricShard extends HostedObject<Env> {
  private readonly store: MetricStore
  private readonly rollups: RollupStore
  private readonly ledger: SeriesLedger
  /** Writes that create series, one at a time: each asks the ledger for room with what it holds. */
  private seriesWrites: Promise<unknown> = Promise.resolve()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new MetricStore(ctx.storage.sql)
    this.rollups = new RollupStore(ctx.storage.sql)
    this.ledger = new SeriesLedger(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      this.rollups.migrate()
      this.ledger.migrate()
    })
  }

  /**
   * Stores a batch. A batch that creates series first gets room for them from the tenant's
   * ledger (series-ledger.ts, on shard 0), so the tenant's limit holds over all its shards;
   * new series past it are refused and the outcome names the limit. A batch of known series
   * is stored at once.
   */
  async write(
    address: ShardAddress,
    batch: Series[],
    outOfOrderMs: number = MONITORING_LIMITS.outOfOrderMs,
  ): Promise<WriteOutcome & { seriesLimit?: number }> {
    if (this.store.newSeries(batch) === 0)
      return this.storeBatch(batch, { maxSeries: this.store.seriesCount(), outOfOrderMs })
    const write = this.seriesWrites.then(() => this.writeWithRoom(address, batch, outOfOrderMs))
    this.seriesWrites = write.catch(() => undefined)
    return write
  }

  private async writeWithRoom(address: ShardAddress, batch: Series[], outOfOrderMs: number) {
    const held = this.store.seriesCount()
    const { granted, limit } = await this.room(address, held, this.store.newSeries(batch))
    try {
      return {
        ...(await this.storeBatch(batch, { maxSeries: held + granted, outOfOrderMs })),
        seriesLimit: limit,
      }
    } finally {
      // Room granted and not used (series repeated in the batch, a failed write) goes back.
      const now = this.store.seriesCount()
      if (now !== held + granted) await this.ledgerOf(address).recordSeries(address.shard, now)
    }
  }

  private async storeBatch(batch: Series[], limits: WriteLimits): Promise<WriteOutcome> {
    const outcome = this.ctx.storage.transactionSync(() => this.store.write(batch, limits))
    if (outcome.samples > 0 && (await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + ROLLUP_EVERY_MS)
    return outcome
  }

  /** The shard that keeps the tenant's ledger: shard 0 (this object, when it is shard 0). */
  private ledgerOf(address: ShardAddress): Pick<MetricShard, 'reserveSeries' | 'recordSeries'> {
    return address.shard === 0 ? this : metricShard(this.env, address.tenant, 0)
  }

  private room(address: ShardAddress, held: number, wanted: number) {
    return this.ledgerOf(address).reserveSeries(address.shard, held, wanted)
  }

  /** Ledger (shard 0): `shard` holds `held` series and asks room for `wanted` more. */
  async reserveSeries(
    shard: number,
    held: number,
    wanted: number,
  ): Promise<{ granted: number; limit: number }> {
    const limit = await this.seriesLimit()
    return {
      granted: this.ctx.storage.transactionSync(() => this.ledger.reserve(shard, held, wanted, limit)),
      limit,
    }
  }

  /** Ledger (shard 0): `shard` holds `held` series now. */
  async recordSeries(shard: number, held: number): Promise<void> {
    this.ledger.record(shard, held)
  }

  /** The tenant's series limit (kept by shard 0); series above it stay, new ones are refused. */
  async setSeriesLimit(maxSeries: number): Promise<void> {
    await this.ctx.storage.put(SERIES_LIMIT_KEY, maxSeries)
  }

  async seriesLimit(): Promise<number> {
    return (await this.ctx.storage.get<number>(SERIES_LIMIT_KEY)) ?? MONITORING_LIMITS.maxSeries
  }

  /**
   * Rolls up every series' complete buckets, then deletes what retention no longer keeps
   * (one transaction each). Re-armed while the shard holds samples. As in Prometheus's TSDB,
   * retention counts back from the newest sample stored, not from the wall clock.
   */
  override async alarm(): Promise<void> {
    await this.rollUp()
  }

  /** One rollup and retention pass; returns buckets written and rows expired. */
  async rollUp(): Promise<{ buckets: number; expired: number }> {
    const retention = this.rollups.retention()
    const series = this.store.seriesBounds()
    const now = Math.max(...series.map((s) => s.maxT))
    let buckets = 0
    for (const s of series) {
      const final = Math.max(s.maxT - MONITORING_LIMITS.outOfOrderMs, now - retention.rawMs)
      buckets += this.ctx.storage.transactionSync(() =>
        this.rollups.roll(s.id, final, (id, from, to) => this.store.samples(id, from, to)),
      )
    }
    const expired = series.length > 0 ? this.ctx.storage.transactionSync(() => this.rollups.expire(now)) : 0
    if (series.length > 0) await this.ctx.storage.setAlarm(Date.now() + ROLLUP_EVERY_MS)
    return { buckets, expired }
  }

  async setRetention(retention: Retention): Promise<void> {
    this.ctx.storage.transactionSync(() => this.rollups.setRetention(retention))
  }

  async retention(): Promise<Retention> {
    return this.rollups.retention()
  }

  /** For each matcher set, the matching series with their `res` buckets ending in (from, to]. */
  async selectBuckets(
    sets: Matcher[][],
    res: number,
    from: number,
    to: number,
  ): Promise<Array<Array<{ labels: Labels; buckets: Bucket[] }>>> {
    const all = this.store.allSeries()
    return sets.map((matchers) =>
      filterSeries(all, matchers).map((s) => ({
        labels: s.labels,
        buckets: this.rollups.buckets(s.id, res, from, to, (id, a, b) => this.store.samples(id, a, b)),
      })),
    )
  }

  /** For each matcher set, the matching series with their samples in [from, to]. */
  async select(sets: Matcher[][], from: number, to: number): Promise<StoredSeries[][]> {
    const all = this.store.allSeries()
    return sets.map((matchers) =>
      filterSeries(all, matchers).map((s) => ({ labels: s.labels, ...this.store.samples(s.id, from, to) })),
    )
  }

  /**
   * Label sets of the series matching any of the matcher sets (all series when none given),
   * only those with samples or rollup buckets in `window` when one is given.
   */
  async labelSets(sets: Matcher[][], window?: { from: number; to: number }): Promise<Labels[]> {
    let all = this.store.allSeries()
    if (window) {
      const raw = this.store.seriesWithSamples(window.from, window.to)
      const rolled = this.rollups.seriesWithBuckets(window.from, window.to)
      all = all.filter((s) => raw.has(s.id) || rolled.has(s.id))
    }
    if (sets.length === 0) return all.map((s) => s.labels)
    const seen = new Set<number>()
    const out: Labels[] = []
    for (const matchers of sets) {
      for (const s of filterSeries(all, matchers)) {
        if (!seen.has(s.id)) {
          seen.add(s.id)
          out.push(s.labels)
        }
      }
    }
    return out
  }

  async stats(): Promise<ReturnType<MetricStore['stats']> & ReturnType<RollupStore['stats']>> {
    return { ...this.store.stats(), ...this.rollups.stats() }
  }
}

/**
 * `MetricShard`: the Durable Object holding one slice of a tenant's series,
 * `<tenant>:metrics:series#<shard>` (the shard is the series key's hash). A thin host over
 * `MetricStore`: each write batch is one `transactionSync`, reads match series by their
 * labels and return the samples in a time range.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import { anchored, type Matcher, matches } from './promql/ast'
import type { Labels, Series } from './series'
import { MetricStore, type StoredSeries, type WriteLimits, type WriteOutcome } from './store'

declare global {
  namespace Cloudflare {
    interface Env {
      METRIC_SHARDS: DurableObjectNamespace<MetricShard>
    }
  }
}

export const METRICS_KIND = 'metrics'

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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new MetricStore(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => this.store.migrate())
  }

  async write(batch: Series[], limits: WriteLimits): Promise<WriteOutcome> {
    return this.ctx.storage.transactionSync(() => this.store.write(batch, limits))
  }

  /** For each matcher set, the matching series with their samples in [from, to]. */
  async select(sets: Matcher[][], from: number, to: number): Promise<StoredSeries[][]> {
    const all = this.store.allSeries()
    return sets.map((matchers) =>
      filterSeries(all, matchers).map((s) => ({ labels: s.labels, ...this.store.samples(s.id, from, to) })),
    )
  }

  /** Label sets of the series matching any of the matcher sets (all series when none given). */
  async labelSets(sets: Matcher[][]): Promise<Labels[]> {
    const all = this.store.allSeries()
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

  async stats(): Promise<ReturnType<MetricStore['stats']>> {
    return this.store.stats()
  }
}

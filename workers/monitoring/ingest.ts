/**
 * Writing series: validate every series of a batch first (so a bad batch stores nothing),
 * then send each shard its slice in parallel. Each shard stores its slice in one transaction;
 * new series need room under the tenant's series limit (the platform's, or a lower one it
 * set), which the shards share through the ledger of shard 0 (series-ledger.ts).
 */
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import type { Env } from '../platform/env'
import { mergeSeries, SampleError, type Series, shardOfSeries, validateSeries } from './series'
import { metricShard } from './shard-object'
import type { WriteOutcome } from './store'

export interface TenantWriteOutcome extends WriteOutcome {
  /** The tenant's series limit the shards applied. */
  seriesLimit: number
}

export async function writeSeries(env: Env, tenant: string, batch: Series[]): Promise<TenantWriteOutcome> {
  const merged = mergeSeries(batch)
  for (const s of merged)
    validateSeries(s, MONITORING_LIMITS.maxLabels, MONITORING_LIMITS.maxLabelValueLength)
  const shards = MONITORING_LIMITS.shards
  const byShard = new Map<number, Series[]>()
  for (const s of merged) {
    const shard = shardOfSeries(s.labels, shards)
    byShard.set(shard, [...(byShard.get(shard) ?? []), s])
  }
  const outcomes = await Promise.all(
    [...byShard].map(([shard, slice]) => metricShard(env, tenant, shard).write({ tenant, shard }, slice)),
  )
  const total: TenantWriteOutcome = {
    samples: 0,
    outOfOrder: 0,
    limited: 0,
    seriesLimit: MONITORING_LIMITS.maxSeries,
  }
  for (const o of outcomes) {
    total.samples += o.samples
    total.outOfOrder += o.outOfOrder
    total.limited += o.limited
    if (o.seriesLimit !== undefined) total.seriesLimit = o.seriesLimit
  }
  return total
}

/** Why new series were refused, with the limit and where to see it; shared by every wire. */
export function seriesLimitMessage(outcome: TenantWriteOutcome): string {
  const { limited, seriesLimit, samples } = outcome
  return (
    `series limit reached: ${limited} new series refused (this tenant's limit is ${seriesLimit} series; ` +
    `see GET /v1/monitoring/limits); ${samples} samples stored`
  )
}

/**
 * The refusal a write outcome deserves on the Prometheus wires (none when all was stored): a
 * 400, which remote-write senders do not retry (a 429 would be retried forever).
 */
export function writeRefusal(outcome: TenantWriteOutcome): SampleError | undefined {
  if (outcome.limited > 0) return new SampleError(seriesLimitMessage(outcome))
  if (outcome.outOfOrder > 0) {
    return new SampleError(
      `${outcome.outOfOrder} samples out of order (older than the series' newest minus ${MONITORING_LIMITS.outOfOrderMs / 1000}s); ${outcome.samples} samples stored`,
    )
  }
  return undefined
}

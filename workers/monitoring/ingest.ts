/**
 * Writing series: validate every series of a batch first (so a bad batch stores nothing),
 * then send each shard its slice in parallel. Each shard stores its slice in one transaction;
 * the series limit is the tenant's limit divided evenly across its shards.
 */
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import type { Env } from '../platform/env'
import { mergeSeries, SampleError, type Series, shardOfSeries, validateSeries } from './series'
import { metricShard } from './shard-object'
import type { WriteOutcome } from './store'

export async function writeSeries(env: Env, tenant: string, batch: Series[]): Promise<WriteOutcome> {
  const merged = mergeSeries(batch)
  for (const s of merged)
    validateSeries(s, MONITORING_LIMITS.maxLabels, MONITORING_LIMITS.maxLabelValueLength)
  const shards = MONITORING_LIMITS.shards
  const byShard = new Map<number, Series[]>()
  for (const s of merged) {
    const shard = shardOfSeries(s.labels, shards)
    byShard.set(shard, [...(byShard.get(shard) ?? []), s])
  }
  const limits = {
    maxSeries: Math.ceil(MONITORING_LIMITS.maxSeries / shards),
    outOfOrderMs: MONITORING_LIMITS.outOfOrderMs,
  }
  const outcomes = await Promise.all(
    [...byShard].map(([shard, slice]) => metricShard(env, tenant, shard).write(slice, limits)),
  )
  const total: WriteOutcome = { samples: 0, outOfOrder: 0, limited: 0 }
  for (const o of outcomes) {
    total.samples += o.samples
    total.outOfOrder += o.outOfOrder
    total.limited += o.limited
  }
  return total
}

/**
 * The refusal a write outcome deserves on the Prometheus wires (none when all was stored): a
 * 400, which remote-write senders do not retry (a 429 would be retried forever).
 */
export function writeRefusal(outcome: WriteOutcome): SampleError | undefined {
  if (outcome.limited > 0) {
    return new SampleError(
      `series limit reached: ${outcome.limited} new series refused (limit ${MONITORING_LIMITS.maxSeries} per tenant); ${outcome.samples} samples stored`,
    )
  }
  if (outcome.outOfOrder > 0) {
    return new SampleError(
      `${outcome.outOfOrder} samples out of order (older than the series' newest minus ${MONITORING_LIMITS.outOfOrderMs / 1000}s); ${outcome.samples} samples stored`,
    )
  }
  return undefined
}

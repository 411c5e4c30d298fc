/**
 * Schemas and bounds of the monitoring block: ingest limits, the Prometheus HTTP API's query
 * parameters and the answers of `/v1/monitoring` (stats).
 */
import * as v from 'valibot'

export const MONITORING_LIMITS = {
  /** Largest request body as sent (remote-write, text pushes). */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Largest remote-write body after snappy decompression. */
  maxDecodedBytes: 32 * 1024 * 1024,
  /** Series shards per tenant (a series lives in the shard of its key's hash). */
  shards: 4,
  /** Series per tenant (cardinality), split evenly across its shards. */
  maxSeries: 20_000,
  /** How far behind a series' newest sample a sample may arrive and still be stored. */
  outOfOrderMs: 10 * 60_000,
  maxLabels: 40,
  maxLabelValueLength: 2048,
  /** Longest PromQL expression; most points a range query may return per series. */
  maxQueryLength: 8192,
  maxPoints: 11_000,
} as const

export const PushGrouping = v.pipe(
  v.string(),
  v.maxLength(1024),
  v.regex(/^([a-zA-Z_][a-zA-Z0-9_]*\/[^/]+)(\/[a-zA-Z_][a-zA-Z0-9_]*\/[^/]+)*$/, 'label/value pairs'),
)

export const WriteResult = v.object({
  samples: v.number(),
  outOfOrder: v.number(),
  limited: v.number(),
})

export const MetricStats = v.object({
  series: v.number(),
  sealedSamples: v.number(),
  sealedBytes: v.number(),
  bytesPerSample: v.nullable(v.number()),
  headSamples: v.number(),
})

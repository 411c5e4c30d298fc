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
  /** Series per tenant (cardinality), over all its shards together. */
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
  /** Rollup buckets stored (1m and 1h; each holds min, max, sum, count, last). */
  minuteBuckets: v.number(),
  hourBuckets: v.number(),
})

const RetentionDuration = v.pipe(
  v.string(),
  v.maxLength(32),
  v.regex(/^(\d+(ms|s|m|h|d|w|y))+$/, 'A Prometheus duration such as 15d or 2y'),
)

/** How long each resolution is kept, counted back from the tenant's newest sample. */
export const RetentionInput = v.strictObject({
  raw: v.optional(RetentionDuration),
  rollup1m: v.optional(RetentionDuration),
  rollup1h: v.optional(RetentionDuration),
})

export const RetentionView = v.object({
  raw: v.string(),
  rollup1m: v.string(),
  rollup1h: v.string(),
  rawSeconds: v.number(),
  rollup1mSeconds: v.number(),
  rollup1hSeconds: v.number(),
})

/** A tenant's own series limit: at most the platform's, over all its shards together. */
export const SeriesLimitInput = v.strictObject({
  maxSeries: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MONITORING_LIMITS.maxSeries)),
})

export const SeriesLimitView = v.object({
  /** New series past this many (over all shards) are refused (400). */
  maxSeries: v.number(),
  shards: v.number(),
  /** Series stored now, over all shards. */
  series: v.number(),
})

export const RETENTION_BOUNDS = { minMs: 3_600_000, maxMs: 10 * 365 * 86_400_000 } as const

// OTLP/HTTP metrics JSON (opentelemetry-proto's JSON mapping): the fields the translation
// uses. 64-bit integers arrive as strings or numbers; doubles may be "NaN" or "Infinity".
const OtlpInt = v.union([v.pipe(v.string(), v.regex(/^-?\d{1,20}$/)), v.number()])
const OtlpDouble = v.union([v.number(), v.picklist(['NaN', 'Infinity', '-Infinity'])])
const OtlpAnyValue: v.GenericSchema<unknown> = v.lazy(() =>
  v.object({
    stringValue: v.optional(v.string()),
    boolValue: v.optional(v.boolean()),
    intValue: v.optional(OtlpInt),
    doubleValue: v.optional(OtlpDouble),
    bytesValue: v.optional(v.string()),
    arrayValue: v.optional(v.object({ values: v.optional(v.array(OtlpAnyValue)) })),
    kvlistValue: v.optional(v.object({ values: v.optional(v.array(OtlpKeyValue)) })),
  }),
)
const OtlpKeyValue: v.GenericSchema<unknown> = v.object({ key: v.string(), value: v.optional(OtlpAnyValue) })
const OtlpAttributes = v.optional(v.array(OtlpKeyValue))
const OtlpBuckets = v.optional(
  v.object({ offset: v.optional(v.number()), bucketCounts: v.optional(v.array(OtlpInt)) }),
)
const OtlpPoint = v.object({
  attributes: OtlpAttributes,
  timeUnixNano: v.optional(OtlpInt),
  flags: v.optional(v.number()),
  asDouble: v.optional(OtlpDouble),
  asInt: v.optional(OtlpInt),
  count: v.optional(OtlpInt),
  sum: v.optional(OtlpDouble),
  bucketCounts: v.optional(v.array(OtlpInt)),
  explicitBounds: v.optional(v.array(OtlpDouble)),
  scale: v.optional(v.number()),
  zeroCount: v.optional(OtlpInt),
  zeroThreshold: v.optional(OtlpDouble),
  positive: OtlpBuckets,
  negative: OtlpBuckets,
  quantileValues: v.optional(
    v.array(v.object({ quantile: v.optional(OtlpDouble), value: v.optional(OtlpDouble) })),
  ),
})
const OtlpData = v.optional(
  v.object({
    dataPoints: v.optional(v.array(OtlpPoint)),
    aggregationTemporality: v.optional(v.union([v.number(), v.string()])),
    isMonotonic: v.optional(v.boolean()),
  }),
)
export const OtlpMetricsJson = v.object({
  resourceMetrics: v.optional(
    v.array(
      v.object({
        resource: v.optional(v.object({ attributes: OtlpAttributes })),
        scopeMetrics: v.optional(
          v.array(
            v.object({
              metrics: v.optional(
                v.array(
                  v.object({
                    name: v.optional(v.string()),
                    description: v.optional(v.string()),
                    unit: v.optional(v.string()),
                    gauge: OtlpData,
                    sum: OtlpData,
                    histogram: OtlpData,
                    exponentialHistogram: OtlpData,
                    summary: OtlpData,
                  }),
                ),
              ),
            }),
          ),
        ),
      }),
    ),
  ),
})
export type OtlpMetricsJson = v.InferOutput<typeof OtlpMetricsJson>

/**
 * Schemas of the logs block: Loki's push JSON, OTLP/HTTP logs JSON, NDJSON lines, tenant
 * settings and the query parameters of the Loki HTTP API. Every bound a shipper can hit is
 * here, so it shows in the OpenAPI document.
 */
import * as v from 'valibot'

export const LOGS_LIMITS = {
  /** Largest request body as sent (compressed or not). */
  maxBodyBytes: 10 * 1024 * 1024,
  /** Largest body after snappy or gzip decompression. */
  maxDecodedBytes: 32 * 1024 * 1024,
  /** Lines in one request. */
  maxBatchLines: 100_000,
  /** Labels of one stream; label names and values. */
  maxLabels: 30,
  maxLabelNameLength: 128,
  maxLabelValueLength: 2048,
  /** Structured metadata pairs of one line. */
  maxMetadata: 64,
  /** Longest line any tenant may configure. */
  maxLineBytesCeiling: 1024 * 1024,
  /** Lines a log query may return; points a metric query may compute per series. */
  maxQueryLimit: 5000,
  maxPoints: 11_000,
  /** Longest LogQL expression. */
  maxQueryLength: 8192,
  maxRetentionDays: 3650,
  maxShards: 16,
} as const

const LabelName = v.pipe(v.string(), v.maxLength(LOGS_LIMITS.maxLabelNameLength))
const LabelValue = v.pipe(v.string(), v.maxLength(LOGS_LIMITS.maxLabelValueLength))
const LabelSet = v.pipe(
  v.record(LabelName, LabelValue),
  v.check(
    (labels) => Object.keys(labels).length <= LOGS_LIMITS.maxLabels,
    `At most ${LOGS_LIMITS.maxLabels} labels`,
  ),
)
const Metadata = v.pipe(
  v.record(LabelName, LabelValue),
  v.check(
    (pairs) => Object.keys(pairs).length <= LOGS_LIMITS.maxMetadata,
    `At most ${LOGS_LIMITS.maxMetadata} pairs`,
  ),
)
/** Nanoseconds since the epoch as a decimal string (Loki's JSON). */
const NanosText = v.pipe(v.string(), v.regex(/^\d{1,19}$/, 'Nanoseconds since the epoch, as a string'))

/** `POST /loki/api/v1/push` with `Content-Type: application/json`. */
export const LokiPushJson = v.object({
  streams: v.pipe(
    v.array(
      v.object({
        stream: LabelSet,
        // The 3-item form first: a plain tuple would accept it and drop the metadata.
        values: v.array(
          v.union([v.strictTuple([NanosText, v.string(), Metadata]), v.strictTuple([NanosText, v.string()])]),
        ),
      }),
    ),
    v.maxLength(LOGS_LIMITS.maxBatchLines),
  ),
})

/** One NDJSON line of `POST /v1/logs/ndjson`: a line with labels, metadata and an optional time. */
export const NdjsonLine = v.object({
  /** The log line. */
  line: v.string(),
  labels: v.optional(LabelSet, {}),
  metadata: v.optional(Metadata),
  /** RFC 3339 text, or a number: seconds, ms, µs or ns since the epoch by magnitude; default now. */
  time: v.optional(v.union([v.pipe(v.string(), v.maxLength(40)), v.number()])),
})

// OTLP/HTTP JSON (opentelemetry-proto's JSON mapping): only the fields logs use.
const OtlpAnyValue: v.GenericSchema<unknown> = v.lazy(() =>
  v.object({
    stringValue: v.optional(v.string()),
    boolValue: v.optional(v.boolean()),
    intValue: v.optional(v.union([v.string(), v.number()])),
    doubleValue: v.optional(v.union([v.number(), v.string()])),
    bytesValue: v.optional(v.string()),
    arrayValue: v.optional(v.object({ values: v.optional(v.array(OtlpAnyValue)) })),
    kvlistValue: v.optional(v.object({ values: v.optional(v.array(OtlpKeyValue)) })),
  }),
)
const OtlpKeyValue: v.GenericSchema<unknown> = v.object({ key: v.string(), value: v.optional(OtlpAnyValue) })
const Attributes = v.optional(v.array(OtlpKeyValue))
const UnixNano = v.optional(v.union([v.pipe(v.string(), v.regex(/^\d{1,20}$/)), v.number()]))

export const OtlpLogsJson = v.object({
  resourceLogs: v.optional(
    v.array(
      v.object({
        resource: v.optional(v.object({ attributes: Attributes })),
        scopeLogs: v.optional(
          v.array(
            v.object({
              scope: v.optional(v.object({ name: v.optional(v.string()), version: v.optional(v.string()) })),
              logRecords: v.optional(
                v.array(
                  v.object({
                    timeUnixNano: UnixNano,
                    observedTimeUnixNano: UnixNano,
                    severityNumber: v.optional(v.union([v.number(), v.string()])),
                    severityText: v.optional(v.string()),
                    body: v.optional(OtlpAnyValue),
                    attributes: Attributes,
                    traceId: v.optional(v.string()),
                    spanId: v.optional(v.string()),
                    eventName: v.optional(v.string()),
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

const wholeNumber = (min: number, max: number) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))

/** A tenant's settings (`PUT /v1/logs/settings`); every field optional, defaults from configuration. */
export const LogSettingsRequest = v.object({
  /** Days a line is kept after its timestamp's day ends; both tiers. */
  retentionDays: v.optional(wholeNumber(1, LOGS_LIMITS.maxRetentionDays)),
  /** Hours after a day ends before its lines are compacted into archive chunks. */
  compactAfterHours: v.optional(wholeNumber(0, 24 * 365)),
  /** Ingest limits: lines per second and KiB per second (bursts up to 10 s worth), line size in bytes. */
  linesPerSecond: v.optional(wholeNumber(1, 100_000)),
  kibPerSecond: v.optional(wholeNumber(1, 100_000)),
  maxLineBytes: v.optional(wholeNumber(64, LOGS_LIMITS.maxLineBytesCeiling)),
  /** Shards per day; streams are spread over them by a hash of their labels. */
  shards: v.optional(wholeNumber(1, LOGS_LIMITS.maxShards)),
})

export const LogSettings = v.object({
  retentionDays: v.number(),
  compactAfterHours: v.number(),
  linesPerSecond: v.number(),
  kibPerSecond: v.number(),
  maxLineBytes: v.number(),
  shards: v.number(),
})

export const IngestResult = v.object({
  accepted: v.number(),
  rejected: v.number(),
  duplicate: v.boolean(),
})

export const ShardStats = v.object({
  shards: v.array(
    v.object({
      day: v.number(),
      shard: v.number(),
      lines: v.number(),
      streams: v.number(),
      chunks: v.number(),
    }),
  ),
})

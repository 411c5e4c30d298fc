/**
 * An OTLP `ExportMetricsServiceRequest` in OTLP's JSON mapping → the model in model.ts,
 * checked against `OtlpMetricsJson` first. Guarantees: anything malformed throws
 * `SampleError` (400) before anything is stored. Cost: one pass after `JSON.parse`.
 */
import * as v from 'valibot'
import { OtlpMetricsJson } from '../../../schemas/monitoring'
import { type OtlpJsonAnyValue, otlpJsonValue } from '../../platform/otlp-json'
import { SampleError } from '../series'
import type { Attributes, Buckets, DataPoint, Metric, MetricKind, ResourceMetrics } from './model'

type Json = v.InferOutput<typeof OtlpMetricsJson>
type JsonMetric = NonNullable<
  NonNullable<NonNullable<Json['resourceMetrics']>[number]['scopeMetrics']>[number]['metrics']
>[number]
type JsonPoint = NonNullable<NonNullable<JsonMetric['gauge']>['dataPoints']>[number]

const num = (x: string | number | undefined): number | undefined => (x === undefined ? undefined : Number(x))
const nanos = (x: string | number | undefined) =>
  x === undefined ? 0n : BigInt(typeof x === 'number' ? Math.round(x) : x)

function attributes(list: unknown[] | undefined): Attributes {
  return ((list ?? []) as Array<{ key: string; value?: OtlpJsonAnyValue }>).map(({ key, value }) => {
    const p = otlpJsonValue(value)
    return [key, p === null ? '' : typeof p === 'object' ? JSON.stringify(p) : String(p)]
  })
}

const buckets = (b: { offset?: number; bucketCounts?: Array<string | number> } | undefined): Buckets => ({
  offset: b?.offset ?? 0,
  counts: (b?.bucketCounts ?? []).map(Number),
})

function point(p: JsonPoint): DataPoint {
  const out: DataPoint = { attributes: attributes(p.attributes), timeNanos: nanos(p.timeUnixNano), flags: 0 }
  out.flags = p.flags ?? 0
  const value = p.asDouble !== undefined ? Number(p.asDouble) : num(p.asInt)
  if (value !== undefined) out.value = value
  if (p.count !== undefined) out.count = Number(p.count)
  if (p.sum !== undefined) out.sum = Number(p.sum)
  if (p.bucketCounts) out.bucketCounts = p.bucketCounts.map(Number)
  if (p.explicitBounds) out.bounds = p.explicitBounds.map(Number)
  if (p.scale !== undefined) out.scale = p.scale
  if (p.zeroCount !== undefined) out.zeroCount = Number(p.zeroCount)
  if (p.zeroThreshold !== undefined) out.zeroThreshold = Number(p.zeroThreshold)
  if (p.positive) out.positive = buckets(p.positive)
  if (p.negative) out.negative = buckets(p.negative)
  if (p.quantileValues)
    out.quantiles = p.quantileValues.map((q) => [Number(q.quantile ?? 0), Number(q.value ?? 0)])
  return out
}

const TEMPORALITY: Record<string, number> = {
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
}

function metric(m: JsonMetric): Metric {
  const kinds: Array<[MetricKind, JsonMetric['gauge']]> = [
    ['gauge', m.gauge],
    ['sum', m.sum],
    ['histogram', m.histogram],
    ['exponential_histogram', m.exponentialHistogram],
    ['summary', m.summary],
  ]
  const [kind, data] = kinds.find(([, d]) => d !== undefined) ?? [undefined, undefined]
  const t = data?.aggregationTemporality
  return {
    name: m.name ?? '',
    description: m.description ?? '',
    unit: m.unit ?? '',
    kind,
    monotonic: data?.isMonotonic ?? false,
    temporality: typeof t === 'string' ? (TEMPORALITY[t] ?? 0) : (t ?? 0),
    points: (data?.dataPoints ?? []).map(point),
  }
}

export function decodeOtlpMetricsJson(body: string): ResourceMetrics[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new SampleError('the body is not valid JSON')
  }
  const result = v.safeParse(OtlpMetricsJson, parsed)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue?.path?.map((p) => p.key).join('.') ?? ''
    throw new SampleError(
      `invalid OTLP metrics${path ? ` at ${path}` : ''}: ${issue?.message ?? 'bad input'}`,
    )
  }
  return (result.output.resourceMetrics ?? []).map((rm) => ({
    resource: attributes(rm.resource?.attributes),
    metrics: (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map(metric)),
  }))
}

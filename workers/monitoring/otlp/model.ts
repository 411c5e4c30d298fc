/**
 * OTLP metrics as both wires decode them (protobuf and JSON give the same model), before the
 * translation to Prometheus series (translate.ts).
 */

/** An attribute's value as a label value: scalars as text, arrays and maps as JSON. */
export type Attributes = Array<[string, string]>

export interface Buckets {
  offset: number
  counts: number[]
}

export interface DataPoint {
  attributes: Attributes
  timeNanos: bigint
  /** Bit 0: no recorded value (the series went away; a gauge or cumulative sum gets a stale marker). */
  flags: number
  /** Gauge and sum points. */
  value?: number
  /** Histogram, exponential histogram and summary points. */
  count?: number
  sum?: number
  /** Classic histograms: `bounds.length + 1` counts, the last one above every bound. */
  bucketCounts?: number[]
  bounds?: number[]
  /** Exponential histograms. */
  scale?: number
  zeroCount?: number
  zeroThreshold?: number
  positive?: Buckets
  negative?: Buckets
  /** Summaries: [quantile, value]. */
  quantiles?: Array<[number, number]>
}

export type MetricKind = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary'

/** `AggregationTemporality`: 1 delta, 2 cumulative (0 unspecified). */
export const DELTA = 1

export interface Metric {
  name: string
  description: string
  unit: string
  kind: MetricKind | undefined
  monotonic: boolean
  temporality: number
  points: DataPoint[]
}

export interface ResourceMetrics {
  resource: Attributes
  metrics: Metric[]
}

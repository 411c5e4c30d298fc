/**
 * OTLP metrics → Prometheus series, following Prometheus's own OTLP translator:
 * - names: split at every character outside `[a-zA-Z0-9:]`, joined with `_`, the unit
 *   appended as a word (`s` → `seconds`, `By` → `bytes`, `m/s` → `meters_per_second`,
 *   `{requests}` annotations dropped), `_total` for monotonic sums, `_ratio` for gauges of
 *   unit `1`; a leading digit gets a `_` prefix;
 * - labels: point attributes with invalid characters replaced by `_` (`key_` before a leading
 *   digit); `service.namespace`/`service.name` → `job`, `service.instance.id` → `instance`;
 *   the other resource attributes go to one `target_info` series per resource (value 1);
 * - gauges and cumulative sums as they are; delta sums and delta histograms are accumulated
 *   into running totals by the storing shard (so `rate()` works), and a delta older than
 *   the series' newest sample is refused; histograms → `_bucket{le}` (cumulative),
 *   `_sum`, `_count`; exponential histograms → classic buckets at the exponential bounds
 *   `2^(2^-scale·(i+1))`, merged (scale lowered) until at most `EXPONENTIAL_MAX_BUCKETS`
 *   remain, negative and zero-bucket counts folded into `le=<zero threshold>`; summaries →
 *   `{quantile}`, `_sum`, `_count`. Points flagged "no recorded value" are skipped.
 *
 * Guarantees: a point that cannot be stored (no name, bucket counts that do not match the
 * bounds, an invalid label set) is rejected alone and counted, the rest is kept (OTLP's
 * partial success). Cost: O(points × buckets).
 */
import { MONITORING_LIMITS } from '../../../schemas/monitoring'
import type { MetricMetadata, MetricType } from '../metadata'
import { type Labels, SampleError, type Series, validateSeries } from '../series'
import { type Attributes, type DataPoint, DELTA, type Metric, type ResourceMetrics } from './model'

export const EXPONENTIAL_MAX_BUCKETS = 40

const UNITS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
}
const PER_UNITS: Record<string, string> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
}
const cleanUnit = (unit: string) => unit.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')

/** The Prometheus name of an OTLP metric (see the file comment). */
export function prometheusName(metric: Pick<Metric, 'name' | 'unit' | 'kind' | 'monotonic'>): string {
  let tokens = metric.name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '')
  const [main = '', per] = metric.unit.split('/', 2).map((u) => u.trim())
  let mainWord = main && !/[{}]/.test(main) ? cleanUnit(UNITS[main] ?? main) : ''
  if (tokens.includes(mainWord)) mainWord = ''
  let perWord = per && !/[{}]/.test(per) ? cleanUnit(PER_UNITS[per] ?? per) : ''
  if (perWord) perWord = `per_${perWord}`
  if (mainWord) tokens.push(mainWord)
  if (perWord && !tokens.join('_').endsWith(perWord)) tokens.push(perWord)
  if (metric.kind === 'sum' && metric.monotonic) tokens = [...tokens.filter((t) => t !== 'total'), 'total']
  if (metric.unit === '1' && metric.kind === 'gauge')
    tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio']
  const name = tokens.join('_')
  return /^[0-9]/.test(name) ? `_${name}` : name
}

/** A Prometheus label name for an attribute key. */
export function labelName(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_')
  if (/^[0-9]/.test(name)) return `key_${name}`
  if (name.startsWith('_') && !name.startsWith('__')) return `key${name}`
  return name
}

/** Labels from attributes; keys that collide after sanitizing join their values with `;`. */
function labelsOf(attributes: Attributes, into: Labels = {}): Labels {
  for (const [key, value] of attributes) {
    if (value === '') continue
    const name = labelName(key)
    into[name] = into[name] === undefined ? value : `${into[name]};${value}`
  }
  return into
}

function resourceLabels(resource: Attributes): { target: Labels; info: Labels } {
  const get = (key: string) => resource.find(([k]) => k === key)?.[1] ?? ''
  const target: Labels = {}
  const name = get('service.name')
  const namespace = get('service.namespace')
  if (name) target.job = namespace ? `${namespace}/${name}` : name
  if (get('service.instance.id')) target.instance = get('service.instance.id')
  const rest = resource.filter(
    ([k]) => !['service.name', 'service.namespace', 'service.instance.id'].includes(k),
  )
  return { target, info: labelsOf(rest) }
}

const boundText = (bound: number) => (bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound))

/** Classic cumulative buckets [(le, count)] of an exponential histogram point. */
export function exponentialBuckets(p: DataPoint): Array<[number, number]> {
  let scale = p.scale ?? 0
  let { offset, counts } = p.positive ?? { offset: 0, counts: [] }
  // Lowering the scale by one merges bucket pairs: index i goes to floor(i / 2).
  while (counts.length > EXPONENTIAL_MAX_BUCKETS) {
    const merged: number[] = []
    const first = Math.floor(offset / 2)
    counts.forEach((c, k) => {
      const at = Math.floor((offset + k) / 2) - first
      merged[at] = (merged[at] ?? 0) + c
    })
    offset = first
    counts = merged
    scale--
  }
  const base = 2 ** (2 ** -scale)
  const below = (p.zeroCount ?? 0) + (p.negative?.counts ?? []).reduce((a, c) => a + c, 0)
  const out: Array<[number, number]> = [[p.zeroThreshold ?? 0, below]]
  let cumulative = below
  counts.forEach((c, k) => {
    cumulative += c
    out.push([base ** (offset + k + 1), cumulative])
  })
  return out
}

/** The Prometheus metric type of an OTLP metric (a non-monotonic sum is a gauge). */
function metricType(metric: Metric): MetricType {
  if (metric.kind === 'sum') return metric.monotonic ? 'counter' : 'gauge'
  if (metric.kind === 'histogram' || metric.kind === 'exponential_histogram') return 'histogram'
  return metric.kind ?? 'unknown'
}

export interface Translation {
  series: Series[]
  /** Each named metric's type, description and unit, for `/api/v1/metadata`. */
  metadata: MetricMetadata[]
  rejected: number
  /** The first rejection's reason (OTLP's `errorMessage`). */
  reason: string
}

export function translateOtlp(resources: ResourceMetrics[], nowMs: number): Translation {
  const out: Translation = { series: [], metadata: [], rejected: 0, reason: '' }
  const reject = (count: number, reason: string) => {
    out.rejected += count
    out.reason ||= reason
  }
  for (const { resource, metrics } of resources) {
    const { target, info } = resourceLabels(resource)
    let newest = 0
    for (const metric of metrics) {
      if (!metric.kind || metric.name === '') {
        reject(Math.max(1, metric.points.length), 'a metric without a name or data')
        continue
      }
      const name = prometheusName(metric)
      out.metadata.push({
        metric: name,
        type: metricType(metric),
        help: metric.description,
        unit: metric.unit,
      })
      const delta = metric.temporality === DELTA && metric.kind !== 'gauge' && metric.kind !== 'summary'
      for (const p of metric.points) {
        const t = p.timeNanos > 0n ? Number(p.timeNanos / 1_000_000n) : nowMs
        const base = labelsOf(p.attributes, { ...target })
        const points: Series[] = []
        const add = (suffix: string, extra: Labels, value: number) =>
          points.push({
            labels: { ...base, ...extra, __name__: `${name}${suffix}` },
            times: [t],
            values: [value],
            ...(delta ? { delta: true } : {}),
          })
        if ((p.flags & 1) === 1) {
          // No recorded value: the series went away. A gauge or cumulative sum (one series) gets a
          // staleness marker; the series of a histogram or summary point are not named by it.
          if (delta || (metric.kind !== 'gauge' && metric.kind !== 'sum')) continue
          points.push({ labels: { ...base, __name__: name }, times: [], values: [], stale: [t] })
        } else if (metric.kind === 'gauge' || metric.kind === 'sum') {
          if (p.value === undefined) {
            reject(1, `a point of ${metric.name} has no value`)
            continue
          }
          add('', {}, p.value)
        } else if (metric.kind === 'histogram') {
          const bounds = p.bounds ?? []
          const counts = p.bucketCounts ?? []
          if (counts.length > 0 && counts.length !== bounds.length + 1) {
            reject(
              1,
              `a histogram point of ${metric.name} has ${counts.length} bucket counts for ${bounds.length} bounds`,
            )
            continue
          }
          let cumulative = 0
          bounds.forEach((bound, i) => {
            cumulative += counts[i] ?? 0
            add('_bucket', { le: boundText(bound) }, cumulative)
          })
          add('_bucket', { le: '+Inf' }, p.count ?? 0)
        } else if (metric.kind === 'exponential_histogram') {
          const scale = p.scale ?? 0
          const offsets = [p.positive?.offset ?? 0, p.negative?.offset ?? 0]
          // OTLP's scales are -10..20; bucket indexes stay far inside ±2^31.
          if (
            !Number.isInteger(scale) ||
            scale < -10 ||
            scale > 20 ||
            offsets.some((o) => !Number.isInteger(o) || Math.abs(o) > 2 ** 31)
          ) {
            reject(
              1,
              `an exponential histogram point of ${metric.name} has scale ${scale} or an offset out of range`,
            )
            continue
          }
          for (const [bound, count] of exponentialBuckets(p)) add('_bucket', { le: boundText(bound) }, count)
          add('_bucket', { le: '+Inf' }, p.count ?? 0)
        } else {
          for (const [quantile, value] of p.quantiles ?? []) add('', { quantile: String(quantile) }, value)
        }
        if (metric.kind !== 'gauge' && metric.kind !== 'sum') {
          if (p.sum !== undefined) add('_sum', {}, p.sum)
          add('_count', {}, p.count ?? 0)
        }
        try {
          for (const s of points)
            validateSeries(s, MONITORING_LIMITS.maxLabels, MONITORING_LIMITS.maxLabelValueLength)
        } catch (error) {
          if (!(error instanceof SampleError)) throw error
          reject(1, error.message)
          continue
        }
        out.series.push(...points)
        newest = Math.max(newest, t)
      }
    }
    if (newest > 0 && Object.keys(info).length > 0) {
      const s: Series = {
        labels: { ...info, ...target, __name__: 'target_info' },
        times: [newest],
        values: [1],
      }
      try {
        validateSeries(s, MONITORING_LIMITS.maxLabels, MONITORING_LIMITS.maxLabelValueLength)
        out.series.push(s)
      } catch (error) {
        if (!(error instanceof SampleError)) throw error
      }
    }
  }
  return out
}

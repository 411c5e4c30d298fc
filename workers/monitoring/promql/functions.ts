/**
 * PromQL functions over range and instant vectors, following Prometheus 2.x exactly where
 * answers must agree: `rate`/`increase`/`delta` extrapolate like `extrapolatedRate`
 * (counter resets, the 1.1 × average-interval threshold, the zero-point clamp for counters),
 * `irate`/`idelta` use the last two samples, `histogram_quantile` interpolates linearly inside
 * the bucket like `bucketQuantile` (monotonic fix-up, `+Inf` bucket required).
 * Cost: O(samples in the range) per series and step.
 */
import type { Labels } from '../series'
import { PromQLError } from './parser'

export interface Range {
  labels: Labels
  times: number[]
  values: number[]
  /** Staleness markers (ascending times): range functions never see them; see `latestSample`. */
  stale?: number[]
}

function extrapolatedRate(
  r: Range,
  start: number,
  end: number,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  const n = r.times.length
  if (n < 2) return undefined
  const first = r.values[0] as number
  const last = r.values[n - 1] as number
  let result = last - first
  if (isCounter) {
    for (let i = 1; i < n; i++) {
      const prev = r.values[i - 1] as number
      if ((r.values[i] as number) < prev) result += prev
    }
  }
  const firstT = r.times[0] as number
  const lastT = r.times[n - 1] as number
  let durationToStart = (firstT - start) / 1000
  const durationToEnd = (end - lastT) / 1000
  const sampled = (lastT - firstT) / 1000
  const average = sampled / (n - 1)
  if (isCounter && result > 0 && first >= 0) {
    const durationToZero = sampled * (first / result)
    if (durationToZero < durationToStart) durationToStart = durationToZero
  }
  const threshold = average * 1.1
  let interval = sampled
  interval += durationToStart < threshold ? durationToStart : average / 2
  interval += durationToEnd < threshold ? durationToEnd : average / 2
  result *= interval / sampled
  if (isRate) result /= (end - start) / 1000
  return result
}

function instant(r: Range, isRate: boolean): number | undefined {
  const n = r.times.length
  if (n < 2) return undefined
  const last = r.values[n - 1] as number
  const prev = r.values[n - 2] as number
  let result = isRate && last < prev ? last : last - prev
  if (!isRate) return result
  const dt = ((r.times[n - 1] as number) - (r.times[n - 2] as number)) / 1000
  if (dt === 0) return undefined
  result /= dt
  return result
}

function mean(values: number[]): number {
  let m = 0
  values.forEach((v, i) => {
    m += (v - m) / (i + 1)
  })
  return m
}

function variance(values: number[]): number {
  let count = 0
  let m = 0
  let aux = 0
  for (const v of values) {
    count++
    const delta = v - m
    m += delta / count
    aux += delta * (v - m)
  }
  return aux / count
}

export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return Number.NaN
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  const sorted = [...values].sort((a, b) => a - b)
  const rank = q * (sorted.length - 1)
  const lower = Math.max(0, Math.floor(rank))
  const upper = Math.min(sorted.length - 1, lower + 1)
  const weight = rank - Math.floor(rank)
  return (sorted[lower] as number) * (1 - weight) + (sorted[upper] as number) * weight
}

/** Range-vector functions: name → (range, window start, window end) → value or none. */
export const RANGE_FUNCTIONS: Record<
  string,
  (r: Range, start: number, end: number, arg?: number) => number | undefined
> = {
  rate: (r, s, e) => extrapolatedRate(r, s, e, true, true),
  increase: (r, s, e) => extrapolatedRate(r, s, e, true, false),
  delta: (r, s, e) => extrapolatedRate(r, s, e, false, false),
  irate: (r) => instant(r, true),
  idelta: (r) => instant(r, false),
  resets: (r) => r.values.filter((v, i) => i > 0 && v < (r.values[i - 1] as number)).length,
  changes: (r) =>
    r.values.filter(
      (v, i) => i > 0 && v !== r.values[i - 1] && !(Number.isNaN(v) && Number.isNaN(r.values[i - 1])),
    ).length,
  avg_over_time: (r) => mean(r.values),
  sum_over_time: (r) => r.values.reduce((a, b) => a + b, 0),
  min_over_time: (r) => r.values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a)),
  max_over_time: (r) => r.values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a)),
  count_over_time: (r) => r.values.length,
  last_over_time: (r) => r.values[r.values.length - 1],
  present_over_time: () => 1,
  stddev_over_time: (r) => Math.sqrt(variance(r.values)),
  stdvar_over_time: (r) => variance(r.values),
  quantile_over_time: (r, _s, _e, q) => quantile(q ?? Number.NaN, r.values),
}

/** Range functions that keep the metric name (Prometheus 2.x). */
export const KEEPS_NAME = new Set(['last_over_time'])

/** Element-wise math on instant vectors (the metric name is dropped). */
export const MATH_FUNCTIONS: Record<string, (v: number, args: number[]) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  sgn: Math.sign,
  round: (v, [to = 1]) => Math.floor(v * (1 / to) + 0.5) / (1 / to),
  clamp_min: (v, [min = Number.NaN]) => Math.max(v, min),
  clamp_max: (v, [max = Number.NaN]) => Math.min(v, max),
  clamp: (v, [min = Number.NaN, max = Number.NaN]) =>
    max < min ? Number.NaN : Math.max(min, Math.min(max, v)),
}

/**
 * Calendar functions of a Unix time in seconds, in UTC (`minute(v)`, …); with no argument they
 * apply to `vector(time())`. As in Prometheus, the seconds are truncated to a whole number.
 */
export const DATE_FUNCTIONS: Record<string, (d: Date) => number> = {
  minute: (d) => d.getUTCMinutes(),
  hour: (d) => d.getUTCHours(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_month: (d) => d.getUTCDate(),
  day_of_year: (d) => Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1,
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
}

/** `histogram_quantile` over one group's buckets (upper bound → cumulative count). */
export function bucketQuantile(q: number, buckets: Array<{ upper: number; count: number }>): number {
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  const b = [...buckets].sort((x, y) => x.upper - y.upper)
  if (b.length === 0 || (b[b.length - 1] as { upper: number }).upper !== Number.POSITIVE_INFINITY)
    return Number.NaN
  for (let i = 1; i < b.length; i++) {
    const cur = b[i] as { count: number }
    const prev = b[i - 1] as { count: number }
    if (cur.count < prev.count) cur.count = prev.count
  }
  if (b.length < 2) return Number.NaN
  const observations = (b[b.length - 1] as { count: number }).count
  if (observations === 0) return Number.NaN
  let rank = q * observations
  let i = b.findIndex((x) => x.count >= rank)
  if (i < 0) i = b.length - 1
  if (i === b.length - 1) return (b[b.length - 2] as { upper: number }).upper
  const bucket = b[i] as { upper: number; count: number }
  if (i === 0 && bucket.upper <= 0) return bucket.upper
  let start = 0
  let count = bucket.count
  if (i > 0) {
    const prev = b[i - 1] as { upper: number; count: number }
    start = prev.upper
    count -= prev.count
    rank -= prev.count
  }
  return start + (bucket.upper - start) * (rank / count)
}

export function expectArgs(name: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new PromQLError(
      `expected ${min === max ? min : `${min} to ${max}`} argument(s) in call to "${name}", got ${args.length}`,
    )
  }
}

/**
 * Downsampled rollups: per series and resolution (1m, 1h), one bucket per interval
 * (end − res, end] holding min, max, sum, count and the last sample (value and time).
 *
 * Range queries use them instead of raw samples when that gives the raw answer exactly
 * (to floating-point summation order): every selector sits in `min|max|sum|count|avg|
 * last_over_time(sel[R])`, and R, the step and start − offset are multiples of the
 * resolution. Then each step's window [t − R, t] is exactly the buckets ending in
 * (t − R, t] plus one sample at t − R, which is a bucket's `last` when its time is the
 * bucket's end. `planRollups` rewrites the expression over synthetic series that the
 * unchanged evaluator reads:
 *   max/min: each bucket's max/min at end − res + 1, and each boundary sample at its time;
 *   sum:     each bucket's sum without its boundary sample at end − res + 1, plus boundary samples;
 *   count:   as sum, over counts (count_over_time becomes sum_over_time);
 *   avg:     sum_over_time(sums) / sum_over_time(counts);
 *   last:    each bucket's last sample at its own time.
 * Cost: a 24 h range at 1h reads 24 buckets per series instead of ~5,760 samples at 15 s.
 */
import type { Expr, VectorSelector } from './promql/ast'
import type { Range } from './promql/functions'

export const RESOLUTIONS = [3_600_000, 60_000] as const

export interface Bucket {
  end: number
  min: number
  max: number
  sum: number
  count: number
  last: number
  lastT: number
}

const lower = (a: number, b: number) => (b < a || Number.isNaN(a) ? b : a)
const higher = (a: number, b: number) => (b > a || Number.isNaN(a) ? b : a)

/** Buckets of `res` over ascending samples; every sample lands in the bucket (end − res, end]. */
export function bucketize(times: number[], values: number[], res: number): Bucket[] {
  const out: Bucket[] = []
  let current: Bucket | undefined
  times.forEach((t, i) => {
    const v = values[i] as number
    const end = Math.ceil(t / res) * res
    if (!current || current.end !== end) {
      current = { end, min: v, max: v, sum: v, count: 1, last: v, lastT: t }
      out.push(current)
      return
    }
    current.min = lower(current.min, v)
    current.max = higher(current.max, v)
    current.sum += v
    current.count++
    current.last = v
    current.lastT = t
  })
  return out
}

export type RollupFn = 'max' | 'min' | 'sum' | 'count' | 'last'

/** The synthetic series a rewritten selector reads (see the header). */
export function synthesize(
  buckets: Bucket[],
  fn: RollupFn,
  res: number,
): { times: number[]; values: number[] } {
  const points: Array<[number, number]> = []
  for (const b of buckets) {
    const edge = b.lastT === b.end
    const start = b.end - res + 1
    switch (fn) {
      case 'max':
      case 'min':
        points.push([start, fn === 'max' ? b.max : b.min])
        if (edge) points.push([b.end, b.last])
        break
      case 'sum':
      case 'count': {
        const inner = fn === 'sum' ? (edge ? b.sum - b.last : b.sum) : edge ? b.count - 1 : b.count
        if (!edge || b.count > 1) points.push([start, inner])
        if (edge) points.push([b.end, fn === 'sum' ? b.last : 1])
        break
      }
      case 'last':
        points.push([b.lastT, b.last])
        break
    }
  }
  points.sort((a, b) => a[0] - b[0])
  return { times: points.map((p) => p[0]), values: points.map((p) => p[1]) }
}

export interface RollupPlan {
  res: number
  expr: Expr
  /** Each rewritten selector with the function its synthetic series serves. */
  selectors: Array<{ selector: VectorSelector; rangeMs: number; fn: RollupFn }>
}

const FNS: Record<string, RollupFn | 'avg'> = {
  max_over_time: 'max',
  min_over_time: 'min',
  sum_over_time: 'sum',
  count_over_time: 'count',
  avg_over_time: 'avg',
  last_over_time: 'last',
}

/** A rewrite of `expr` over rollups of the coarsest usable resolution, or undefined. */
export function planRollups(expr: Expr, start: number, step: number): RollupPlan | undefined {
  for (const res of RESOLUTIONS) {
    if (step < res || step % res !== 0) continue
    const selectors: RollupPlan['selectors'] = []
    const rewritten = rewrite(expr, res, start, selectors)
    if (rewritten && selectors.length > 0) return { res, expr: rewritten, selectors }
  }
  return undefined
}

function rewrite(expr: Expr, res: number, start: number, out: RollupPlan['selectors']): Expr | undefined {
  switch (expr.kind) {
    case 'number':
    case 'string':
      return expr
    case 'selector':
    case 'matrix':
    case 'subquery':
      return undefined
    case 'unary': {
      const inner = rewrite(expr.expr, res, start, out)
      return inner && { ...expr, expr: inner }
    }
    case 'binary': {
      const lhs = rewrite(expr.lhs, res, start, out)
      const rhs = lhs && rewrite(expr.rhs, res, start, out)
      return rhs && { ...expr, lhs: lhs as Expr, rhs }
    }
    case 'aggregate': {
      const inner = rewrite(expr.expr, res, start, out)
      const param = expr.param === undefined ? undefined : rewrite(expr.param, res, start, out)
      if (!inner || (expr.param !== undefined && !param)) return undefined
      return { ...expr, expr: inner, ...(param ? { param } : {}) }
    }
    case 'call': {
      const fn = FNS[expr.name]
      const arg = expr.args[0]
      if (fn && expr.args.length === 1 && arg?.kind === 'matrix') {
        const { selector, rangeMs } = arg
        if (selector.at !== undefined) return undefined
        if (rangeMs % res !== 0 || (((start - selector.offsetMs) % res) + res) % res !== 0) return undefined
        const use = (f: RollupFn, name: string): Expr => {
          const copy: VectorSelector = { ...selector, matchers: [...selector.matchers] }
          out.push({ selector: copy, rangeMs, fn: f })
          return { kind: 'call', name, args: [{ kind: 'matrix', selector: copy, rangeMs }] }
        }
        if (fn === 'avg')
          return {
            kind: 'binary',
            op: '/',
            lhs: use('sum', 'sum_over_time'),
            rhs: use('count', 'sum_over_time'),
            bool: false,
          }
        return use(fn, fn === 'count' ? 'sum_over_time' : expr.name)
      }
      const args: Expr[] = []
      for (const a of expr.args) {
        const r = rewrite(a, res, start, out)
        if (!r) return undefined
        args.push(r)
      }
      return { ...expr, args }
    }
  }
}

/** Synthetic ranges for one rewritten selector from each series' buckets. */
export function syntheticRanges(
  series: Array<{ labels: Range['labels']; buckets: Bucket[] }>,
  fn: RollupFn,
  res: number,
): Range[] {
  return series.map((s) => ({ labels: s.labels, ...synthesize(s.buckets, fn, res) }))
}

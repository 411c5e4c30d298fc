/**
 * PromQL evaluation at one instant over preloaded series (the engine steps through a range
 * query by calling it once per step, as Prometheus does). Instant selectors take each
 * series' latest sample within the 5-minute lookback, range selectors every sample in
 * [t − range, t] (both ends inclusive, Prometheus 2.x), both pinned by `@` and shifted by
 * `offset`; subqueries and range selectors both feed range functions (see subquery.ts).
 *
 * Guarantees: pure (no I/O, `now` is the evaluation time); errors are `PromQLError`s with
 * Prometheus's messages for the common cases. Cost: O(series × samples in range) per step.
 */
import type { Labels } from '../series'
import { seriesKey } from '../series'
import { aggregate } from './aggregate'
import type { Expr, Subquery, VectorSelector } from './ast'
import { ARITHMETIC, operate, vectors, withoutName, withScalar } from './binary'
import {
  bucketQuantile,
  DATE_FUNCTIONS,
  expectArgs,
  KEEPS_NAME,
  MATH_FUNCTIONS,
  RANGE_FUNCTIONS,
  type Range,
} from './functions'
import { labelJoin, labelReplace } from './labels'
import { AGGREGATIONS, PromQLError } from './parser'
import type { Sample } from './sample'
import { atTime, type Bounds, expectVector, subqueryRanges, subqueryTimes } from './subquery'

export const LOOKBACK_MS = 5 * 60_000

export type Value =
  | { type: 'scalar'; value: number }
  | { type: 'string'; value: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: Range[] }

/** The series each selector matched, loaded over the whole time the query needs. */
export type SelectorData = Map<VectorSelector, Range[]>

/** First index with times[i] >= t. */
function lowerBound(times: number[], t: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((times[mid] as number) < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The index of a series' value at `to` for an instant vector: its newest sample at or before
 * `to`, if within the lookback and not followed by a staleness marker at or before `to`
 * (Prometheus's staleness: a series that went stale has no value until its next sample).
 * -1 when there is none.
 */
function latestSample(r: Range, to: number): number {
  const i = lowerBound(r.times, to + 1) - 1
  if (i < 0 || (r.times[i] as number) < to - LOOKBACK_MS) return -1
  const stale = r.stale ?? []
  const marker = lowerBound(stale, to + 1) - 1
  return marker >= 0 && (stale[marker] as number) > (r.times[i] as number) ? -1 : i
}

function window(r: Range, from: number, to: number): Range {
  const a = lowerBound(r.times, from)
  const b = lowerBound(r.times, to + 1)
  return { labels: r.labels, times: r.times.slice(a, b), values: r.values.slice(a, b) }
}

export class Evaluator {
  /** Each subquery's vector per evaluation time (a range query revisits the same times). */
  private readonly points = new Map<Subquery, Map<number, Sample[]>>()

  /** `bounds` are the query's start and end, which `@ start()`/`@ end()` name. */
  constructor(
    private readonly data: SelectorData,
    private readonly bounds?: Bounds,
  ) {}

  /** The time a selector reads at evaluation time `t` (after `@` and `offset`). */
  private timeOf(s: { at?: VectorSelector['at']; offsetMs: number }, t: number): number {
    return atTime(s.at, t, this.bounds) - s.offsetMs
  }

  /** A range-vector argument (range selector or subquery) at `t`, with its window. */
  private rangeArg(arg: Expr, t: number, name: string): { series: Range[]; from: number; to: number } {
    if (arg.kind === 'matrix') {
      const to = this.timeOf(arg.selector, t)
      return { series: (this.eval(arg, t) as { series: Range[] }).series, from: to - arg.rangeMs, to }
    }
    if (arg.kind === 'subquery') {
      const to = this.timeOf(arg, t)
      return { series: this.subquery(arg, t), from: to - arg.rangeMs, to }
    }
    throw new PromQLError(`expected type range vector in call to function "${name}", got instant vector`)
  }

  private subquery(sq: Subquery, t: number): Range[] {
    const cache = this.points.get(sq) ?? new Map<number, Sample[]>()
    this.points.set(sq, cache)
    return subqueryRanges(subqueryTimes(sq, t, this.bounds), (ts) => {
      let samples = cache.get(ts)
      if (!samples) {
        const v = this.eval(sq.expr, ts)
        expectVector(v.type === 'matrix' ? 'range vector' : v.type)
        samples = (v as { samples: Sample[] }).samples
        cache.set(ts, samples)
      }
      return samples
    })
  }

  eval(expr: Expr, t: number): Value {
    switch (expr.kind) {
      case 'number':
        return { type: 'scalar', value: expr.value }
      case 'string':
        return { type: 'string', value: expr.value }
      case 'selector': {
        const to = this.timeOf(expr, t)
        const samples: Sample[] = []
        for (const r of this.data.get(expr) ?? []) {
          const i = latestSample(r, to)
          if (i >= 0) samples.push({ labels: r.labels, value: r.values[i] as number })
        }
        return { type: 'vector', samples }
      }
      case 'matrix': {
        const to = this.timeOf(expr.selector, t)
        const series = (this.data.get(expr.selector) ?? [])
          .map((r) => window(r, to - expr.rangeMs, to))
          .filter((r) => r.times.length > 0)
        return { type: 'matrix', series }
      }
      case 'subquery':
        return { type: 'matrix', series: this.subquery(expr, t) }
      case 'unary': {
        const v = this.eval(expr.expr, t)
        if (v.type === 'scalar') return { type: 'scalar', value: -v.value }
        if (v.type === 'vector')
          return {
            type: 'vector',
            samples: v.samples.map((s) => ({ labels: withoutName(s.labels), value: -s.value })),
          }
        throw new PromQLError('unary expression only allowed on expressions of type scalar or instant vector')
      }
      case 'call':
        return this.call(expr.name, expr.args, t)
      case 'aggregate':
        return this.aggregate(expr, t)
      case 'binary':
        return this.binary(expr, t)
    }
  }

  private vector(expr: Expr, t: number, what: string): Sample[] {
    const v = this.eval(expr, t)
    if (v.type !== 'vector')
      throw new PromQLError(
        `expected type instant vector in ${what}, got ${v.type === 'matrix' ? 'range vector' : v.type}`,
      )
    return v.samples
  }

  private scalar(expr: Expr, t: number, what: string): number {
    const v = this.eval(expr, t)
    if (v.type !== 'scalar')
      throw new PromQLError(
        `expected type scalar in ${what}, got ${v.type === 'matrix' ? 'range vector' : v.type}`,
      )
    return v.value
  }

  private string(expr: Expr, t: number, what: string): string {
    const v = this.eval(expr, t)
    if (v.type !== 'string') throw new PromQLError(`expected type string in ${what}, got ${v.type}`)
    return v.value
  }

  private call(name: string, args: Expr[], t: number): Value {
    const rangeFn = RANGE_FUNCTIONS[name]
    if (rangeFn) {
      const quantileArg = name === 'quantile_over_time'
      expectArgs(name, args, quantileArg ? 2 : 1)
      const q = quantileArg ? this.scalar(args[0] as Expr, t, `call to function "${name}"`) : undefined
      const { series, from, to } = this.rangeArg(args[args.length - 1] as Expr, t, name)
      const samples: Sample[] = []
      for (const r of series) {
        const value = rangeFn(r, from, to, q)
        if (value !== undefined)
          samples.push({ labels: KEEPS_NAME.has(name) ? r.labels : withoutName(r.labels), value })
      }
      return { type: 'vector', samples }
    }
    const math = MATH_FUNCTIONS[name]
    if (math) {
      expectArgs(
        name,
        args,
        1,
        name === 'clamp' ? 3 : name === 'round' ? 2 : name.startsWith('clamp_') ? 2 : 1,
      )
      if (name.startsWith('clamp') && args.length < (name === 'clamp' ? 3 : 2))
        expectArgs(name, args, name === 'clamp' ? 3 : 2)
      const extra = args.slice(1).map((a) => this.scalar(a, t, `call to function "${name}"`))
      const samples = this.vector(args[0] as Expr, t, `call to function "${name}"`)
      return {
        type: 'vector',
        samples: samples.map((s) => ({ labels: withoutName(s.labels), value: math(s.value, extra) })),
      }
    }
    const date = DATE_FUNCTIONS[name]
    if (date) {
      expectArgs(name, args, 0, 1)
      const samples = args[0]
        ? this.vector(args[0], t, `call to function "${name}"`)
        : [{ labels: {}, value: t / 1000 }]
      return {
        type: 'vector',
        samples: samples.map((s) => ({
          labels: withoutName(s.labels),
          value: Number.isFinite(s.value) ? date(new Date(Math.trunc(s.value) * 1000)) : Number.NaN,
        })),
      }
    }
    switch (name) {
      case 'label_replace':
      case 'label_join': {
        const what = `call to function "${name}"`
        if (name === 'label_replace') expectArgs(name, args, 5)
        else if (args.length < 3) expectArgs(name, args, 3)
        const [v, ...rest] = args as [Expr, ...Expr[]]
        const [dst, a, ...srcs] = rest.map((e) => this.string(e, t, what)) as [string, string, ...string[]]
        const samples = this.vector(v, t, what)
        return {
          type: 'vector',
          samples:
            name === 'label_replace'
              ? labelReplace(samples, dst, a, srcs[0] as string, srcs[1] as string)
              : labelJoin(samples, dst, a, srcs),
        }
      }
      case 'time':
        expectArgs(name, args, 0)
        return { type: 'scalar', value: t / 1000 }
      case 'vector':
        expectArgs(name, args, 1)
        return {
          type: 'vector',
          samples: [{ labels: {}, value: this.scalar(args[0] as Expr, t, 'call to function "vector"') }],
        }
      case 'scalar': {
        expectArgs(name, args, 1)
        const v = this.vector(args[0] as Expr, t, 'call to function "scalar"')
        return { type: 'scalar', value: v.length === 1 ? (v[0] as Sample).value : Number.NaN }
      }
      case 'timestamp': {
        expectArgs(name, args, 1)
        const arg = args[0] as Expr
        if (arg.kind !== 'selector') {
          return {
            type: 'vector',
            samples: this.vector(arg, t, 'call to function "timestamp"').map((s) => ({
              labels: withoutName(s.labels),
              value: t / 1000,
            })),
          }
        }
        const to = this.timeOf(arg, t)
        const samples: Sample[] = []
        for (const r of this.data.get(arg) ?? []) {
          const i = latestSample(r, to)
          if (i >= 0) samples.push({ labels: withoutName(r.labels), value: (r.times[i] as number) / 1000 })
        }
        return { type: 'vector', samples }
      }
      case 'absent':
      case 'absent_over_time': {
        expectArgs(name, args, 1)
        const arg = args[0] as Expr
        const present =
          name === 'absent'
            ? this.vector(arg, t, 'call to function "absent"').length > 0
            : this.rangeArg(arg, t, name).series.length > 0
        if (present) return { type: 'vector', samples: [] }
        const selector = arg.kind === 'selector' ? arg : arg.kind === 'matrix' ? arg.selector : undefined
        const labels: Labels = {}
        for (const m of selector?.matchers ?? [])
          if (m.op === '=' && m.name !== '__name__') labels[m.name] = m.value
        return { type: 'vector', samples: [{ labels, value: 1 }] }
      }
      case 'histogram_quantile': {
        expectArgs(name, args, 2)
        const q = this.scalar(args[0] as Expr, t, 'call to function "histogram_quantile"')
        const groups = new Map<string, { labels: Labels; buckets: Array<{ upper: number; count: number }> }>()
        for (const s of this.vector(args[1] as Expr, t, 'call to function "histogram_quantile"')) {
          const le = s.labels.le
          if (le === undefined) continue
          const upper = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le)
          if (Number.isNaN(upper)) continue
          const { le: _, ...rest } = withoutName(s.labels)
          const key = seriesKey(rest)
          const group = groups.get(key) ?? { labels: rest, buckets: [] }
          group.buckets.push({ upper, count: s.value })
          groups.set(key, group)
        }
        return {
          type: 'vector',
          samples: [...groups.values()].map((g) => ({
            labels: g.labels,
            value: bucketQuantile(q, g.buckets),
          })),
        }
      }
      case 'sort':
      case 'sort_desc': {
        expectArgs(name, args, 1)
        const sign = name === 'sort' ? 1 : -1
        return {
          type: 'vector',
          samples: [...this.vector(args[0] as Expr, t, `call to function "${name}"`)].sort(
            (a, b) => sign * (a.value - b.value),
          ),
        }
      }
    }
    throw new PromQLError(`unknown function with name "${name}"`)
  }

  private aggregate(expr: Extract<Expr, { kind: 'aggregate' }>, t: number): Value {
    if (!AGGREGATIONS.has(expr.op)) throw new PromQLError(`unknown aggregation "${expr.op}"`)
    const samples = this.vector(expr.expr, t, 'aggregation expression')
    const param = expr.param ? this.scalar(expr.param, t, 'aggregation parameter') : 0
    return { type: 'vector', samples: aggregate(expr, samples, param) }
  }

  private binary(expr: Extract<Expr, { kind: 'binary' }>, t: number): Value {
    const lhs = this.eval(expr.lhs, t)
    const rhs = this.eval(expr.rhs, t)
    const { op, bool } = expr
    const comparison = !ARITHMETIC.has(op) && op !== 'and' && op !== 'or' && op !== 'unless'
    if (lhs.type === 'scalar' && rhs.type === 'scalar') {
      if (comparison && !bool) throw new PromQLError('comparisons between scalars must use BOOL modifier')
      return { type: 'scalar', value: operate(op, lhs.value, rhs.value) }
    }
    if (lhs.type === 'vector' && rhs.type === 'scalar')
      return { type: 'vector', samples: withScalar(lhs.samples, rhs.value, op, bool, false) }
    if (lhs.type === 'scalar' && rhs.type === 'vector')
      return { type: 'vector', samples: withScalar(rhs.samples, lhs.value, op, bool, true) }
    if (lhs.type === 'vector' && rhs.type === 'vector')
      return { type: 'vector', samples: vectors(lhs.samples, rhs.samples, expr) }
    throw new PromQLError(`binary expression must contain only scalar and instant vector types`)
  }
}

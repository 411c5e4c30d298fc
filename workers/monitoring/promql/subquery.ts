/**
 * Time shifts of the `@` modifier and subqueries, as Prometheus 2.x computes them.
 * `@ t` pins a selector or subquery to the time t (`start()`/`end()` are the query's
 * bounds) instead of the evaluation time; `offset` then shifts back from there. A subquery
 * `expr[range:step]` at time T evaluates `expr` at every multiple of `step` in
 * [T − range, T] (both ends inclusive, Prometheus 2.x), without a step every
 * `DEFAULT_SUBQUERY_STEP_MS` (Prometheus's default evaluation interval, also in range queries).
 *
 * Guarantees: the windows `selectorWindows` gives cover every sample evaluation reads.
 * Cost: a subquery evaluates its expression range/step times per outer step; points are
 * cached per subquery, so a range query evaluates each point once.
 */
import { seriesKey } from '../series'
import type { At, Expr, Subquery, VectorSelector } from './ast'
import type { Range } from './functions'
import { PromQLError } from './parser'

export const DEFAULT_SUBQUERY_STEP_MS = 60_000

export interface Bounds {
  start: number
  end: number
}

/** The time `at` pins to, or `t` without one. */
export function atTime(at: At | undefined, t: number, bounds: Bounds | undefined): number {
  if (at === undefined) return t
  if (at === 'start') return bounds?.start ?? t
  if (at === 'end') return bounds?.end ?? t
  return at
}

/** The evaluation times of a subquery evaluated at `t`. */
export function subqueryTimes(sq: Subquery, t: number, bounds: Bounds | undefined): number[] {
  const end = atTime(sq.at, t, bounds) - sq.offsetMs
  const step = sq.stepMs ?? DEFAULT_SUBQUERY_STEP_MS
  const from = end - sq.rangeMs
  let first = Math.trunc(from / step) * step
  if (first < from) first += step
  const times: number[] = []
  for (let ts = first; ts <= end; ts += step) times.push(ts)
  return times
}

type Point = { labels: Range['labels']; value: number }

/** A subquery's answer at `t` as ranges, from `at(ts)` = the expression's vector at ts. */
export function subqueryRanges(times: number[], at: (ts: number) => Point[]): Range[] {
  const series = new Map<string, Range>()
  for (const ts of times) {
    for (const s of at(ts)) {
      const key = seriesKey(s.labels)
      const r = series.get(key) ?? { labels: s.labels, times: [], values: [] }
      r.times.push(ts)
      r.values.push(s.value)
      series.set(key, r)
    }
  }
  return [...series.values()]
}

export function expectVector(type: string): void {
  if (type !== 'vector')
    throw new PromQLError(`subquery is only allowed on instant vector, got ${type} instead`)
}

/**
 * Every vector selector with the time window [from, to] it reads when `expr` is evaluated
 * at every step of [start, end].
 */
export function selectorWindows(
  expr: Expr,
  start: number,
  end: number,
  lookbackMs: number,
  out: Array<{ selector: VectorSelector; from: number; to: number }> = [],
) {
  const visit = (e: Expr, s: number, t: number) => {
    switch (e.kind) {
      case 'selector':
      case 'matrix': {
        const sel = e.kind === 'selector' ? e : e.selector
        const range = Math.max(lookbackMs, e.kind === 'matrix' ? e.rangeMs : 0)
        const from = atTime(sel.at, s, { start, end }) - sel.offsetMs - range
        out.push({ selector: sel, from, to: atTime(sel.at, t, { start, end }) - sel.offsetMs })
        break
      }
      case 'subquery': {
        const b = { start, end }
        visit(e.expr, atTime(e.at, s, b) - e.offsetMs - e.rangeMs, atTime(e.at, t, b) - e.offsetMs)
        break
      }
      case 'call':
        for (const a of e.args) visit(a, s, t)
        break
      case 'aggregate':
        if (e.param) visit(e.param, s, t)
        visit(e.expr, s, t)
        break
      case 'binary':
        visit(e.lhs, s, t)
        visit(e.rhs, s, t)
        break
      case 'unary':
        visit(e.expr, s, t)
        break
    }
  }
  visit(expr, start, end)
  return out
}

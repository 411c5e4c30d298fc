/**
 * Running PromQL for the HTTP API: parse, find every selector, load the matching series
 * from all of the tenant's shards over the whole time the query needs (range + lookback +
 * offset), then evaluate per step and shape the answer as Prometheus's JSON.
 */
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import type { Env } from '../platform/env'
import { formatValue } from './exposition'
import type { Expr, Matcher } from './promql/ast'
import { Evaluator, LOOKBACK_MS, type SelectorData, type Value } from './promql/evaluate'
import type { Range } from './promql/functions'
import { PromQLError, parseDuration, parsePromQL } from './promql/parser'
import { selectorWindows } from './promql/subquery'
import { planRollups, type RollupPlan, syntheticRanges } from './rollups'
import { type Labels, seriesKey } from './series'
import { metricShard } from './shard-object'

/** A Prometheus API time: unix seconds (fractional) or RFC 3339. */
export function parseTime(text: string | undefined, name: string, fallback?: number): number {
  if (text === undefined || text === '') {
    if (fallback !== undefined) return fallback
    throw new PromQLError(`invalid parameter "${name}": missing`)
  }
  const seconds = Number(text)
  if (!Number.isNaN(seconds) && Number.isFinite(seconds)) return Math.round(seconds * 1000)
  const ms = Date.parse(text)
  if (Number.isNaN(ms))
    throw new PromQLError(`invalid parameter "${name}": cannot parse "${text}" to a valid timestamp`)
  return ms
}

export function parseStep(text: string | undefined): number {
  if (!text) throw new PromQLError('invalid parameter "step": missing')
  const seconds = Number(text)
  const ms = Number.isNaN(seconds) ? parseDuration(text) : Math.round(seconds * 1000)
  if (!(ms > 0))
    throw new PromQLError(
      'zero or negative query resolution step widths are not accepted. Try a positive integer',
    )
  return ms
}

export function parseQuery(query: string | undefined): Expr {
  if (!query) throw new PromQLError('invalid parameter "query": missing')
  if (query.length > MONITORING_LIMITS.maxQueryLength)
    throw new PromQLError('invalid parameter "query": too long')
  return parsePromQL(query)
}

/** The series matching each matcher set, from every shard, with samples in [from, to]. */
export async function selectSeries(
  env: Env,
  tenant: string,
  sets: Matcher[][],
  from: number,
  to: number,
): Promise<Range[][]> {
  const perShard = await Promise.all(
    Array.from({ length: MONITORING_LIMITS.shards }, (_, shard) =>
      metricShard(env, tenant, shard).select(sets, from, to),
    ),
  )
  return sets.map((_, i) => perShard.flatMap((answer) => answer[i] ?? []))
}

async function load(env: Env, tenant: string, expr: Expr, start: number, end: number): Promise<SelectorData> {
  const windows = selectorWindows(expr, start, end, LOOKBACK_MS)
  const data: SelectorData = new Map()
  if (windows.length === 0) return data
  const from = Math.min(...windows.map((w) => w.from))
  const to = Math.max(...windows.map((w) => w.to))
  const answers = await selectSeries(
    env,
    tenant,
    windows.map((w) => w.selector.matchers),
    from,
    to,
  )
  windows.forEach((w, i) => {
    data.set(w.selector, answers[i] ?? [])
  })
  return data
}

/** The synthetic series of a rollup plan's selectors (see rollups.ts), from every shard. */
async function loadRollups(env: Env, tenant: string, plan: RollupPlan, start: number, end: number) {
  const from = Math.min(...plan.selectors.map((s) => start - s.selector.offsetMs - s.rangeMs - plan.res))
  const to = Math.max(...plan.selectors.map((s) => end - s.selector.offsetMs))
  const sets = plan.selectors.map((s) => s.selector.matchers)
  const perShard = await Promise.all(
    Array.from({ length: MONITORING_LIMITS.shards }, (_, shard) =>
      metricShard(env, tenant, shard).selectBuckets(sets, plan.res, from, to),
    ),
  )
  const data: SelectorData = new Map()
  plan.selectors.forEach((s, i) => {
    const series = perShard.flatMap((answer) => answer[i] ?? [])
    data.set(s.selector, syntheticRanges(series, s.fn, plan.res))
  })
  return data
}

const point = (t: number, v: number): [number, string] => [t / 1000, formatValue(v)]
const byLabels = (a: { metric: Labels }, b: { metric: Labels }) =>
  seriesKey(a.metric) < seriesKey(b.metric) ? -1 : 1

function instantResult(value: Value, t: number) {
  switch (value.type) {
    case 'scalar':
    case 'string':
      return { resultType: value.type, result: point(t, value.value as number) }
    case 'vector':
      return {
        resultType: 'vector',
        result: value.samples.map((s) => ({ metric: s.labels, value: point(t, s.value) })),
      }
    case 'matrix':
      return {
        resultType: 'matrix',
        result: value.series
          .map((r) => ({
            metric: r.labels,
            values: r.times.map((pt, i) => point(pt, r.values[i] as number)),
          }))
          .sort(byLabels),
      }
  }
}

/** One PromQL expression evaluated at `time` over the tenant's series (rules use this). */
export async function evaluateAt(env: Env, tenant: string, expr: Expr, time: number): Promise<Value> {
  const data = await load(env, tenant, expr, time, time)
  return new Evaluator(data, { start: time, end: time }).eval(expr, time)
}

export async function instantQuery(env: Env, tenant: string, query: string | undefined, time: number) {
  const expr = parseQuery(query)
  const value = await evaluateAt(env, tenant, expr, time)
  if (value.type === 'string') return { resultType: 'string', result: [time / 1000, value.value] }
  return instantResult(value, time)
}

export async function rangeQuery(
  env: Env,
  tenant: string,
  query: string | undefined,
  start: number,
  end: number,
  step: number,
  options: { rollups?: boolean } = {},
) {
  const parsed = parseQuery(query)
  if (end < start) throw new PromQLError('end timestamp must not be before start time')
  if ((end - start) / step > MONITORING_LIMITS.maxPoints) {
    throw new PromQLError(
      'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
    )
  }
  // Long steps over *_over_time read 1m/1h rollups when they give the raw answer (rollups.ts).
  const plan = options.rollups === false ? undefined : planRollups(parsed, start, step)
  const expr = plan?.expr ?? parsed
  const data = plan
    ? await loadRollups(env, tenant, plan, start, end)
    : await load(env, tenant, expr, start, end)
  const evaluator = new Evaluator(data, { start, end })
  const series = new Map<string, { metric: Labels; values: Array<[number, string]> }>()
  for (let t = start; t <= end; t += step) {
    const value = evaluator.eval(expr, t)
    if (value.type === 'matrix' || value.type === 'string') {
      throw new PromQLError(
        `invalid expression type "${value.type === 'matrix' ? 'range vector' : 'string'}" for range query, must be Scalar or instant Vector`,
      )
    }
    const samples = value.type === 'scalar' ? [{ labels: {}, value: value.value }] : value.samples
    for (const s of samples) {
      const key = seriesKey(s.labels)
      const entry = series.get(key) ?? { metric: s.labels, values: [] }
      entry.values.push(point(t, s.value))
      series.set(key, entry)
    }
  }
  return { resultType: 'matrix', result: [...series.values()].sort(byLabels) }
}

/**
 * Label sets matching `match[]` selectors (all series when none), only those with data in
 * `window` when one is given (the API's `start`/`end`).
 */
export async function labelSets(
  env: Env,
  tenant: string,
  match: string[],
  window?: { from: number; to: number },
): Promise<Labels[]> {
  const sets = match.map((m) => {
    const expr = parseQuery(m)
    if (expr.kind !== 'selector')
      throw new PromQLError(`invalid parameter "match[]": ${m} is not a series selector`)
    return expr.matchers
  })
  const perShard = await Promise.all(
    Array.from({ length: MONITORING_LIMITS.shards }, (_, shard) =>
      metricShard(env, tenant, shard).labelSets(sets, window),
    ),
  )
  return perShard.flat()
}

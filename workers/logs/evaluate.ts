/**
 * Running LogQL over shards: each shard collects what it holds (`LogCollector`: the first
 * `limit` lines in query order; `MetricCollector`: per series, per step, the lines and
 * bytes in the step's range window), and the Worker merges the shards' partial answers
 * (`mergeLogs`, `mergeMetric`) into Loki's result shapes (streams, matrix, vector).
 *
 * Guarantees: merging is exact, because every partial is additive: a line is in exactly one
 * shard, so counts and bytes per (series, step) sum across shards before any function or
 * vector aggregation runs. A step at time t covers lines with t - range < time ≤ t (ms).
 * Cost: a log query reads lines until `limit` pass the pipeline per shard; a metric query
 * reads every line of its window and touches ⌈range/step⌉ steps per line.
 */
import { labelsFromKey, labelsKey, nanosString } from './entries'
import type { MetricQuery, RangeAggregation, VectorAggregation } from './logql/ast'
import type { Processed } from './logql/pipeline'

export interface LogLine {
  key: string
  ms: number
  ns: number
  line: string
}

export class LogCollector {
  readonly lines: LogLine[] = []
  constructor(private readonly limit: number) {}

  /** Adds a line; false once the limit is reached (stop reading). */
  add(processed: Processed, ms: number, ns: number): boolean {
    this.lines.push({ key: labelsKey(processed.labels), ms, ns, line: processed.line })
    return this.lines.length < this.limit
  }

  full(): boolean {
    return this.lines.length >= this.limit
  }
}

export interface Steps {
  startMs: number
  endMs: number
  stepMs: number
}

export function stepCount(steps: Steps): number {
  return Math.floor((steps.endMs - steps.startMs) / steps.stepMs) + 1
}

/** One series' partial sums: step index → [lines, bytes]. */
export interface MetricPartial {
  key: string
  points: Array<[number, number, number]>
}

export class MetricCollector {
  private readonly series = new Map<string, Map<number, [number, number]>>()
  private readonly last: number

  constructor(
    private readonly steps: Steps,
    private readonly rangeMs: number,
  ) {
    this.last = stepCount(steps) - 1
  }

  /** The time window of lines this query needs: (start - range, end]. */
  window(): { fromMs: number; toMs: number } {
    return { fromMs: this.steps.startMs - this.rangeMs + 1, toMs: this.steps.endMs }
  }

  add(processed: Processed, ms: number, bytes: number): void {
    const { startMs, stepMs } = this.steps
    // Steps t with t - range < ms ≤ t.
    const first = Math.max(0, Math.ceil((ms - startMs) / stepMs))
    const lastStep = Math.min(this.last, Math.floor((ms + this.rangeMs - 1 - startMs) / stepMs))
    if (first > lastStep) return
    const labels = { ...processed.labels }
    const key = labelsKey(labels)
    let points = this.series.get(key)
    if (!points) {
      points = new Map()
      this.series.set(key, points)
    }
    for (let i = first; i <= lastStep; i++) {
      const point = points.get(i)
      if (point) {
        point[0] += 1
        point[1] += bytes
      } else points.set(i, [1, bytes])
    }
  }

  partials(): MetricPartial[] {
    return [...this.series].map(([key, points]) => ({
      key,
      points: [...points].map(([i, [n, b]]) => [i, n, b]),
    }))
  }
}

export interface LokiStream {
  stream: Record<string, string>
  values: Array<[string, string]>
}

/** The first `limit` lines of every shard's answer, in direction order, grouped into streams. */
export function mergeLogs(answers: LogLine[][], limit: number, descending: boolean): LokiStream[] {
  const all = answers.flat()
  all.sort((a, b) => {
    const order = a.ms - b.ms || a.ns - b.ns
    return descending ? -order : order
  })
  const streams = new Map<string, LokiStream>()
  for (const line of all.slice(0, limit)) {
    let stream = streams.get(line.key)
    if (!stream) {
      stream = { stream: labelsFromKey(line.key), values: [] }
      streams.set(line.key, stream)
    }
    stream.values.push([nanosString(line.ms, line.ns), line.line])
  }
  return [...streams.values()]
}

export interface Series {
  metric: Record<string, string>
  /** step index → value */
  points: Map<number, number>
}

function rangeValues(partials: MetricPartial[][], range: RangeAggregation): Series[] {
  const sums = new Map<string, Map<number, [number, number]>>()
  for (const partial of partials.flat()) {
    const points = sums.get(partial.key) ?? new Map<number, [number, number]>()
    sums.set(partial.key, points)
    for (const [i, n, b] of partial.points) {
      const point = points.get(i)
      if (point) {
        point[0] += n
        point[1] += b
      } else points.set(i, [n, b])
    }
  }
  const seconds = range.rangeMs / 1000
  const value = ([n, b]: [number, number]): number => {
    switch (range.fn) {
      case 'count_over_time':
        return n
      case 'rate':
        return n / seconds
      case 'bytes_over_time':
        return b
      case 'bytes_rate':
        return b / seconds
    }
  }
  return [...sums].map(([key, points]) => {
    const metric = labelsFromKey(key)
    delete metric.__error__
    return { metric, points: new Map([...points].map(([i, point]) => [i, value(point)])) }
  })
}

function groupLabels(
  metric: Record<string, string>,
  grouping: VectorAggregation['grouping'],
): Record<string, string> {
  if (!grouping) return {}
  if (grouping.mode === 'by') {
    return Object.fromEntries(
      grouping.labels
        .filter((name) => metric[name] !== undefined)
        .map((name) => [name, metric[name] as string]),
    )
  }
  return Object.fromEntries(Object.entries(metric).filter(([name]) => !grouping.labels.includes(name)))
}

function evaluate(query: MetricQuery, partials: MetricPartial[][], steps: number): Series[] {
  if (query.type === 'range') return rangeValues(partials, query)
  const inner = evaluate(query.inner, partials, steps)
  if (query.type === 'vector') {
    const groups = new Map<string, { metric: Record<string, string>; acc: Map<number, number[]> }>()
    for (const series of inner) {
      const metric = groupLabels(series.metric, query.grouping)
      const key = labelsKey(metric)
      const group = groups.get(key) ?? { metric, acc: new Map<number, number[]>() }
      groups.set(key, group)
      for (const [i, value] of series.points) group.acc.set(i, [...(group.acc.get(i) ?? []), value])
    }
    const combine = (values: number[]): number => {
      switch (query.op) {
        case 'sum':
          return values.reduce((a, b) => a + b, 0)
        case 'avg':
          return values.reduce((a, b) => a + b, 0) / values.length
        case 'max':
          return Math.max(...values)
        case 'min':
          return Math.min(...values)
        case 'count':
          return values.length
      }
    }
    return [...groups.values()].map(({ metric, acc }) => ({
      metric,
      points: new Map([...acc].map(([i, values]) => [i, combine(values)])),
    }))
  }
  // topk / bottomk: per step and per group, the k largest (smallest) series keep their point.
  const kept = inner.map((series) => ({ metric: series.metric, points: new Map<number, number>() }))
  for (let i = 0; i < steps; i++) {
    const groups = new Map<string, number[]>()
    inner.forEach((series, index) => {
      if (!series.points.has(i)) return
      const key = labelsKey(groupLabels(series.metric, query.grouping))
      groups.set(key, [...(groups.get(key) ?? []), index])
    })
    for (const members of groups.values()) {
      const sign = query.type === 'topk' ? -1 : 1
      members.sort(
        (a, b) => sign * ((inner[a]?.points.get(i) ?? 0) - (inner[b]?.points.get(i) ?? 0)) || a - b,
      )
      for (const index of members.slice(0, query.k))
        kept[index]?.points.set(i, inner[index]?.points.get(i) ?? 0)
    }
  }
  return kept.filter((series) => series.points.size > 0)
}

const sampleValue = (value: number) =>
  Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(15)))

export type MetricResult =
  | {
      resultType: 'matrix'
      result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>
    }
  | { resultType: 'vector'; result: Array<{ metric: Record<string, string>; value: [number, string] }> }

/** The shards' partials as Loki's matrix (range query) or vector (instant query). */
export function mergeMetric(
  query: MetricQuery,
  partials: MetricPartial[][],
  steps: Steps,
  instant: boolean,
): MetricResult {
  const series = evaluate(query, partials, stepCount(steps))
  const sorted = series.sort((a, b) => labelsKey(a.metric).localeCompare(labelsKey(b.metric)))
  if (instant) {
    return {
      resultType: 'vector',
      result: sorted
        .filter((s) => s.points.has(0))
        .map((s) => ({ metric: s.metric, value: [steps.startMs / 1000, sampleValue(s.points.get(0) ?? 0)] })),
    }
  }
  return {
    resultType: 'matrix',
    result: sorted.map((s) => ({
      metric: s.metric,
      values: [...s.points]
        .sort(([a], [b]) => a - b)
        .map(([i, value]): [number, string] => [
          (steps.startMs + i * steps.stepMs) / 1000,
          sampleValue(value),
        ]),
    })),
  }
}

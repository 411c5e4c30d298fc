/** The LogQL subset this block speaks, as plain data (the shards receive it over RPC). */

export type MatchOp = '=' | '!=' | '=~' | '!~'

export interface Matcher {
  name: string
  op: MatchOp
  value: string
}

export type LineOp = '|=' | '!=' | '|~' | '!~'

export type CompareOp = '=' | '!=' | '=~' | '!~' | '==' | '>' | '>=' | '<' | '<='

export type LabelFilter =
  | { kind: 'compare'; name: string; op: CompareOp; value: string | number }
  | { kind: 'and' | 'or'; left: LabelFilter; right: LabelFilter }

export type Stage =
  | { kind: 'line'; op: LineOp; value: string }
  | { kind: 'json' }
  | { kind: 'logfmt' }
  | { kind: 'label'; filter: LabelFilter }
  | { kind: 'line_format'; template: string }

export interface LogQuery {
  type: 'log'
  selector: Matcher[]
  stages: Stage[]
}

export type RangeFunction = 'count_over_time' | 'rate' | 'bytes_over_time' | 'bytes_rate'

export interface RangeAggregation {
  type: 'range'
  fn: RangeFunction
  query: LogQuery
  rangeMs: number
}

export type VectorOp = 'sum' | 'avg' | 'max' | 'min' | 'count'

export interface VectorAggregation {
  type: 'vector'
  op: VectorOp
  /** Group by these labels (`by`), or by all but these (`without`); neither: one group. */
  grouping?: { mode: 'by' | 'without'; labels: string[] } | undefined
  inner: MetricQuery
}

export interface TopK {
  type: 'topk' | 'bottomk'
  k: number
  grouping?: { mode: 'by' | 'without'; labels: string[] } | undefined
  inner: MetricQuery
}

export type MetricQuery = RangeAggregation | VectorAggregation | TopK

export type Query = LogQuery | MetricQuery

/** The log query under a metric query (the one whose lines are counted). */
export function logQueryOf(query: Query): LogQuery {
  if (query.type === 'log') return query
  if (query.type === 'range') return query.query
  return logQueryOf(query.inner)
}

/** The range aggregation at the bottom of a metric query. */
export function rangeOf(query: MetricQuery): RangeAggregation {
  return query.type === 'range' ? query : rangeOf(query.inner)
}

/**
 * A shard's side of a query: pick the streams, plan the index lookups, and feed the rows of
 * both tiers (hot SQLite rows, archive chunks) through the pipeline into a collector.
 *
 * Guarantee: the same lines pass whichever tier holds them, since both tiers give the same
 * rows to the same pipeline (the compaction tests check this end to end). Cost: see plan.ts
 * and evaluate.ts.
 */
import { lineBytes, toNanos } from './entries'
import { LogCollector, type LogLine, MetricCollector, type MetricPartial, type Steps } from './evaluate'
import type { LogQuery } from './logql/ast'
import { compileMatchers, compilePipeline, type Pipeline } from './logql/pipeline'
import { planQuery, type QueryPlan } from './plan'
import type { ChunkRef, Row, RowSelection, ShardStore } from './shard-store'

export interface Selected {
  streams: Map<number, Record<string, string>>
  plan: QueryPlan
  selection: RowSelection
}

/** The streams a selector matches and the plan over them; undefined when no stream matches. */
export function select(
  store: ShardStore,
  query: LogQuery,
  fromMs: number,
  toMs: number,
  descending: boolean,
): Selected | undefined {
  const planned = planQuery(query, new Set())
  const candidates = store.streamsWith(planned.streamLabels)
  const matches = compileMatchers(query.selector)
  const streams = new Map([...candidates].filter(([, labels]) => matches(labels)))
  if (streams.size === 0) return undefined
  const names = new Set([...streams.values()].flatMap((labels) => Object.keys(labels)))
  const plan = planQuery(query, names)
  const all = streams.size === store.streams().size
  return {
    streams,
    plan,
    selection: {
      streamIds: all ? 'all' : [...streams.keys()],
      fromMs,
      toMs,
      words: plan.words,
      fields: plan.fields,
      descending,
    },
  }
}

function labelsOf(selected: Selected, row: Row): Record<string, string> {
  const labels = selected.streams.get(row.streamId) ?? {}
  return row.metadata ? { ...row.metadata, ...labels } : labels
}

export interface LogRequest {
  query: LogQuery
  /** Nanoseconds since the epoch, as decimal strings: start inclusive, end exclusive. */
  startNs: string
  endNs: string
  limit: number
  descending: boolean
}

const NS_PER_MS = 1_000_000n

export function timeBounds(
  startNs: string,
  endNs: string,
): { fromMs: number; toMs: number; start: bigint; end: bigint } {
  const start = BigInt(startNs)
  const end = BigInt(endNs)
  return { fromMs: Number(start / NS_PER_MS), toMs: Number(end / NS_PER_MS), start, end }
}

function runLog(
  rows: Iterable<Row>,
  selected: Selected,
  pipeline: Pipeline,
  request: LogRequest,
  collector: LogCollector,
): void {
  const { start, end } = timeBounds(request.startNs, request.endNs)
  for (const row of rows) {
    const at = toNanos(row.ms, row.ns)
    if (at < start || at >= end) continue
    const processed = pipeline(row.line, labelsOf(selected, row))
    if (processed && !collector.add(processed, row.ms, row.ns)) return
  }
}

/** The hot tier's first `limit` lines, then each archive chunk's; the caller merges. */
export async function queryLogs(
  store: ShardStore,
  request: LogRequest,
  readChunk: (chunk: ChunkRef) => Promise<Row[]>,
): Promise<LogLine[]> {
  const { fromMs, toMs } = timeBounds(request.startNs, request.endNs)
  const selected = select(store, request.query, fromMs, toMs, request.descending)
  if (!selected) return []
  const pipeline = compilePipeline(request.query)
  const hot = new LogCollector(request.limit)
  runLog(store.rows(selected.selection), selected, pipeline, request, hot)
  const lines = hot.lines
  for (const chunk of store.chunksFor(selected.selection.streamIds, fromMs, toMs)) {
    const archived = new LogCollector(Number.MAX_SAFE_INTEGER)
    runLog(await readChunk(chunk), selected, pipeline, request, archived)
    lines.push(...archived.lines)
  }
  return lines
}

export interface MetricRequest {
  query: LogQuery
  rangeMs: number
  steps: Steps
}

export async function queryMetric(
  store: ShardStore,
  request: MetricRequest,
  readChunk: (chunk: ChunkRef) => Promise<Row[]>,
): Promise<MetricPartial[]> {
  const collector = new MetricCollector(request.steps, request.rangeMs)
  const { fromMs, toMs } = collector.window()
  const selected = select(store, request.query, fromMs, toMs, false)
  if (!selected) return []
  const pipeline = compilePipeline(request.query)
  const feed = (rows: Iterable<Row>) => {
    for (const row of rows) {
      if (row.ms < fromMs || row.ms > toMs) continue
      const processed = pipeline(row.line, labelsOf(selected, row))
      if (processed) collector.add(processed, row.ms, lineBytes(processed.line))
    }
  }
  feed(store.rows(selected.selection))
  for (const chunk of store.chunksFor(selected.selection.streamIds, fromMs, toMs))
    feed(await readChunk(chunk))
  return collector.partials()
}

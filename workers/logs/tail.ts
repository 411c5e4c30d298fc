/**
 * Live tail: which of a batch's lines each tail subscriber sees, in Loki's tail message shape
 * (`{"streams":[{"stream":{…},"values":[[ns, line]]}],"dropped_entries":null}`).
 *
 * Guarantee: a subscriber sees exactly the lines its query (selector + pipeline) accepts, with
 * the labels a log query would give them. Cost: per subscriber, the pipeline on each line.
 */
import { labelsKey, type Stream } from './entries'
import { type LokiStream, mergeLogs } from './evaluate'
import type { LogQuery } from './logql/ast'
import { compileMatchers, compilePipeline } from './logql/pipeline'

export interface TailMessage {
  streams: LokiStream[]
  dropped_entries: null
}

export type TailFilter = (streams: Stream[]) => TailMessage | undefined

/** A subscriber's filter over published batches; undefined result when nothing matches. */
export function tailFilter(query: LogQuery): TailFilter {
  const matches = compileMatchers(query.selector)
  const pipeline = compilePipeline(query)
  return (streams) => {
    const lines = []
    for (const stream of streams) {
      if (!matches(stream.labels)) continue
      for (const entry of stream.entries) {
        const labels = entry.metadata ? { ...entry.metadata, ...stream.labels } : stream.labels
        const processed = pipeline(entry.line, labels)
        if (processed)
          lines.push({ key: labelsKey(processed.labels), ms: entry.ms, ns: entry.ns, line: processed.line })
      }
    }
    if (lines.length === 0) return undefined
    return { streams: mergeLogs([lines], lines.length, false), dropped_entries: null }
  }
}

/**
 * Loki's push API payloads → streams: JSON (`{"streams":[{"stream":{…},"values":[[ns, line,
 * {metadata}]]}]}`) and protobuf `logproto.PushRequest` (Loki's clients send it snappy-
 * compressed; the caller decompresses). Also NDJSON, one JSON object per line, for curl.
 *
 * Guarantees: a payload is decoded whole or rejected with one `IngestError` (nothing of a
 * malformed body is stored); labels and metadata are checked against the schema's bounds.
 * Cost: one pass over the bytes.
 */
import * as v from 'valibot'
import { LOGS_LIMITS, LokiPushJson, NdjsonLine } from '../../schemas/logs'
import { ProtobufError, ProtoReader, WIRE } from '../platform/protobuf'
import { type Entry, fromNanos, LABEL_NAME, parseNanos, type Stream } from './entries'

/** A payload the block refuses: 400 (malformed) or 413 (too large). */
export class IngestError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message)
    this.name = 'IngestError'
  }
}

/** Loki's stream selector text `{a="1", b="2"}` (what protobuf pushes carry) → labels. */
export function parseLabelText(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  const body = text.trim()
  if (!body.startsWith('{') || !body.endsWith('}'))
    throw new IngestError(400, `invalid labels: ${text.slice(0, 100)}`)
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y
  const inner = body.slice(1, -1)
  pair.lastIndex = 0
  while (pair.lastIndex < inner.length) {
    const start = pair.lastIndex
    const match = pair.exec(inner)
    if (!match || match.index !== start) {
      if (inner.slice(start).trim() === '') break
      throw new IngestError(400, `invalid labels: ${text.slice(0, 100)}`)
    }
    labels[match[1] as string] = JSON.parse(`"${match[2]}"`) as string
  }
  return checkLabels(labels)
}

export function checkLabels(labels: Record<string, string>): Record<string, string> {
  const names = Object.keys(labels)
  if (names.length === 0) throw new IngestError(400, 'a stream needs at least one label')
  if (names.length > LOGS_LIMITS.maxLabels)
    throw new IngestError(400, `a stream has over ${LOGS_LIMITS.maxLabels} labels`)
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.length > LOGS_LIMITS.maxLabelNameLength) {
      throw new IngestError(400, `invalid label name "${name.slice(0, 100)}"`)
    }
    if ((labels[name] as string).length > LOGS_LIMITS.maxLabelValueLength) {
      throw new IngestError(400, `label "${name}" is over ${LOGS_LIMITS.maxLabelValueLength} characters`)
    }
  }
  return labels
}

function invalid(issues: v.BaseIssue<unknown>[]): IngestError {
  const first = issues[0]
  const at = first ? v.getDotPath(first) : undefined
  return new IngestError(
    400,
    `invalid push payload${at ? ` at ${at}` : ''}: ${first?.message ?? 'bad input'}`,
  )
}

export function decodeLokiJson(text: string): Stream[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new IngestError(400, 'the body is not valid JSON')
  }
  const result = v.safeParse(LokiPushJson, parsed)
  if (!result.success) throw invalid(result.issues)
  return result.output.streams.map(({ stream, values }) => ({
    labels: checkLabels({ ...stream }),
    entries: values.map(([nanos, line, metadata]) => {
      const at = parseNanos(nanos)
      if (!at) throw new IngestError(400, `timestamp "${nanos}" is out of range`)
      return { ...at, line, metadata }
    }),
  }))
}

/** `logproto.PushRequest`: streams=1 { labels=1, entries=2 { timestamp=1 {seconds=1, nanos=2}, line=2, structuredMetadata=3 {name=1, value=2} } }. */
export function decodeLokiProtobuf(bytes: Uint8Array): Stream[] {
  try {
    const streams: Stream[] = []
    const request = new ProtoReader(bytes)
    for (let field = request.next(); field; field = request.next()) {
      if (field.field !== 1) {
        request.skip(field.wire)
        continue
      }
      request.expect(field.wire, WIRE.bytes)
      streams.push(decodeStream(request.message()))
    }
    return streams
  } catch (error) {
    if (error instanceof ProtobufError) throw new IngestError(400, `invalid protobuf: ${error.message}`)
    throw error
  }
}

function decodeStream(reader: ProtoReader): Stream {
  let labelText: string | undefined
  const entries: Entry[] = []
  for (let field = reader.next(); field; field = reader.next()) {
    if (field.field === 1 && field.wire === WIRE.bytes) labelText = reader.string()
    else if (field.field === 2 && field.wire === WIRE.bytes) entries.push(decodeEntry(reader.message()))
    else reader.skip(field.wire)
  }
  if (labelText === undefined) throw new IngestError(400, 'a stream has no labels')
  return { labels: parseLabelText(labelText), entries }
}

function decodeEntry(reader: ProtoReader): Entry {
  let seconds = 0n
  let nanos = 0n
  let line = ''
  let metadata: Record<string, string> | undefined
  for (let field = reader.next(); field; field = reader.next()) {
    if (field.field === 1 && field.wire === WIRE.bytes) {
      const stamp = reader.message()
      for (let part = stamp.next(); part; part = stamp.next()) {
        if (part.field === 1 && part.wire === WIRE.varint) seconds = stamp.varint64(true)
        else if (part.field === 2 && part.wire === WIRE.varint) nanos = stamp.varint64(true)
        else stamp.skip(part.wire)
      }
    } else if (field.field === 2 && field.wire === WIRE.bytes) line = reader.string()
    else if (field.field === 3 && field.wire === WIRE.bytes) {
      const pair = reader.message()
      let name = ''
      let value = ''
      for (let part = pair.next(); part; part = pair.next()) {
        if (part.field === 1 && part.wire === WIRE.bytes) name = pair.string()
        else if (part.field === 2 && part.wire === WIRE.bytes) value = pair.string()
        else pair.skip(part.wire)
      }
      metadata ??= {}
      metadata[name] = value
    } else reader.skip(field.wire)
  }
  const at = fromNanos(seconds * 1_000_000_000n + nanos)
  if (!at) throw new IngestError(400, 'a timestamp is out of range')
  return { ...at, line, metadata }
}

/** RFC 3339 text or a number of s / ms / µs / ns (told apart by magnitude) → ms, ns. */
export function parseTime(time: string | number): { ms: number; ns: number } | undefined {
  if (typeof time === 'string') {
    if (/^\d{1,19}$/.test(time)) return parseNanos(time)
    const ms = Date.parse(time)
    if (Number.isNaN(ms)) return undefined
    const fraction = /\.(\d{4,9})/.exec(time)?.[1]
    const ns = fraction ? Number(fraction.padEnd(9, '0').slice(3)) : 0
    return ms >= 0 ? { ms, ns } : undefined
  }
  if (!Number.isFinite(time) || time < 0) return undefined
  if (time < 1e11) return { ms: Math.floor(time * 1000), ns: Math.round(((time * 1000) % 1) * 1e6) }
  if (time < 1e14) return { ms: Math.floor(time), ns: Math.round((time % 1) * 1e6) }
  if (time < 1e17) return { ms: Math.floor(time / 1000), ns: Math.round(time % 1000) * 1000 }
  return fromNanos(BigInt(Math.round(time)))
}

/** NDJSON: one `{"line", "labels", "metadata", "time"}` object per line; blank lines skipped. */
export function decodeNdjson(text: string, nowMs: number): Stream[] {
  const byLabels = new Map<string, Stream>()
  let number = 0
  for (const raw of text.split('\n')) {
    number++
    if (raw.trim() === '') continue
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      throw new IngestError(400, `line ${number} is not valid JSON`)
    }
    const result = v.safeParse(NdjsonLine, parsed)
    if (!result.success)
      throw new IngestError(400, `line ${number}: ${result.issues[0]?.message ?? 'invalid'}`)
    const { line, labels, metadata, time } = result.output
    const at = time === undefined ? { ms: nowMs, ns: 0 } : parseTime(time)
    if (!at) throw new IngestError(400, `line ${number}: invalid time`)
    const stream = Object.keys(labels).length > 0 ? labels : { source: 'ndjson' }
    const key = JSON.stringify(Object.entries(stream).sort())
    let target = byLabels.get(key)
    if (!target) {
      target = { labels: checkLabels({ ...stream }), entries: [] }
      byLabels.set(key, target)
    }
    target.entries.push({ ...at, line, metadata })
  }
  return [...byLabels.values()]
}

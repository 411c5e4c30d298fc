/**
 * What every ingest format becomes: streams (a label set) of entries (a nanosecond
 * timestamp, a line, structured metadata), and the few rules about them.
 *
 * Timestamps are nanoseconds since the epoch carried as whole milliseconds plus the
 * nanoseconds within the millisecond, so they stay exact in JavaScript numbers and in
 * SQLite integers; any value from 0 to 2^63-1 ns is accepted, in any order. A label set is
 * canonical when its names are sorted: `{b="1",a="2"}` and `{a="2",b="1"}` are one stream.
 */

export interface Entry {
  /** Milliseconds since the epoch. */
  ms: number
  /** Nanoseconds within that millisecond, 0–999,999. */
  ns: number
  line: string
  /** Structured metadata: labels of this line only, not of its stream. */
  metadata?: Record<string, string> | undefined
}

export interface Stream {
  labels: Record<string, string>
  entries: Entry[]
}

const MAX_NS = (1n << 63n) - 1n

/** ns since the epoch (bigint) → an entry's `ms` and `ns`; undefined when out of range. */
export function fromNanos(nanos: bigint): { ms: number; ns: number } | undefined {
  if (nanos < 0n || nanos > MAX_NS) return undefined
  return { ms: Number(nanos / 1_000_000n), ns: Number(nanos % 1_000_000n) }
}

/** A decimal string of nanoseconds (Loki's JSON) → `ms`, `ns`. */
export function parseNanos(text: string): { ms: number; ns: number } | undefined {
  if (!/^\d{1,19}$/.test(text)) return undefined
  return fromNanos(BigInt(text))
}

export function toNanos(ms: number, ns: number): bigint {
  return BigInt(ms) * 1_000_000n + BigInt(ns)
}

export function nanosString(ms: number, ns: number): string {
  return toNanos(ms, ns).toString()
}

/** A label name as Loki and Prometheus allow it. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Any attribute or field name made a valid label name (`service.name` → `service_name`). */
export function sanitizeLabelName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_')
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned || '_'
}

/** The canonical key of a label set: its pairs sorted by name, as JSON. */
export function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  )
}

export function labelsFromKey(key: string): Record<string, string> {
  return Object.fromEntries(JSON.parse(key) as Array<[string, string]>)
}

/** `{a="1", b="x\"y"}`, Loki's and Prometheus's printed form. */
export function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
  return `{${pairs.join(', ')}}`
}

export const DAY_MS = 86_400_000

/** The UTC day an entry belongs to (days since the epoch): the time half of its shard. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS)
}

const encoder = new TextEncoder()

/** A line's size as the limits count it: its UTF-8 bytes. */
export function lineBytes(line: string): number {
  // Fast path: ASCII lines have as many bytes as characters.
  for (let i = 0; i < line.length; i++) {
    if (line.charCodeAt(i) > 0x7f) return encoder.encode(line).length
  }
  return line.length
}

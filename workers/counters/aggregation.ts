/**
 * Aggregation of a sharded counter for eventual reads and live totals, as plain functions.
 *
 * What it guarantees
 * - Age bound. The aggregator keeps one record per shard: the shard's value and member
 *   count at a `version`, and `knownAt`, a time before which every increment the shard
 *   acknowledged is included. The aggregate's `asOf` is the minimum `knownAt` over shards
 *   0..N−1 (a shard without a record counts as known at time 0). A read whose aggregate is
 *   older than MAX_AGE_MS re-sums every shard first, so an eventual read includes every
 *   increment acknowledged before `now − ageMs`, with ageMs ≤ MAX_AGE_MS.
 * - Monotonic records. Shards report their state (pushed after changes, at most every
 *   PUSH_INTERVAL_MS per shard) and re-sums read it; a record is only replaced by a state
 *   of the same or a higher version, so late or reordered reports never move a total back.
 * - Coalescing. A shard pushes at most once per PUSH_INTERVAL_MS, and the live stream
 *   broadcasts at most once per BROADCAST_INTERVAL_MS (10 per second): both are one alarm
 *   armed at `coalescedDueAt`, never a timer loop.
 *
 * What it costs: a report is O(1); an aggregate is O(N); a re-sum is N shard reads and
 * happens at most once per MAX_AGE_MS per counter while it is being read, or never when
 * every shard keeps pushing.
 */

/** Eventual reads are never older than this (ms). */
export const MAX_AGE_MS = 1_000
/** A shard pushes its state to the aggregator at most this often (ms). */
export const PUSH_INTERVAL_MS = 100
/** The live stream sends at most one total per this interval (ms): 10 per second. */
export const BROADCAST_INTERVAL_MS = 100

export interface ShardRecord {
  shard: number
  /** Counts the shard's state changes; higher is newer. */
  version: number
  value: bigint
  members: number
  /** Every increment the shard acknowledged before this time (ms) is in `value`. */
  knownAt: number
}

/** The record to keep when `incoming` arrives over `existing`. */
export function mergeRecord(existing: ShardRecord | undefined, incoming: ShardRecord): ShardRecord {
  if (existing === undefined) return incoming
  const newer = incoming.version >= existing.version ? incoming : existing
  return { ...newer, knownAt: Math.max(existing.knownAt, incoming.knownAt) }
}

export interface Aggregate {
  value: bigint
  members: number
  /** Every increment acknowledged before this time (ms) is included. */
  asOf: number
}

/** Sums the records of shards 0..shards−1; `asOf` is the oldest of their `knownAt`. */
export function aggregate(records: ReadonlyMap<number, ShardRecord>, shards: number): Aggregate {
  let value = 0n
  let members = 0
  let asOf = Number.POSITIVE_INFINITY
  for (let shard = 0; shard < shards; shard++) {
    const record = records.get(shard)
    value += record?.value ?? 0n
    members += record?.members ?? 0
    asOf = Math.min(asOf, record?.knownAt ?? 0)
  }
  return { value, members, asOf: Number.isFinite(asOf) ? asOf : 0 }
}

/** Whether an aggregate is too old to answer an eventual read at `now`. */
export function needsResum(asOf: number, now: number, maxAgeMs = MAX_AGE_MS): boolean {
  return now - asOf > maxAgeMs
}

/** The age to report for an aggregate at `now` (ms, never negative under clock skew). */
export function ageMs(asOf: number, now: number): number {
  return Math.max(0, now - asOf)
}

/**
 * When a coalesced action (a push, a broadcast) that last ran at `lastRunAt` may run next:
 * now, unless that is closer than `intervalMs` to the last run.
 */
export function coalescedDueAt(lastRunAt: number | undefined, now: number, intervalMs: number): number {
  return lastRunAt === undefined ? now : Math.max(now, lastRunAt + intervalMs)
}

/** Whether the live stream has news: a total different from the one it last sent. */
export function totalChanged(
  last: { value: bigint; members: number } | undefined,
  current: { value: bigint; members: number },
): boolean {
  return last === undefined || last.value !== current.value || last.members !== current.members
}

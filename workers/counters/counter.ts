/**
 * Sharded counters: arithmetic, placement and lifecycle as plain functions.
 *
 * What it guarantees
 * - Exact int64 arithmetic (BigInt), and a counter's total always fits in int64 without any
 *   coordination between shards. Escrow, as in bounded counters: each shard owns an equal
 *   1/MAX_SHARDS share of the int64 range, so a shard's value stays in
 *   [SHARD_MIN, SHARD_MAX] = [-2^57, 2^57 − 1], and the sum of up to 64 shards stays in
 *   [-2^63, 2^63 − 64]. An increment that would take its shard out of its share is refused
 *   and changes nothing; a `by` outside the share can never be applied anywhere.
 * - Placement. An increment without an idempotency key goes to a uniformly random shard of
 *   the N current shards: random needs no shared cursor (round-robin would need one global
 *   position, itself a hot spot, or would only be round-robin per isolate) and spreads load
 *   evenly in expectation. Anything placed by hash (idempotency keys, members) uses
 *   `shardFor` over `hashedShards`, the shard count at creation, which never changes: a
 *   retried key lands on the shard of its first attempt, and a member lives in exactly one
 *   shard, whatever N grows to.
 * - Growth only. N grows up to MAX_SHARDS while increments flow; a new shard starts at 0 and
 *   the strong read sums shards 0..N−1, so nothing is lost. Shrinking is refused: it would
 *   need draining a shard into the others.
 * - Incarnations. Deleting and re-creating a counter gives it a larger incarnation number;
 *   a shard that sees a larger one forgets the old data, and refuses a smaller one, so a
 *   request that read a stale configuration can never write into the new counter.
 *
 * What it costs: an increment touches one shard (O(1)); a strong read touches N shards;
 * values beyond 2^53 travel as decimal strings.
 */
import { INT64_MAX, INT64_MIN, MAX_SHARDS } from '../../schemas/counters'
import { shardFor } from '../platform/hashing'

export { DEFAULT_SHARDS, INT64_MAX, INT64_MIN, MAX_SHARDS } from '../../schemas/counters'

/** The smallest value one shard may hold: its 1/MAX_SHARDS share of the int64 range. */
export const SHARD_MIN = INT64_MIN / BigInt(MAX_SHARDS)
/** The largest value one shard may hold. */
export const SHARD_MAX = INT64_MAX / BigInt(MAX_SHARDS)

const LARGEST_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX
}

/** Whether `by` could ever be applied: it must fit one shard's share on its own. */
export function fitsShardShare(by: bigint): boolean {
  return by >= SHARD_MIN && by <= SHARD_MAX
}

export type IncrementOutcome =
  | { applied: true; value: bigint }
  | { applied: false; reason: 'outside_shard_share' }

/** Adds `by` to a shard's value, or refuses when the result would leave the shard's share. */
export function applyIncrement(value: bigint, by: bigint): IncrementOutcome {
  const next = value + by
  if (next < SHARD_MIN || next > SHARD_MAX) return { applied: false, reason: 'outside_shard_share' }
  return { applied: true, value: next }
}

/** The JSON form of an integer: a number when |n| ≤ 2^53 − 1, else a decimal string. */
export function toJsonInteger(value: bigint): number | string {
  return value >= -LARGEST_SAFE && value <= LARGEST_SAFE ? Number(value) : value.toString()
}

export interface Placement {
  /** Current shard count N: increments spread over shards 0..N−1. */
  shards: number
  /** Shard count at creation: hash placement (keys, members) uses shards 0..hashedShards−1. */
  hashedShards: number
}

/**
 * The shard an increment goes to: with an idempotency key, the key's hash over the fixed
 * `hashedShards` (so every retry meets the record of the first attempt); without one, a
 * uniformly random shard of the current N. `random` is in [0, 1).
 */
export function incrementShard(placement: Placement, random: number, idempotencyKey?: string): number {
  if (idempotencyKey !== undefined) return shardFor(idempotencyKey, placement.hashedShards)
  return Math.min(placement.shards - 1, Math.floor(random * placement.shards))
}

/** The one shard a member lives in, stable for the counter's lifetime. */
export function memberShard(placement: Placement, member: string): number {
  return shardFor(member, placement.hashedShards)
}

export type ShardCountChange = 'grow' | 'unchanged' | 'shrink_refused'

/** What asking for `requested` shards means for a counter with `current` shards. */
export function planShardCount(current: number, requested: number): ShardCountChange {
  if (requested > current) return 'grow'
  if (requested === current) return 'unchanged'
  return 'shrink_refused'
}

export interface ShardTotals {
  value: bigint
  members: number
}

/** The counter's total: the sum of its shards' values and of their member counts. */
export function sumShards(shards: Iterable<ShardTotals>): ShardTotals {
  let value = 0n
  let members = 0
  for (const shard of shards) {
    value += shard.value
    members += shard.members
  }
  return { value, members }
}

/** What an object knows of the counter incarnation it serves. */
export interface StoredIncarnation {
  incarnation: number
  retired: boolean
}

/**
 * How an object treats a request carrying incarnation `given`:
 * `adopt` (first use, or a newer counter replaced the one it holds: forget the old data),
 * `current` (serve it), `retired` (this counter was deleted), `stale` (the request read an
 * older counter's configuration).
 */
export function admitIncarnation(
  stored: StoredIncarnation | undefined,
  given: number,
): 'adopt' | 'current' | 'retired' | 'stale' {
  if (stored === undefined || given > stored.incarnation) return 'adopt'
  if (given < stored.incarnation) return 'stale'
  return stored.retired ? 'retired' : 'current'
}

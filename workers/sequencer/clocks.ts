/**
 * Logical clocks: Lamport timestamps, hybrid logical clocks and vector clocks, as pure
 * functions over immutable values (the sequencer serves the first two; the key-value store
 * versions its values with the third).
 *
 * - Lamport (1978): a counter. A local or send event ticks it; a receive takes
 *   max(own, seen) + 1. Guarantee: if a happened before b then L(a) < L(b) (not the
 *   converse). Cost: one integer.
 * - Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014): a
 *   pair (wall, logical) where wall is the largest physical time seen and logical counts
 *   events within it. Guarantee: if a happened before b then hlc(a) < hlc(b), and wall
 *   stays within the clock drift of physical time, so timestamps read as real times.
 *   Remote timestamps more than `maxDriftMs` ahead of physical time are refused
 *   (`HlcDriftError`) so one bad clock cannot drag everyone into the future. Cost: two
 *   integers; it never waits for the clock. If logical would pass 2^32 - 1 the wall moves
 *   one millisecond ahead instead (order is kept; the paper bounds logical far lower).
 * - Vector clocks (Fidge, Mattern 1988): one counter per node. Guarantee: a happened
 *   before b exactly when V(a) < V(b) componentwise; neither ≤ the other means concurrent.
 *   Cost: one entry per node that ever wrote; compare and merge are O(nodes).
 */
import { type HlcTimestamp, MAX_HLC_LOGICAL, MAX_HLC_WALL_MS, MAX_LAMPORT } from '../../schemas/sequencer'

export {
  decodeHlc,
  type HlcTimestamp,
  isHlcTimestamp,
  MAX_HLC_LOGICAL,
  MAX_HLC_WALL_MS,
  MAX_LAMPORT,
} from '../../schemas/sequencer'

// ---------------------------------------------------------------- Lamport timestamps

/** A local or send event: the next timestamp. */
export function lamportTick(current: number): number {
  return lamportReceive(current, 0)
}

/** A receive event carrying `seen`: strictly greater than both. */
export function lamportReceive(current: number, seen: number): number {
  const next = Math.max(current, seen) + 1
  if (!Number.isSafeInteger(next) || next > MAX_LAMPORT)
    throw new RangeError('The Lamport clock is exhausted')
  return next
}

// ---------------------------------------------------------------- Hybrid logical clocks

export const HLC_ZERO: HlcTimestamp = { wallMs: 0, logical: 0 }

/** Thrown by `hlcReceive` when a remote timestamp is too far ahead of physical time. */
export class HlcDriftError extends RangeError {
  constructor(
    readonly aheadByMs: number,
    readonly maxDriftMs: number,
  ) {
    super(`The timestamp is ${aheadByMs} ms ahead of this clock; at most ${maxDriftMs} ms is accepted`)
    this.name = 'HlcDriftError'
  }
}

/** -1, 0 or 1 as `a` is before, equal to or after `b`. */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): -1 | 0 | 1 {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1
  return 0
}

function checked(wallMs: number, logical: number): HlcTimestamp {
  const timestamp = logical > MAX_HLC_LOGICAL ? { wallMs: wallMs + 1, logical: 0 } : { wallMs, logical }
  if (timestamp.wallMs > MAX_HLC_WALL_MS) throw new RangeError('The HLC wall time is past 2^48 - 1 ms')
  return timestamp
}

/** A local or send event at physical time `physicalMs`. */
export function hlcTick(last: HlcTimestamp, physicalMs: number): HlcTimestamp {
  const wallMs = Math.max(last.wallMs, physicalMs)
  return checked(wallMs, wallMs === last.wallMs ? last.logical + 1 : 0)
}

/** A receive event carrying `remote`, at physical time `physicalMs`. */
export function hlcReceive(
  last: HlcTimestamp,
  remote: HlcTimestamp,
  physicalMs: number,
  maxDriftMs = Number.POSITIVE_INFINITY,
): HlcTimestamp {
  if (remote.wallMs - physicalMs > maxDriftMs) throw new HlcDriftError(remote.wallMs - physicalMs, maxDriftMs)
  const wallMs = Math.max(last.wallMs, remote.wallMs, physicalMs)
  let logical: number
  if (wallMs === last.wallMs && wallMs === remote.wallMs) logical = Math.max(last.logical, remote.logical) + 1
  else if (wallMs === last.wallMs) logical = last.logical + 1
  else if (wallMs === remote.wallMs) logical = remote.logical + 1
  else logical = 0
  return checked(wallMs, logical)
}

/** A fixed-width string whose lexicographic order is the timestamp order: `<wall 15>-<logical 10>`. */
export function encodeHlc(timestamp: HlcTimestamp): string {
  return `${String(timestamp.wallMs).padStart(15, '0')}-${String(timestamp.logical).padStart(10, '0')}`
}

// ---------------------------------------------------------------- Vector clocks

/** Node → number of events of that node this clock has seen; a missing node counts 0. */
export type VectorClock = Readonly<Record<string, number>>

export type CausalOrder = 'before' | 'after' | 'equal' | 'concurrent'

function entries(clock: VectorClock): Map<string, number> {
  return new Map(Object.entries(clock))
}

/** A local or send event of `node`. */
export function vectorTick(clock: VectorClock, node: string): VectorClock {
  const next = entries(clock)
  next.set(node, (next.get(node) ?? 0) + 1)
  return Object.fromEntries(next)
}

/** The componentwise maximum: everything either clock has seen. */
export function vectorMerge(a: VectorClock, b: VectorClock): VectorClock {
  const merged = entries(a)
  for (const [node, count] of Object.entries(b)) merged.set(node, Math.max(merged.get(node) ?? 0, count))
  return Object.fromEntries(merged)
}

/** A receive event of `node` carrying `remote`: merge, then tick. */
export function vectorReceive(local: VectorClock, node: string, remote: VectorClock): VectorClock {
  return vectorTick(vectorMerge(local, remote), node)
}

/** How the event stamped `a` relates to the one stamped `b`. */
export function vectorCompare(a: VectorClock, b: VectorClock): CausalOrder {
  const left = entries(a)
  const right = entries(b)
  let aHasMore = false
  let bHasMore = false
  for (const node of new Set([...left.keys(), ...right.keys()])) {
    const x = left.get(node) ?? 0
    const y = right.get(node) ?? 0
    if (x > y) aHasMore = true
    if (y > x) bHasMore = true
  }
  if (aHasMore && bHasMore) return 'concurrent'
  if (aHasMore) return 'after'
  if (bHasMore) return 'before'
  return 'equal'
}

/** True when the event stamped `a` happened before the one stamped `b`. */
export function happenedBefore(a: VectorClock, b: VectorClock): boolean {
  return vectorCompare(a, b) === 'before'
}

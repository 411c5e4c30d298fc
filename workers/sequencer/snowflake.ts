/**
 * Snowflake-style 64-bit IDs: 41 bits of milliseconds since an epoch, 10 bits of generator
 * ID, 12 bits of sequence (the top bit stays 0, so every ID is a positive signed int64).
 *
 *   id = (timestampMs - epochMs) << 22 | generatorId << 12 | sequence
 *
 * Guarantees, per generator (one state, one generator ID at a time):
 * - Every ID is strictly greater than the one before, so no ID repeats. The state is only
 *   the last (timestamp, sequence): the next ID uses max(clock, last timestamp). A clock
 *   that stands still or jumps backwards keeps issuing from the last timestamp (a logical
 *   advance), never from an earlier one; after 4,096 IDs in one millisecond the sequence
 *   overflows into the next millisecond, ahead of the clock if need be. The logic never
 *   needs the clock to move (inside a Durable Object `Date.now()` only advances after I/O).
 * - Under a generator-ID lease (`issueUnderLease`), IDs of different holders of the same
 *   generator ID never meet: a lease is a window of ID timestamps. A holder only issues IDs
 *   whose timestamp is below its lease's `expiresAtMs`, and the next holder of that ID
 *   starts at or above `issueFromMs` (the previous holder's expiry). Clock skew between the
 *   generators and the registry cannot break this, because the ID's own timestamp decides.
 * - IDs sort by time across generators to the millisecond (k-sortable), not beyond.
 *
 * Costs: O(1) per ID and a BigInt; 4,096 IDs per millisecond per generator (4.096 M/s)
 * before IDs run ahead of the clock; 1,024 generators; 2^41 ms ≈ 69.7 years after the epoch.
 */

import { GENERATOR_ID_BITS, MAX_SNOWFLAKE, SEQUENCE_BITS, TIMESTAMP_BITS } from '../../schemas/sequencer'

export {
  GENERATOR_ID_BITS,
  MAX_SNOWFLAKE,
  parseSnowflake,
  SEQUENCE_BITS,
  TIMESTAMP_BITS,
} from '../../schemas/sequencer'

export const MAX_GENERATOR_ID = 2 ** GENERATOR_ID_BITS - 1
export const MAX_SEQUENCE = 2 ** SEQUENCE_BITS - 1
/** The largest number of milliseconds after the epoch an ID can carry. */
export const MAX_ELAPSED_MS = 2 ** TIMESTAMP_BITS - 1
/** The largest ID: 2^63 - 1. */

/** The default epoch: 2024-01-01T00:00:00Z. */
export const DEFAULT_SNOWFLAKE_EPOCH_MS = Date.UTC(2024, 0, 1)

/** The last ID a generator issued, as its parts. */
export interface SnowflakeState {
  /** Unix milliseconds of the last ID (may be ahead of the clock after a logical advance). */
  timestampMs: number
  sequence: number
}

export interface SnowflakeParts extends SnowflakeState {
  generatorId: number
}

export interface SnowflakeOptions {
  generatorId: number
  /** Unix milliseconds of timestamp 0. */
  epochMs?: number
}

const GENERATOR_SHIFT = 2 ** SEQUENCE_BITS
const TIMESTAMP_SHIFT = BigInt(GENERATOR_ID_BITS + SEQUENCE_BITS)

function checkGeneratorId(generatorId: number): void {
  if (!Number.isInteger(generatorId) || generatorId < 0 || generatorId > MAX_GENERATOR_ID) {
    throw new RangeError(`A generator ID is an integer in 0..${MAX_GENERATOR_ID}`)
  }
}

function checkElapsed(elapsedMs: number, epochMs: number): void {
  if (!Number.isInteger(elapsedMs) || elapsedMs < 0 || elapsedMs > MAX_ELAPSED_MS) {
    throw new RangeError(`A Snowflake timestamp lies within 2^41 ms after the epoch (${epochMs})`)
  }
}

export function composeSnowflake(parts: SnowflakeParts, epochMs = DEFAULT_SNOWFLAKE_EPOCH_MS): bigint {
  checkGeneratorId(parts.generatorId)
  checkElapsed(parts.timestampMs - epochMs, epochMs)
  if (!Number.isInteger(parts.sequence) || parts.sequence < 0 || parts.sequence > MAX_SEQUENCE) {
    throw new RangeError(`A sequence is an integer in 0..${MAX_SEQUENCE}`)
  }
  const low = parts.generatorId * GENERATOR_SHIFT + parts.sequence
  return (BigInt(parts.timestampMs - epochMs) << TIMESTAMP_SHIFT) | BigInt(low)
}

export function decodeSnowflake(id: bigint, epochMs = DEFAULT_SNOWFLAKE_EPOCH_MS): SnowflakeParts {
  if (id < 0n || id > MAX_SNOWFLAKE) throw new RangeError('A Snowflake ID is an integer in 0..2^63-1')
  const low = Number(id & ((1n << TIMESTAMP_SHIFT) - 1n))
  return {
    timestampMs: Number(id >> TIMESTAMP_SHIFT) + epochMs,
    generatorId: Math.floor(low / GENERATOR_SHIFT),
    sequence: low % GENERATOR_SHIFT,
  }
}

/**
 * The state whose next ID is the first one at `timestampMs` or later and above `last`:
 * "the last ID was the final sequence number of the millisecond before".
 */
export function startingAt(last: SnowflakeState | undefined, timestampMs: number): SnowflakeState {
  const floor = last === undefined ? timestampMs : Math.max(timestampMs, last.timestampMs + 1)
  return { timestampMs: floor - 1, sequence: MAX_SEQUENCE }
}

/** One generator: its ID, its epoch and its last state. `next(now)` issues one ID. */
export class SnowflakeGenerator {
  readonly generatorId: number
  readonly epochMs: number
  #timestampMs: number
  #sequence: number

  constructor(options: SnowflakeOptions, last?: SnowflakeState) {
    checkGeneratorId(options.generatorId)
    this.generatorId = options.generatorId
    this.epochMs = options.epochMs ?? DEFAULT_SNOWFLAKE_EPOCH_MS
    this.#timestampMs = last?.timestampMs ?? Number.NEGATIVE_INFINITY
    this.#sequence = last?.sequence ?? MAX_SEQUENCE
  }

  /** The last ID issued, as (timestamp, sequence); persist it to continue after a restart. */
  get last(): SnowflakeState | undefined {
    if (this.#timestampMs === Number.NEGATIVE_INFINITY) return undefined
    return { timestampMs: this.#timestampMs, sequence: this.#sequence }
  }

  /**
   * The next ID. A clock ahead of the last timestamp starts a new millisecond at sequence
   * 0; otherwise the last millisecond goes on, and past its 4,096th ID the next one begins.
   */
  next(nowMs: number): bigint {
    let timestampMs = this.#timestampMs
    let sequence = this.#sequence
    if (nowMs > timestampMs) {
      timestampMs = nowMs
      sequence = 0
    } else if (sequence < MAX_SEQUENCE) {
      sequence += 1
    } else {
      timestampMs += 1
      sequence = 0
    }
    const elapsedMs = timestampMs - this.epochMs
    checkElapsed(elapsedMs, this.epochMs)
    this.#timestampMs = timestampMs
    this.#sequence = sequence
    return (BigInt(elapsedMs) << TIMESTAMP_SHIFT) | BigInt(this.generatorId * GENERATOR_SHIFT + sequence)
  }

  /** `count` IDs in increasing order, all computed with the same clock reading. */
  take(count: number, nowMs: number): bigint[] {
    const ids = new Array<bigint>(count)
    for (let i = 0; i < count; i++) ids[i] = this.next(nowMs)
    return ids
  }
}

/** A generator ID held for a window of ID timestamps (see the registry in leases.ts). */
export interface SnowflakeLease {
  generatorId: number
  /** The first timestamp this holder may use (the previous holder's expiry), Unix ms. */
  issueFromMs: number
  /** IDs of this holder have timestamps strictly below this, Unix ms. */
  expiresAtMs: number
}

/** What a leased generator persists: the last ID's parts and the epoch they were made with. */
export interface LeasedSnowflakeState extends SnowflakeParts {
  epochMs: number
}

/** Thrown when a batch would carry timestamps past the lease: renew, then issue again. */
export class LeaseWindowExceeded extends Error {
  constructor(readonly lastTimestampMs: number) {
    super('The batch would carry timestamps past the generator-ID lease; renew the lease first')
    this.name = 'LeaseWindowExceeded'
  }
}

/**
 * Issues `count` IDs under `lease`. Taking up a generator ID other than the last one, or
 * the same one again after someone else held it, starts above both the last ID and the
 * lease's `issueFromMs`, so the IDs keep increasing and never meet the other holder's. Throws `LeaseWindowExceeded` (and
 * issues nothing) when the batch would reach `expiresAtMs`.
 */
export function issueUnderLease(
  last: LeasedSnowflakeState | undefined,
  lease: SnowflakeLease,
  count: number,
  nowMs: number,
  epochMs = DEFAULT_SNOWFLAKE_EPOCH_MS,
): { ids: bigint[]; state: LeasedSnowflakeState } {
  if (last !== undefined && last.epochMs !== epochMs) {
    throw new RangeError(
      `The Snowflake epoch changed from ${last.epochMs} to ${epochMs} after IDs were issued; IDs could repeat`,
    )
  }
  // Going on from the last ID is only safe under the same generator ID, and only if nobody
  // else has held that ID since (else the lease starts above what they may have issued).
  const continues =
    last !== undefined && last.generatorId === lease.generatorId && last.timestampMs >= lease.issueFromMs
  const start = continues ? last : startingAt(last, Math.max(lease.issueFromMs, epochMs))
  const generator = new SnowflakeGenerator({ generatorId: lease.generatorId, epochMs }, start)
  const ids = generator.take(count, nowMs)
  const end = generator.last as SnowflakeState
  if (end.timestampMs >= lease.expiresAtMs) throw new LeaseWindowExceeded(end.timestampMs)
  return { ids, state: { ...end, generatorId: lease.generatorId, epochMs } }
}

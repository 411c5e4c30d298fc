/**
 * ULID (https://github.com/ulid/spec) in monotonic mode: 48 bits of Unix milliseconds and
 * 80 bits of randomness, written as 26 characters of Crockford's base32 (10 for the time,
 * 16 for the randomness), so the string order is the time order.
 *
 * Monotonic mode: at a new millisecond the 80 bits are fresh randomness; each further ULID
 * in the same millisecond is the previous randomness plus 1. A clock that stands still or
 * goes backwards keeps the last timestamp and goes on incrementing (as the spec's reference
 * `monotonicFactory` does). Where the spec gives up when the 80 bits overflow, this
 * generator moves the timestamp one millisecond ahead and draws fresh randomness.
 *
 * Guarantees, per generator: each ULID is strictly greater than the one before (as a
 * string), so none repeats; across generators ULIDs sort by time to the millisecond and
 * collide only if 80 random bits match within one millisecond.
 * Costs: O(1) per ULID, 10 random bytes per new millisecond, one 80-bit BigInt addition
 * per ULID within a millisecond.
 */
import type { RandomBytes } from './uuidv7'

export const CROCKFORD_BASE32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
export const MAX_ULID_TIMESTAMP_MS = 2 ** 48 - 1
const RANDOM_BITS = 80n
const MAX_RANDOM = (1n << RANDOM_BITS) - 1n

/** The last ULID's timestamp and randomness (16 base32 characters); persist it to continue. */
export interface UlidState {
  timestampMs: number
  randomness: string
}

function encodeBase32(value: bigint, length: number): string {
  let text = ''
  let rest = value
  for (let i = 0; i < length; i++) {
    text = CROCKFORD_BASE32[Number(rest & 31n)] + text
    rest >>= 5n
  }
  return text
}

function decodeBase32(text: string): bigint | undefined {
  let value = 0n
  for (const char of text.toUpperCase()) {
    const digit = CROCKFORD_BASE32.indexOf(char)
    if (digit < 0) return undefined
    value = (value << 5n) | BigInt(digit)
  }
  return value
}

function freshRandomness(random: RandomBytes): bigint {
  let value = 0n
  for (const byte of random(10)) value = (value << 8n) | BigInt(byte)
  return value
}

const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i

/** The timestamp of a ULID, or undefined if the text is not a ULID. */
export function ulidTimestampMs(ulid: string): number | undefined {
  if (!ULID_PATTERN.test(ulid)) return undefined
  return Number(decodeBase32(ulid.slice(0, 10)))
}

export class UlidGenerator {
  readonly #random: RandomBytes
  #timestampMs: number
  #randomness: bigint

  constructor(random: RandomBytes, last?: UlidState) {
    this.#random = random
    this.#timestampMs = last?.timestampMs ?? Number.NEGATIVE_INFINITY
    this.#randomness = (last && decodeBase32(last.randomness)) ?? 0n
  }

  get last(): UlidState | undefined {
    if (this.#timestampMs === Number.NEGATIVE_INFINITY) return undefined
    return { timestampMs: this.#timestampMs, randomness: encodeBase32(this.#randomness, 16) }
  }

  next(nowMs: number): string {
    let timestampMs = this.#timestampMs
    let randomness: bigint
    if (nowMs > timestampMs) {
      timestampMs = nowMs
      randomness = freshRandomness(this.#random)
    } else if (this.#randomness < MAX_RANDOM) {
      randomness = this.#randomness + 1n
    } else {
      timestampMs += 1
      randomness = freshRandomness(this.#random)
    }
    if (!Number.isInteger(timestampMs) || timestampMs < 0 || timestampMs > MAX_ULID_TIMESTAMP_MS) {
      throw new RangeError('A ULID timestamp is an integer in 0..2^48-1 ms')
    }
    this.#timestampMs = timestampMs
    this.#randomness = randomness
    return encodeBase32(BigInt(timestampMs), 10) + encodeBase32(randomness, 16)
  }

  /** `count` ULIDs in increasing order, all computed with the same clock reading. */
  take(count: number, nowMs: number): string[] {
    const ulids = new Array<string>(count)
    for (let i = 0; i < count; i++) ulids[i] = this.next(nowMs)
    return ulids
  }
}

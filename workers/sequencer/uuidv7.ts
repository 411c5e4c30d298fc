/**
 * UUIDv7 (RFC 9562 §5.7), monotonic per generator by the RFC's "fixed bit-length dedicated
 * counter" method (§6.2, Method 1).
 *
 *   48 bits Unix ms | ver 0111 | 12 bits counter (rand_a) | var 10 | 30 bits counter | 32 random bits
 *
 * The counter is 42 bits: all of rand_a and the top 30 bits of rand_b. At each new
 * millisecond it is seeded with random bits and its leftmost bit cleared (the RFC's guard
 * against early rollover); each further UUID in the same millisecond adds 1 to it. A
 * clock that stands still or goes backwards keeps the last timestamp and goes on counting
 * (the RFC's monotonic error checking); a counter that rolls over moves the timestamp one
 * millisecond ahead (§6.2, "counter rollover handling"). The last 32 bits are fresh
 * randomness for every UUID.
 *
 * Guarantees, per generator: each UUID is strictly greater than the one before, as bytes
 * and as its lowercase string, so none repeats; across generators UUIDs sort by time to the
 * millisecond and collide only if 73 random bits (seed + tail) match within one ms.
 * Costs: O(1) per UUID and 4 random bytes (plus 6 per new millisecond); at least 2^41
 * UUIDs per millisecond before the timestamp runs ahead of the clock.
 */

/** Fills a new array of `length` random bytes (`crypto.getRandomValues` in production). */
export type RandomBytes = (length: number) => Uint8Array

export const COUNTER_BITS = 42
export const MAX_COUNTER = 2 ** COUNTER_BITS - 1
export const MAX_UUIDV7_TIMESTAMP_MS = 2 ** 48 - 1

/** The last UUID's timestamp and counter; persist it to continue after a restart. */
export interface UuidV7State {
  timestampMs: number
  counter: number
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/** A random 42-bit counter seed with its leftmost bit cleared: 41 random bits. */
function seedCounter(random: RandomBytes): number {
  const bytes = random(6)
  const high = (bytes[0] ?? 0) & 0x01
  const rest = (bytes[1] ?? 0) * 2 ** 32 + new DataView(bytes.buffer, bytes.byteOffset + 2, 4).getUint32(0)
  return high * 2 ** 40 + rest
}

export function formatUuidV7(timestampMs: number, counter: number, tail: Uint8Array): string {
  const bytes = new Uint8Array(16)
  let time = timestampMs
  for (let i = 5; i >= 0; i--) {
    bytes[i] = time % 256
    time = Math.floor(time / 256)
  }
  const counterHigh = Math.floor(counter / 2 ** 30) // 12 bits: rand_a
  const counterLow = counter % 2 ** 30 // 30 bits: top of rand_b
  bytes[6] = 0x70 | (counterHigh >>> 8)
  bytes[7] = counterHigh & 0xff
  bytes[8] = 0x80 | (counterLow >>> 24)
  bytes[9] = (counterLow >>> 16) & 0xff
  bytes[10] = (counterLow >>> 8) & 0xff
  bytes[11] = counterLow & 0xff
  bytes.set(tail.subarray(0, 4), 12)
  let text = ''
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-'
    text += HEX[bytes[i] ?? 0]
  }
  return text
}

const UUIDV7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The timestamp and counter of a UUIDv7 made by this generator; undefined if not a UUIDv7. */
export function parseUuidV7(uuid: string): UuidV7State | undefined {
  const text = uuid.toLowerCase()
  if (!UUIDV7_PATTERN.test(text)) return undefined
  const hex = text.replace(/-/g, '')
  const timestampMs = Number.parseInt(hex.slice(0, 12), 16)
  const counterHigh = Number.parseInt(hex.slice(13, 16), 16)
  const counterLow = Number.parseInt(hex.slice(16, 24), 16) & 0x3fffffff
  return { timestampMs, counter: counterHigh * 2 ** 30 + counterLow }
}

export class UuidV7Generator {
  readonly #random: RandomBytes
  #timestampMs: number
  #counter: number

  constructor(random: RandomBytes, last?: UuidV7State) {
    this.#random = random
    this.#timestampMs = last?.timestampMs ?? Number.NEGATIVE_INFINITY
    this.#counter = last?.counter ?? 0
  }

  get last(): UuidV7State | undefined {
    if (this.#timestampMs === Number.NEGATIVE_INFINITY) return undefined
    return { timestampMs: this.#timestampMs, counter: this.#counter }
  }

  next(nowMs: number): string {
    let timestampMs = this.#timestampMs
    let counter: number
    if (nowMs > timestampMs) {
      timestampMs = nowMs
      counter = seedCounter(this.#random)
    } else if (this.#counter < MAX_COUNTER) {
      counter = this.#counter + 1
    } else {
      timestampMs += 1
      counter = seedCounter(this.#random)
    }
    if (!Number.isInteger(timestampMs) || timestampMs < 0 || timestampMs > MAX_UUIDV7_TIMESTAMP_MS) {
      throw new RangeError('A UUIDv7 timestamp is an integer in 0..2^48-1 ms')
    }
    this.#timestampMs = timestampMs
    this.#counter = counter
    return formatUuidV7(timestampMs, counter, this.#random(4))
  }

  /** `count` UUIDs in increasing order, all computed with the same clock reading. */
  take(count: number, nowMs: number): string[] {
    const uuids = new Array<string>(count)
    for (let i = 0; i < count; i++) uuids[i] = this.next(nowMs)
    return uuids
  }
}

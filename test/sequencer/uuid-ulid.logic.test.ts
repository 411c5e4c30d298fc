import { describe, expect, it } from 'vitest'
import { UlidGenerator, ulidTimestampMs } from '../../workers/sequencer/ulid'
import { MAX_COUNTER, parseUuidV7, UuidV7Generator } from '../../workers/sequencer/uuidv7'
import { randomInt, seededBytes, seededRandom } from '../support/seeded'

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0)
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

function expectStrictlyIncreasing(values: string[]) {
  for (let i = 1; i < values.length; i++) {
    if (!((values[i] as string) > (values[i - 1] as string))) {
      throw new Error(`${values[i]} is not above ${values[i - 1]} (index ${i})`)
    }
  }
}

/** An injected clock that mostly creeps forward and sometimes jumps back (seeded). */
function jumpyClock(random: () => number): () => number {
  let clock = T0
  return () => {
    const roll = random()
    if (roll < 0.2) clock -= randomInt(random, 1, 10_000)
    else if (roll < 0.7) clock += randomInt(random, 0, 2)
    return clock
  }
}

describe('UUIDv7 (RFC 9562, counter method)', () => {
  it('has the version 7 and variant bits and the millisecond timestamp in front', () => {
    const generator = new UuidV7Generator(seededBytes(seededRandom(1)))
    const uuid = generator.next(T0)
    expect(uuid).toMatch(UUIDV7)
    expect(Number.parseInt(uuid.replace(/-/g, '').slice(0, 12), 16)).toBe(T0)
    expect(parseUuidV7(uuid)?.timestampMs).toBe(T0)
  })

  it('seeds each millisecond with the counter’s leftmost bit cleared, then counts up by one', () => {
    const allOnes = (length: number) => new Uint8Array(length).fill(0xff)
    const generator = new UuidV7Generator(allOnes)
    const [first, second] = generator.take(2, T0)
    expect(parseUuidV7(first as string)?.counter).toBe(2 ** 41 - 1)
    expect(parseUuidV7(second as string)?.counter).toBe(2 ** 41)
  })

  it('is strictly increasing within a millisecond and with a clock that jumps backwards', () => {
    const random = seededRandom(99)
    const generator = new UuidV7Generator(seededBytes(random))
    const clock = jumpyClock(random)
    const uuids: string[] = []
    for (let batch = 0; batch < 500; batch++)
      uuids.push(...generator.take(randomInt(random, 1, 100), clock()))
    uuids.push(...generator.take(10_000, T0 - 1))
    expect(uuids.every((uuid) => UUIDV7.test(uuid))).toBe(true)
    expectStrictlyIncreasing(uuids)
    expect(new Set(uuids).size).toBe(uuids.length)
  })

  it('moves the timestamp one millisecond ahead when the counter rolls over', () => {
    const generator = new UuidV7Generator(seededBytes(seededRandom(3)), {
      timestampMs: T0,
      counter: MAX_COUNTER - 1,
    })
    const [atMax, rolled] = generator.take(2, T0)
    expect(parseUuidV7(atMax as string)).toEqual({ timestampMs: T0, counter: MAX_COUNTER })
    expect(parseUuidV7(rolled as string)?.timestampMs).toBe(T0 + 1)
    expect((rolled as string) > (atMax as string)).toBe(true)
  })

  it('continues above its last UUID from persisted state', () => {
    const random = seededRandom(5)
    const before = new UuidV7Generator(seededBytes(random))
    const first = before.take(1_000, T0)
    const after = new UuidV7Generator(seededBytes(random), before.last).take(1_000, T0 - 5_000)
    expectStrictlyIncreasing([...first, ...after])
  })
})

describe('ULID (monotonic mode)', () => {
  it('encodes the time in the first 10 Crockford base32 characters', () => {
    // The spec's example: 01ARYZ6S41 is 1469918176385 ms.
    const generator = new UlidGenerator(seededBytes(seededRandom(1)))
    const ulid = generator.next(1469918176385)
    expect(ulid.slice(0, 10)).toBe('01ARYZ6S41')
    expect(ulid).toMatch(ULID)
    expect(ulidTimestampMs(ulid)).toBe(1469918176385)
    expect(ulidTimestampMs('not-a-ulid')).toBeUndefined()
  })

  it('increments the randomness by one within a millisecond', () => {
    const generator = new UlidGenerator(() => new Uint8Array(10))
    expect(generator.take(3, T0).map((ulid) => ulid.slice(10))).toEqual([
      '0000000000000000',
      '0000000000000001',
      '0000000000000002',
    ])
  })

  it('is strictly increasing within a millisecond and with a clock that jumps backwards', () => {
    const random = seededRandom(11)
    const generator = new UlidGenerator(seededBytes(random))
    const clock = jumpyClock(random)
    const ulids: string[] = []
    for (let batch = 0; batch < 500; batch++)
      ulids.push(...generator.take(randomInt(random, 1, 100), clock()))
    expect(ulids.every((ulid) => ULID.test(ulid))).toBe(true)
    expectStrictlyIncreasing(ulids)
    expect(new Set(ulids).size).toBe(ulids.length)
  })

  it('moves the timestamp one millisecond ahead when the 80 random bits overflow', () => {
    const generator = new UlidGenerator(() => new Uint8Array(10), {
      timestampMs: T0,
      randomness: 'ZZZZZZZZZZZZZZZZ',
    })
    const next = generator.next(T0)
    expect(ulidTimestampMs(next)).toBe(T0 + 1)
    expect(next.slice(10)).toBe('0000000000000000')
  })

  it('continues above its last ULID from persisted state', () => {
    const random = seededRandom(8)
    const before = new UlidGenerator(seededBytes(random))
    const first = before.take(1_000, T0)
    const after = new UlidGenerator(seededBytes(random), before.last).take(1_000, T0 - 5_000)
    expectStrictlyIncreasing([...first, ...after])
  })
})

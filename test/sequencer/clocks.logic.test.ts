import { describe, expect, it } from 'vitest'
import {
  compareHlc,
  decodeHlc,
  encodeHlc,
  HLC_ZERO,
  HlcDriftError,
  type HlcTimestamp,
  happenedBefore,
  hlcReceive,
  hlcTick,
  lamportReceive,
  lamportTick,
  MAX_HLC_LOGICAL,
  MAX_LAMPORT,
  type VectorClock,
  vectorCompare,
  vectorMerge,
  vectorReceive,
  vectorTick,
} from '../../workers/sequencer/clocks'
import { randomInt, seededRandom } from '../support/seeded'

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0)

describe('Lamport clock', () => {
  it('ticks by one and jumps past what it receives', () => {
    expect(lamportTick(0)).toBe(1)
    expect(lamportTick(1)).toBe(2)
    expect(lamportReceive(2, 100)).toBe(101)
    expect(lamportReceive(101, 5)).toBe(102)
    expect(() => lamportReceive(0, MAX_LAMPORT)).toThrow(RangeError)
  })
})

describe('Vector clocks', () => {
  it('compares: before, after, equal, concurrent (missing nodes count 0)', () => {
    expect(vectorCompare({ a: 1 }, { a: 1, b: 0 })).toBe('equal')
    expect(vectorCompare({}, {})).toBe('equal')
    expect(vectorCompare({ a: 1 }, { a: 2 })).toBe('before')
    expect(vectorCompare({ a: 1 }, { a: 1, b: 1 })).toBe('before')
    expect(vectorCompare({ a: 2, b: 1 }, { a: 1, b: 1 })).toBe('after')
    expect(vectorCompare({ a: 2 }, { b: 1 })).toBe('concurrent')
    expect(vectorCompare({ a: 2, b: 1 }, { a: 1, b: 2 })).toBe('concurrent')
    expect(happenedBefore({ a: 1 }, { a: 1, b: 3 })).toBe(true)
    expect(happenedBefore({ a: 1, b: 3 }, { a: 1, b: 3 })).toBe(false)
  })

  it('merges to the componentwise maximum: commutative, associative, idempotent', () => {
    const random = seededRandom(17)
    const randomClock = (): VectorClock =>
      Object.fromEntries(
        ['a', 'b', 'c', 'd'].filter(() => random() < 0.7).map((n) => [n, randomInt(random, 0, 5)]),
      )
    for (let i = 0; i < 500; i++) {
      const [x, y, z] = [randomClock(), randomClock(), randomClock()]
      expect(vectorCompare(vectorMerge(x, y), vectorMerge(y, x))).toBe('equal')
      expect(vectorCompare(vectorMerge(vectorMerge(x, y), z), vectorMerge(x, vectorMerge(y, z)))).toBe(
        'equal',
      )
      expect(vectorCompare(vectorMerge(x, x), x)).toBe('equal')
      expect(['after', 'equal']).toContain(vectorCompare(vectorMerge(x, y), x))
    }
    expect(vectorMerge({ a: 3, b: 1 }, { b: 4, c: 2 })).toEqual({ a: 3, b: 4, c: 2 })
  })

  it('ticks and receives without touching the inputs, and treats node names as plain keys', () => {
    const local = { a: 1 }
    const received = vectorReceive(local, 'a', { b: 2 })
    expect(received).toEqual({ a: 2, b: 2 })
    expect(local).toEqual({ a: 1 })
    const odd = vectorTick({}, '__proto__')
    expect(Object.keys(odd)).toEqual(['__proto__'])
    expect(vectorCompare(odd, {})).toBe('after')
  })
})

describe('Hybrid logical clock', () => {
  it('follows the physical clock when it moves, counts when it does not', () => {
    const first = hlcTick(HLC_ZERO, T0)
    expect(first).toEqual({ wallMs: T0, logical: 0 })
    expect(hlcTick(first, T0)).toEqual({ wallMs: T0, logical: 1 })
    expect(hlcTick(first, T0 - 500)).toEqual({ wallMs: T0, logical: 1 })
    expect(hlcTick(first, T0 + 1)).toEqual({ wallMs: T0 + 1, logical: 0 })
  })

  it('applies the receive rules of Kulkarni et al.', () => {
    const last = { wallMs: T0, logical: 4 }
    expect(hlcReceive(last, { wallMs: T0, logical: 9 }, T0)).toEqual({ wallMs: T0, logical: 10 })
    expect(hlcReceive(last, { wallMs: T0 - 1, logical: 9 }, T0)).toEqual({ wallMs: T0, logical: 5 })
    expect(hlcReceive(last, { wallMs: T0 + 5, logical: 2 }, T0)).toEqual({ wallMs: T0 + 5, logical: 3 })
    expect(hlcReceive(last, { wallMs: T0 + 5, logical: 2 }, T0 + 9)).toEqual({ wallMs: T0 + 9, logical: 0 })
  })

  it('refuses a remote timestamp further ahead than the allowed drift', () => {
    expect(() => hlcReceive(HLC_ZERO, { wallMs: T0 + 60_001, logical: 0 }, T0, 60_000)).toThrow(HlcDriftError)
    expect(hlcReceive(HLC_ZERO, { wallMs: T0 + 60_000, logical: 0 }, T0, 60_000).wallMs).toBe(T0 + 60_000)
  })

  it('moves the wall one millisecond ahead instead of passing the logical maximum', () => {
    expect(hlcTick({ wallMs: T0, logical: MAX_HLC_LOGICAL }, T0)).toEqual({ wallMs: T0 + 1, logical: 0 })
  })

  it('encodes as a fixed-width string whose order is the timestamp order', () => {
    const random = seededRandom(23)
    const stamps: HlcTimestamp[] = Array.from({ length: 2_000 }, () => ({
      wallMs: T0 + randomInt(random, -3, 3) * randomInt(random, 0, 10 ** 6),
      logical:
        randomInt(random, 0, 3) === 0 ? randomInt(random, 0, MAX_HLC_LOGICAL) : randomInt(random, 0, 20),
    }))
    const byString = stamps.map(encodeHlc).sort()
    const byParts = [...stamps].sort(compareHlc).map(encodeHlc)
    expect(byString).toEqual(byParts)
    expect(encodeHlc({ wallMs: T0, logical: 7 })).toBe(`00${T0}-0000000007`)
    expect(
      stamps.every((stamp) => compareHlc(decodeHlc(encodeHlc(stamp)) as HlcTimestamp, stamp) === 0),
    ).toBe(true)
    for (const bad of [
      '',
      '1-2',
      `${T0}-0000000007`,
      '000000000000001-99999999999',
      '999999999999999-0000000000',
    ]) {
      expect(decodeHlc(bad), bad).toBeUndefined()
    }
  })

  it('keeps happens-before over random message exchanges between simulated nodes', () => {
    const random = seededRandom(20241126)
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4']
    const skewMs = nodes.map(() => randomInt(random, -200, 200))
    const hlc = nodes.map(() => HLC_ZERO)
    const lamport = nodes.map(() => 0)
    const vector: VectorClock[] = nodes.map(() => ({}))
    const inFlight: Array<{ to: number; hlc: HlcTimestamp; lamport: number; vector: VectorClock }> = []
    const events: Array<{
      node: number
      hlc: HlcTimestamp
      lamport: number
      vector: VectorClock
      pt: number
    }> = []
    let now = T0
    for (let step = 0; step < 3_000; step++) {
      if (random() < 0.6) now += randomInt(random, 0, 3) // physical time often stands still
      const node = randomInt(random, 0, nodes.length - 1)
      const physical = now + (skewMs[node] as number)
      const action = random()
      const deliverable = inFlight.findIndex((message) => message.to === node)
      if (action < 0.4 && deliverable >= 0) {
        const [message] = inFlight.splice(deliverable, 1)
        if (!message) throw new Error('lost message')
        hlc[node] = hlcReceive(hlc[node] as HlcTimestamp, message.hlc, physical)
        lamport[node] = lamportReceive(lamport[node] as number, message.lamport)
        vector[node] = vectorReceive(vector[node] as VectorClock, nodes[node] as string, message.vector)
      } else {
        hlc[node] = hlcTick(hlc[node] as HlcTimestamp, physical)
        lamport[node] = lamportTick(lamport[node] as number)
        vector[node] = vectorTick(vector[node] as VectorClock, nodes[node] as string)
        if (action < 0.8) {
          const to = (node + randomInt(random, 1, nodes.length - 1)) % nodes.length
          inFlight.push({
            to,
            hlc: hlc[node] as HlcTimestamp,
            lamport: lamport[node] as number,
            vector: vector[node] as VectorClock,
          })
        }
      }
      events.push({
        node,
        hlc: hlc[node] as HlcTimestamp,
        lamport: lamport[node] as number,
        vector: vector[node] as VectorClock,
        pt: physical,
      })
    }

    let causalPairs = 0
    let concurrentPairs = 0
    const violations: string[] = []
    for (let i = 0; i < events.length; i += 3) {
      for (let j = 0; j < events.length; j += 7) {
        const a = events[i] as (typeof events)[number]
        const b = events[j] as (typeof events)[number]
        const order = vectorCompare(a.vector, b.vector)
        if (order === 'before') {
          causalPairs++
          if (compareHlc(a.hlc, b.hlc) !== -1) violations.push(`hlc of event ${i} is not below event ${j}`)
          if (!(a.lamport < b.lamport)) violations.push(`lamport of event ${i} is not below event ${j}`)
        } else if (order === 'concurrent') {
          concurrentPairs++
        } else if (order === 'equal' && i !== j) {
          violations.push(`events ${i} and ${j} share a vector clock`)
        }
      }
    }
    expect(violations).toEqual([])
    expect(causalPairs).toBeGreaterThan(10_000)
    expect(concurrentPairs).toBeGreaterThan(1_000)
    // The wall part stays within the largest skew of physical time: HLCs read as real times.
    for (const event of events) expect(event.hlc.wallMs - event.pt).toBeLessThanOrEqual(400)
  })
})

/**
 * Window and refill boundaries of each algorithm, to the millisecond, plus peeking, holds and
 * the preconditions of `decide`.
 */
import { describe, expect, it } from 'vitest'
import {
  type Decision,
  decide,
  decideWithHolds,
  type KeyState,
  peek,
  type RatePolicy,
} from '../../workers/ratelimit/algorithms'

/** A key under `policy` with the clock in the test's hands. */
function key(policy: RatePolicy) {
  let state: KeyState | undefined
  return {
    spend(at: number, cost = 1): Decision {
      const outcome = decide(policy, state, at, cost)
      state = outcome.state
      return outcome.decision
    },
    peek: (at: number) => peek(policy, state, at),
    get state() {
      return state
    },
  }
}

const admits = (decisions: Decision[]) => decisions.map((decision) => decision.allowed)

describe('fixed window', () => {
  const policy: RatePolicy = { algorithm: 'fixed-window', limit: 3, periodMs: 1000 }

  it('resets exactly at the aligned boundary, so a burst may straddle it', () => {
    const k = key(policy)
    expect(admits([k.spend(997), k.spend(998), k.spend(999), k.spend(999)])).toEqual([
      true,
      true,
      true,
      false,
    ])
    const denied = k.spend(999)
    expect(denied).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1, resetAfterMs: 1 })
    expect(admits([k.spend(1000), k.spend(1000), k.spend(1000), k.spend(1999)])).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(k.spend(2000).allowed).toBe(true)
  })
})

describe('sliding window log', () => {
  const policy: RatePolicy = { algorithm: 'sliding-window-log', limit: 3, periodMs: 1000 }

  it('frees each unit exactly one period after it was spent', () => {
    const k = key(policy)
    k.spend(500, 2)
    k.spend(800)
    const denied = k.spend(1499)
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 1, resetAfterMs: 301 })
    expect(k.spend(1500, 2)).toMatchObject({ allowed: true, remaining: 0 })
    expect(k.spend(1799).allowed).toBe(false)
    expect(k.spend(1800)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('merges requests of the same millisecond into one entry', () => {
    const k = key(policy)
    k.spend(10)
    k.spend(10)
    expect(k.state).toEqual({ entries: [[10, 2]] })
  })
})

describe('sliding window counter', () => {
  const policy: RatePolicy = { algorithm: 'sliding-window-counter', limit: 10, periodMs: 1000 }

  it('weighs the previous window by the share of it still inside the sliding window', () => {
    const k = key(policy)
    for (let i = 0; i < 10; i++) k.spend(900)
    // At 1000 the previous window (10) still weighs fully: denied until its weight is 9/10.
    expect(k.spend(1000)).toMatchObject({ allowed: false, retryAfterMs: 100 })
    expect(k.spend(1099).allowed).toBe(false)
    expect(k.spend(1100)).toMatchObject({ allowed: true, remaining: 0 })
    // Two windows after the last spend, the key is full again.
    expect(k.peek(3000)).toMatchObject({ remaining: 10, resetAfterMs: 0 })
  })
})

describe.each(['token-bucket', 'gcra'] as const)('%s', (algorithm) => {
  const policy: RatePolicy = { algorithm, limit: 1, periodMs: 1000, burst: 5 }

  it('admits the burst, then one unit per emission interval', () => {
    const k = key(policy)
    expect(admits([1, 2, 3, 4, 5, 6].map(() => k.spend(0)))).toEqual([true, true, true, true, true, false])
    expect(k.spend(999)).toMatchObject({ allowed: false, retryAfterMs: 1 })
    expect(k.spend(1000)).toMatchObject({ allowed: true, remaining: 0, resetAfterMs: 5000 })
    expect(k.peek(6000)).toMatchObject({ allowed: true, remaining: 5, resetAfterMs: 0 })
  })

  it('is exact when the interval is not a whole number of milliseconds', () => {
    const k = key({ algorithm, limit: 3, periodMs: 1000 })
    k.spend(0, 3)
    // Empty at 0; with T = 333⅓ ms the next units are due at 333⅓, 666⅔ and 1000.
    expect(
      admits([k.spend(0), k.spend(333), k.spend(334), k.spend(666), k.spend(667), k.spend(999)]),
    ).toEqual([false, false, true, false, true, false])
    expect(k.spend(1000).allowed).toBe(true)
  })
})

describe('leaky bucket (queue)', () => {
  const policy: RatePolicy = { algorithm: 'leaky-bucket', limit: 1, periodMs: 1000, burst: 3 }

  it('queues up to the burst and tells each request when its turn comes', () => {
    const k = key(policy)
    expect([k.spend(0), k.spend(0), k.spend(0)].map((d) => d.delayMs)).toEqual([0, 1000, 2000])
    expect(k.spend(0)).toMatchObject({ allowed: false, retryAfterMs: 1000, delayMs: 0 })
    expect(k.spend(1000)).toMatchObject({ allowed: true, delayMs: 2000, remaining: 0, resetAfterMs: 3000 })
    expect(k.spend(5000)).toMatchObject({ allowed: true, delayMs: 0 })
  })
})

describe('peek (cost 0)', () => {
  it.each([
    'token-bucket',
    'leaky-bucket',
    'gcra',
    'fixed-window',
    'sliding-window-log',
    'sliding-window-counter',
  ] as const)('%s spends nothing and says whether one unit would pass', (algorithm) => {
    const policy: RatePolicy = { algorithm, limit: 2, periodMs: 60_000 }
    const k = key(policy)
    expect(k.peek(100)).toMatchObject({ allowed: true, remaining: 2, reason: 'peek' })
    expect(decide(policy, k.state, 100, 0).decision).toMatchObject({ allowed: true, remaining: 2 })
    k.spend(100, 2)
    const before = structuredClone(k.state)
    const looked = k.peek(101)
    expect(looked).toMatchObject({ allowed: false, remaining: 0, reason: 'peek' })
    expect(looked.retryAfterMs).toBeGreaterThan(0)
    expect(k.state).toEqual(before)
  })
})

describe('holds', () => {
  const policy: RatePolicy = { algorithm: 'fixed-window', limit: 5, periodMs: 60_000 }

  it('admit only what fits with every held unit counted, and spend only the own cost', () => {
    const spent = decideWithHolds(policy, undefined, 0, 2, 3)
    expect(spent.decision).toMatchObject({ allowed: true, remaining: 0 })
    expect(spent.state).toEqual({ window: 0, count: 2 })
    const tooMuch = decideWithHolds(policy, spent.state, 1, 1, 3)
    expect(tooMuch.decision).toMatchObject({ allowed: false, remaining: 0 })
    expect(tooMuch.state).toEqual(spent.state)
    expect(decideWithHolds(policy, spent.state, 1, 3, 0).decision.allowed).toBe(true)
  })

  it('deny with a short retry when only the holds stand in the way', () => {
    const outcome = decideWithHolds(policy, undefined, 0, 3, 4)
    expect(outcome.decision).toMatchObject({ allowed: false, retryAfterMs: 1, remaining: 1 })
    expect(outcome.state).toBeUndefined()
  })
})

describe('decide', () => {
  const policy: RatePolicy = { algorithm: 'token-bucket', limit: 10, periodMs: 1000, burst: 4 }

  it('refuses a cost over the bucket size, a fractional cost and a fractional clock', () => {
    expect(() => decide(policy, undefined, 0, 5)).toThrow(RangeError)
    expect(() => decide(policy, undefined, 0, 1.5)).toThrow(RangeError)
    expect(() => decide(policy, undefined, 0, -1)).toThrow(RangeError)
    expect(() => decide(policy, undefined, 0.5, 1)).toThrow(RangeError)
  })

  it('does not refill when the clock steps back', () => {
    let state: KeyState | undefined
    for (let i = 0; i < 4; i++) state = decide(policy, state, 10_000, 1).state
    expect(decide(policy, state, 5_000, 1).decision.allowed).toBe(false)
    expect(decide(policy, state, 10_100, 1).decision.allowed).toBe(true)
  })
})

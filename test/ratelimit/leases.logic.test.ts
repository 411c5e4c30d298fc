import { describe, expect, it } from 'vitest'
import { type GcraState, gcra, gcraRefund } from '../../workers/ratelimit/buckets'
import type { RatePolicy } from '../../workers/ratelimit/decision'
import { LEASE_TTL_MS, LeaseBook, maxLeaseFor } from '../../workers/ratelimit/leases'
import { randomInt, seededRandom } from '../support/seeded'

describe('maxLeaseFor', () => {
  it('leases one unit at a time below a burst of 200, then burst/100 up to 64', () => {
    expect([1, 5, 199, 200, 1_000, 6_000, 6_400, 1_000_000].map(maxLeaseFor)).toEqual([
      1, 1, 1, 2, 10, 60, 64, 64,
    ])
  })
})

describe('LeaseBook', () => {
  it('starts at one unit, doubles while leases are used up, and never passes the maximum', () => {
    const book = new LeaseBook()
    const wants: number[] = []
    let now = 0
    for (let lease = 0; lease < 8; lease++) {
      const { want, giveBack } = book.request('k', 16, now)
      expect(giveBack).toBe(0)
      wants.push(want)
      book.granted('k', want, 16, now)
      while (book.take('k', now)) now += 1
    }
    expect(wants).toEqual([1, 2, 4, 8, 16, 16, 16, 16])
  })

  it('gives back what an expired lease left and shrinks to what was used', () => {
    const book = new LeaseBook()
    book.granted('k', 8, 8, 0)
    expect(book.take('k', 10)).toBeDefined()
    expect(book.take('k', 20)).toBeDefined()
    expect(book.held('k', 20)).toBe(5)
    // The lease dies at LEASE_TTL_MS: nothing more is spent from it …
    expect(book.take('k', LEASE_TTL_MS)).toBeUndefined()
    expect(book.held('k', LEASE_TTL_MS)).toBe(0)
    // … and its 5 units go back with the next call, which asks for what was used (1 + 2 = 3).
    expect(book.request('k', 8, LEASE_TTL_MS)).toEqual({ want: 3, giveBack: 5 })
    expect(book.request('k', 8, LEASE_TTL_MS)).toEqual({ want: 6, giveBack: 0 })
  })

  it('holds at most the maximum when concurrent grants arrive, giving back the rest', () => {
    const book = new LeaseBook()
    book.granted('k', 8, 8, 0)
    book.granted('k', 8, 8, 1)
    expect(book.held('k', 1)).toBe(8)
    // 7 + 7 units arrived (one of each grant spent at once): 6 over the maximum go back.
    expect(book.request('k', 8, 2).giveBack).toBe(6)
  })

  it('returns the note of the grant a unit came from', () => {
    const book = new LeaseBook<string>()
    book.granted('k', 3, 4, 0, 'first')
    expect(book.take('k', 0)).toEqual({ note: 'first' })
    book.granted('k', 2, 4, 0, 'second')
    expect(book.take('k', 0)).toEqual({ note: 'second' })
  })

  it('keeps keys apart and forgets the oldest past its capacity', () => {
    const book = new LeaseBook(2)
    book.granted('a', 5, 8, 0)
    book.granted('b', 5, 8, 0)
    book.granted('c', 5, 8, 0)
    expect(book.held('a', 0)).toBe(0)
    expect(book.held('b', 0)).toBe(4)
    expect(book.held('c', 0)).toBe(4)
  })
})

describe('gcraRefund', () => {
  const policy: RatePolicy = { algorithm: 'gcra', limit: 7, periodMs: 1_000 }

  it('undoes spending exactly: spend k, give back k, and the key is as before', () => {
    const random = seededRandom(11)
    for (let round = 0; round < 500; round++) {
      let state: GcraState | undefined
      let now = 1_000_000
      for (let step = randomInt(random, 0, 5); step > 0; step--) {
        now += randomInt(random, 0, 400)
        state = gcra(policy, state, now, 1).state
      }
      const before = gcra(policy, state, now, 0).decision
      const cost = randomInt(random, 1, 7)
      const spent = gcra(policy, state, now, cost)
      if (!spent.decision.allowed) continue
      const back = gcraRefund(policy, spent.state, now, cost)
      expect(gcra(policy, back, now, 0).decision).toEqual(before)
    }
  })

  it('never moves the key before now', () => {
    const spent = gcra(policy, undefined, 5_000, 2).state
    expect(gcraRefund(policy, spent, 5_000, 50)).toBeUndefined()
  })
})

describe('the lease bound', () => {
  /**
   * Simulated isolates share one GCRA key (the object, as pure logic) and admit through their own
   * LeaseBooks under random arrivals. In every window of t ms, admissions stay within the
   * algorithm's bound plus what the isolates can hold: burst + limit·t/period + I × maxLease.
   */
  it('admits at most burst + limit·t/period + isolates × maxLease in any window', () => {
    const policy: RatePolicy = { algorithm: 'gcra', limit: 2_000, periodMs: 1_000 }
    const maxLease = maxLeaseFor(2_000)
    const isolates = 6
    const random = seededRandom(7)
    let state: GcraState | undefined
    const books = Array.from({ length: isolates }, () => new LeaseBook())
    const admitted: number[] = []
    let denied = 0
    for (let now = 0; now < 5_000; now += random() < 0.2 ? 1 : 0) {
      const book = books[randomInt(random, 0, isolates - 1)] as LeaseBook
      if (book.take('k', now)) {
        admitted.push(now)
        continue
      }
      const { want, giveBack } = book.request('k', maxLease, now)
      state = gcraRefund(policy, state, now, giveBack)
      const available = gcra(policy, state, now, 0).decision.remaining
      const granted = Math.min(want, available)
      if (granted > 0) {
        state = gcra(policy, state, now, granted).state
        admitted.push(now)
      } else denied++
      book.granted('k', granted, maxLease, now)
    }
    expect(denied).toBeGreaterThan(0)
    for (const t of [1, 10, 100, 500, 1_000, 2_000]) {
      const bound = 2_000 + (2_000 * t) / 1_000 + isolates * maxLease
      let most = 0
      let start = 0
      for (let end = 0; end < admitted.length; end++) {
        while ((admitted[end] as number) - (admitted[start] as number) >= t) start++
        most = Math.max(most, end - start + 1)
      }
      expect(most, `window ${t} ms`).toBeLessThanOrEqual(bound)
    }
  })
})

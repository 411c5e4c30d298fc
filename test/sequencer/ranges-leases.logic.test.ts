import { describe, expect, it } from 'vitest'
import { GENERATOR_LEASE_MS, grantLease, type LeaseRow, shouldRenew } from '../../workers/sequencer/leases'
import { blockEndingAt, leaseSizeFor, RangeAllocator } from '../../workers/sequencer/ranges'
import { randomInt, seededRandom } from '../support/seeded'

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0)

describe('RangeAllocator', () => {
  it('hands out a leased block in order and refuses what it does not hold', () => {
    const allocator = new RangeAllocator()
    expect(allocator.take(1)).toBeUndefined()
    allocator.add(blockEndingAt(11, 10))
    expect(allocator.available).toBe(10)
    expect(allocator.take(3)).toEqual([1, 2, 3])
    expect(allocator.take(8)).toBeUndefined()
    expect(allocator.available).toBe(7)
    allocator.add({ start: 50, end: 52 })
    expect(allocator.take(9)).toEqual([4, 5, 6, 7, 8, 9, 10, 50, 51])
    expect(allocator.blocks).toEqual([])
  })

  it('refuses a block that overlaps or precedes one it already had', () => {
    const allocator = new RangeAllocator()
    allocator.add({ start: 100, end: 200 })
    expect(() => allocator.add({ start: 150, end: 250 })).toThrow(RangeError)
    expect(() => allocator.add({ start: 10, end: 20 })).toThrow(RangeError)
    expect(() => allocator.add({ start: 300, end: 300 })).toThrow(RangeError)
    allocator.add({ start: 200, end: 210 })
    expect(allocator.available).toBe(110)
  })

  it('leases at least a block, more when a request needs more', () => {
    expect(leaseSizeFor(1, 1_000)).toBe(1_000)
    expect(leaseSizeFor(9_700, 1_000)).toBe(9_700)
  })

  it('never reissues a number across simulated crashes: the rest of a block is skipped', () => {
    const random = seededRandom(31)
    let counter = 1 // the database row: the first number not yet leased
    const leaseFromCounter = (size: number) => {
      counter += size // one atomic "add and return" statement
      return blockEndingAt(counter, size)
    }
    let allocator = new RangeAllocator()
    const handedOut: number[] = []
    let crashes = 0
    for (let request = 0; request < 2_000; request++) {
      if (random() < 0.05) {
        allocator = new RangeAllocator() // a crash: memory is gone, the counter is not
        crashes++
      }
      const count = randomInt(random, 1, 700)
      while (allocator.available < count)
        allocator.add(leaseFromCounter(leaseSizeFor(count - allocator.available, 1_000)))
      handedOut.push(...(allocator.take(count) as number[]))
    }
    expect(crashes).toBeGreaterThan(50)
    expect(new Set(handedOut).size).toBe(handedOut.length)
    expect(handedOut.every((number, i) => i === 0 || number > (handedOut[i - 1] as number))).toBe(true)
    expect(handedOut.length).toBeLessThan(counter) // gaps where blocks were abandoned
  })
})

describe('generator-ID leases', () => {
  const request = (holder: string, nowMs: number, holderTimeMs = nowMs) => ({
    holder,
    holderTimeMs,
    nowMs,
    durationMs: GENERATOR_LEASE_MS,
  })

  it('gives each new holder the lowest free ID and renews a holder’s own', () => {
    let rows: LeaseRow[] = []
    const grant = (holder: string, nowMs: number) => {
      const row = grantLease(rows, request(holder, nowMs)) as LeaseRow
      rows = [...rows.filter((r) => r.generatorId !== row.generatorId && r.holder !== holder), row]
      return row
    }
    expect(grant('a', T0)).toEqual({
      generatorId: 0,
      holder: 'a',
      issueFromMs: 0,
      expiresAtMs: T0 + GENERATOR_LEASE_MS,
    })
    expect(grant('b', T0).generatorId).toBe(1)
    expect(grant('a', T0 + 1_000)).toEqual({
      generatorId: 0,
      holder: 'a',
      issueFromMs: 0,
      expiresAtMs: T0 + 1_000 + GENERATOR_LEASE_MS,
    })
    // a's lease runs out; c takes its ID and starts where a's window ended
    const later = T0 + 1_000 + 2 * GENERATOR_LEASE_MS
    const c = grant('c', later)
    expect(c.generatorId).toBe(0)
    expect(c.issueFromMs).toBe(T0 + 1_000 + GENERATOR_LEASE_MS)
    // a comes back: its row is gone, so it gets the lowest free ID: b's, expired too
    expect(grant('a', later)).toMatchObject({ generatorId: 1, issueFromMs: T0 + GENERATOR_LEASE_MS })
  })

  it('renews even an expired lease while nobody else has taken the ID, and never shortens one', () => {
    const row = { generatorId: 4, holder: 'a', issueFromMs: 0, expiresAtMs: T0 }
    expect(grantLease([row], request('a', T0 + 5 * GENERATOR_LEASE_MS))?.generatorId).toBe(4)
    const long = { ...row, expiresAtMs: T0 + 3 * GENERATOR_LEASE_MS }
    expect(grantLease([long], request('a', T0))?.expiresAtMs).toBe(long.expiresAtMs)
  })

  it('extends the window past a holder whose clock is ahead of the registry', () => {
    const granted = grantLease([], request('a', T0, T0 + 3 * GENERATOR_LEASE_MS)) as LeaseRow
    expect(granted.expiresAtMs).toBe(T0 + 4 * GENERATOR_LEASE_MS)
  })

  it('hands out all 1,024 IDs to distinct live holders, then refuses until one expires', () => {
    const rows: LeaseRow[] = []
    for (let i = 0; i < 1_024; i++) rows.push(grantLease(rows, request(`g${i}`, T0)) as LeaseRow)
    expect(new Set(rows.map((row) => row.generatorId)).size).toBe(1_024)
    expect(grantLease(rows, request('late', T0 + 1))).toBeUndefined()
    expect(grantLease(rows, request('late', T0 + GENERATOR_LEASE_MS))?.generatorId).toBe(0)
  })

  it('asks for renewal once half of the lease has passed', () => {
    const lease = { expiresAtMs: T0 + GENERATOR_LEASE_MS }
    expect(shouldRenew(lease, T0, GENERATOR_LEASE_MS)).toBe(false)
    expect(shouldRenew(lease, T0 + GENERATOR_LEASE_MS / 2 + 1, GENERATOR_LEASE_MS)).toBe(true)
  })

  it('never lets two live holders share an ID over random arrivals, renewals and departures', () => {
    const random = seededRandom(77)
    let rows: LeaseRow[] = []
    let now = T0
    for (let step = 0; step < 5_000; step++) {
      now += randomInt(random, 0, 30_000)
      const holder = `g${randomInt(random, 0, 40)}`
      const row = grantLease(rows, request(holder, now))
      if (!row) throw new Error('registry full')
      const taken = rows.find((r) => r.generatorId === row.generatorId)
      if (taken && taken.holder !== holder) expect(taken.expiresAtMs).toBeLessThanOrEqual(now)
      rows = [...rows.filter((r) => r.generatorId !== row.generatorId && r.holder !== holder), row]
      const live = rows.filter((r) => r.expiresAtMs > now)
      expect(new Set(live.map((r) => r.generatorId)).size).toBe(live.length)
      expect(new Set(rows.map((r) => r.holder)).size).toBe(rows.length)
    }
  })
})

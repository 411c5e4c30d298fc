/**
 * Leases against the real object: several isolates' lease books (one LeaseBook each, as each
 * isolate has its own) share one tenant limit under concurrent requests.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import type { Decision } from '../../workers/ratelimit/decision'
import { LEASE_TTL_MS, LeaseBook, maxLeaseFor } from '../../workers/ratelimit/leases'
import type { KeyPolicy } from '../../workers/ratelimit/object'

const LIMIT = 1_000
const ISOLATES = 8

it('admits no more than the limit across isolates, and the leftovers go back exactly', async () => {
  // 1,000 per 7 days: nothing refills while the test runs.
  const policy: KeyPolicy = {
    algorithm: 'gcra',
    limit: LIMIT,
    periodMs: 7 * 24 * 3_600_000,
    fingerprint: `leases/${crypto.randomUUID()}`,
  }
  const stub = env.RATELIMIT.get(env.RATELIMIT.idFromName(`_test:ratelimit-gateway:${crypto.randomUUID()}`))
  const maxLease = maxLeaseFor(LIMIT)
  const books = Array.from({ length: ISOLATES }, () => new LeaseBook<Decision>())

  async function request(book: LeaseBook<Decision>): Promise<boolean> {
    const now = Date.now()
    if (book.take('k', now)) return true
    const { want, giveBack } = book.request('k', maxLease, now)
    const { decision, granted } = await stub.lease(policy, want, giveBack)
    book.granted('k', granted, maxLease, now, decision)
    return granted > 0
  }

  // 8 isolates × 250 concurrent requests each: 2,000 requests for 1,000 units.
  const outcomes = await Promise.all(
    books.flatMap((book) => Array.from({ length: 250 }, () => request(book))),
  )
  const admitted = outcomes.filter(Boolean).length
  const held = books.reduce((sum, book) => sum + book.held('k', Date.now()), 0)
  expect(admitted).toBeLessThanOrEqual(LIMIT)
  expect(admitted + held).toBe(LIMIT)
  expect(held).toBeLessThanOrEqual(ISOLATES * maxLease)

  // The leases expire; each isolate gives its units back with its next call.
  const later = Date.now() + LEASE_TTL_MS
  for (const book of books) {
    const { giveBack } = book.request('k', maxLease, later)
    if (giveBack > 0) await stub.lease(policy, 0, giveBack)
  }
  const { remaining } = await stub.check(policy, 0)
  expect(remaining).toBe(LIMIT - admitted)
})

it('leases one unit at a time for small limits, so they stay exact', async () => {
  const policy: KeyPolicy = {
    algorithm: 'gcra',
    limit: 50,
    periodMs: 7 * 24 * 3_600_000,
    fingerprint: `leases/${crypto.randomUUID()}`,
  }
  const stub = env.RATELIMIT.get(env.RATELIMIT.idFromName(`_test:ratelimit-gateway:${crypto.randomUUID()}`))
  const book = new LeaseBook()
  const grants = await Promise.all(
    Array.from({ length: 80 }, async () => {
      const { want } = book.request('k', maxLeaseFor(50), Date.now())
      expect(want).toBe(1)
      return (await stub.lease(policy, want, 0)).granted
    }),
  )
  expect(grants.filter((granted) => granted === 1)).toHaveLength(50)
  expect(grants.filter((granted) => granted === 0)).toHaveLength(30)
})

it('refuses leases on anything but GCRA', async () => {
  const stub = env.RATELIMIT.get(env.RATELIMIT.idFromName(`_test:ratelimit-gateway:${crypto.randomUUID()}`))
  await runInDurableObject(stub, (bucket) => {
    expect(() =>
      bucket.lease({ algorithm: 'fixed-window', limit: 5, periodMs: 1_000, fingerprint: 'fw' }, 1, 0),
    ).toThrow(/GCRA/)
  })
})

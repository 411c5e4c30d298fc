/** The denial cache (never admits, forgets on time) and the IETF header fields. */
import { describe, expect, it } from 'vitest'
import { type Decision, decide, type KeyState, type RatePolicy } from '../../workers/ratelimit/algorithms'
import { DenialCache } from '../../workers/ratelimit/denial-cache'
import {
  quotaPolicyItem,
  quotaStateItem,
  rateLimitHeaders,
  retryAfterSeconds,
} from '../../workers/ratelimit/headers'
import { seededRandom } from '../support/seeded'
import { maxInAnyInterval } from './reference'

const denial = (overrides: Partial<Decision> = {}): Decision => ({
  allowed: false,
  limit: 10,
  remaining: 0,
  resetAfterMs: 5_000,
  retryAfterMs: 2_000,
  delayMs: 0,
  reason: 'over_limit',
  ...overrides,
})

describe('DenialCache', () => {
  it('answers a denial until the retry time, then forgets it', () => {
    const cache = new DenialCache()
    cache.remember('k', 1, denial(), 1_000)
    expect(cache.lookup('k', 1, 1_500)).toMatchObject({
      allowed: false,
      reason: 'cached_denial',
      retryAfterMs: 1_500,
      resetAfterMs: 4_500,
    })
    expect(cache.lookup('k', 1, 2_999)?.retryAfterMs).toBe(1)
    expect(cache.lookup('k', 1, 3_000)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('never stores an admission', () => {
    const cache = new DenialCache()
    cache.remember('k', 1, { ...denial(), allowed: true, retryAfterMs: 0, reason: 'within_limit' }, 0)
    expect(cache.lookup('k', 1, 0)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('covers larger costs but not smaller ones', () => {
    const cache = new DenialCache()
    cache.remember('k', 3, denial(), 0)
    expect(cache.lookup('k', 2, 1)).toBeUndefined()
    expect(cache.lookup('k', 3, 1)?.allowed).toBe(false)
    expect(cache.lookup('k', 9, 1)?.allowed).toBe(false)
  })

  it('keeps a denial at most maxAgeMs, forgets on demand, and drops the oldest when full', () => {
    const cache = new DenialCache(2, 100)
    cache.remember('a', 1, denial({ retryAfterMs: 60_000 }), 0)
    expect(cache.lookup('a', 1, 99)).toBeDefined()
    expect(cache.lookup('a', 1, 100)).toBeUndefined()
    cache.remember('a', 1, denial(), 0)
    cache.forget('a')
    expect(cache.lookup('a', 1, 1)).toBeUndefined()
    cache.remember('a', 1, denial(), 0)
    cache.remember('b', 1, denial(), 0)
    cache.remember('c', 1, denial(), 0)
    expect(cache.lookup('a', 1, 1)).toBeUndefined()
    expect(cache.lookup('c', 1, 1)).toBeDefined()
    expect(() => new DenialCache(0)).toThrow(RangeError)
  })

  it.each([
    'token-bucket',
    'gcra',
    'leaky-bucket',
    'fixed-window',
    'sliding-window-log',
    'sliding-window-counter',
  ] as const)('in front of %s, never admits more than the algorithm alone', (algorithm) => {
    const policy: RatePolicy = { algorithm, limit: 4, periodMs: 500 }
    const random = seededRandom(99)
    const cache = new DenialCache()
    let cached = 0
    const admitted: Array<{ at: number; cost: number }> = []
    let state: KeyState | undefined
    let at = 10_000
    for (let i = 0; i < 2_000; i++) {
      at += random() < 0.7 ? 0 : Math.floor(random() * 60)
      const cost = 1 + Math.floor(random() * 2)
      if (cache.lookup('k', cost, at)) {
        cached++
        continue
      }
      const outcome = decide(policy, state, at, cost)
      state = outcome.state
      cache.remember('k', cost, outcome.decision, at)
      if (outcome.decision.allowed) admitted.push({ at, cost })
    }
    expect(cached).toBeGreaterThan(500)
    const windows = algorithm === 'fixed-window' || algorithm === 'sliding-window-counter'
    const bound = algorithm === 'sliding-window-log' ? policy.limit : windows ? 2 * policy.limit : 8
    expect(maxInAnyInterval(admitted, policy.periodMs)).toBeLessThanOrEqual(bound)
  })
})

describe('IETF RateLimit header fields', () => {
  it('describes window policies by their limit and period, buckets by their size and refill time', () => {
    expect(quotaPolicyItem('api', { algorithm: 'fixed-window', limit: 100, periodMs: 60_000 })).toBe(
      '"api";q=100;w=60',
    )
    expect(
      quotaPolicyItem('api', { algorithm: 'token-bucket', limit: 100, periodMs: 60_000, burst: 20 }),
    ).toBe('"api";q=20;w=12')
    expect(quotaPolicyItem('fast', { algorithm: 'gcra', limit: 10, periodMs: 100 })).toBe('"fast";q=10;w=1')
    expect(quotaPolicyItem('a"b\\c', { algorithm: 'gcra', limit: 1, periodMs: 1000 })).toBe(
      '"a\\"b\\\\c";q=1;w=1',
    )
  })

  it('reports remaining units and whole seconds until the quota is back, rounded up', () => {
    expect(quotaStateItem('api', denial({ remaining: 42, resetAfterMs: 29_001 }))).toBe('"api";r=42;t=30')
    expect(quotaStateItem('api', denial({ remaining: 7, resetAfterMs: 0 }))).toBe('"api";r=7;t=0')
    expect(retryAfterSeconds(1)).toBe(1)
    expect(retryAfterSeconds(1_000)).toBe(1)
    expect(retryAfterSeconds(1_001)).toBe(2)
  })

  it('adds Retry-After to denials only', () => {
    const policy: RatePolicy = { algorithm: 'fixed-window', limit: 10, periodMs: 60_000 }
    expect(rateLimitHeaders('api', policy, denial({ retryAfterMs: 2_500 }))).toEqual({
      'RateLimit-Policy': '"api";q=10;w=60',
      RateLimit: '"api";r=0;t=5',
      'Retry-After': '3',
    })
    const allowed = { ...denial(), allowed: true, remaining: 9, retryAfterMs: 0 }
    expect(rateLimitHeaders('api', policy, allowed)).not.toHaveProperty('Retry-After')
  })
})

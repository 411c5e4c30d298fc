/**
 * The in-isolate denial cache: after a key's object says "denied until T", this isolate
 * answers "denied" for that key until T without calling the object, so a flood against a
 * limited key costs no object calls.
 *
 * Guarantees: it stores only denials and `lookup` returns only denials, so it can never admit
 * a request on its own; every admission is decided by the key's object. A denial for cost c
 * also covers any larger cost (a bigger request never fits sooner). Staleness: a denial
 * remains cached in another isolate until the earlier of its retry time and `maxAgeMs` after
 * it was learnt, so a reset there takes effect within `maxAgeMs`; this isolate forgets a key
 * at once on reset. Callers put the policy's parameters into the cache key, so a changed
 * policy never matches old entries. Cost: O(1) per call, at most `maxEntries` entries
 * (the oldest are dropped first).
 */
import type { Decision } from './decision'

interface CachedDenial {
  /** The smallest cost known to be denied. */
  cost: number
  limit: number
  /** `remaining` as of the denial. */
  remaining: number
  retryAt: number
  resetAt: number
  /** When the entry stops being used: min(retryAt, learntAt + maxAgeMs). */
  expiresAt: number
}

export class DenialCache {
  private readonly entries = new Map<string, CachedDenial>()

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxAgeMs = 10_000,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be ≥ 1')
    if (!Number.isInteger(maxAgeMs) || maxAgeMs < 0) throw new RangeError('maxAgeMs must be ≥ 0')
  }

  get size(): number {
    return this.entries.size
  }

  /** A cached denial of a request of `cost` (1 for a peek) for `key` at `now`, if one applies. */
  lookup(key: string, cost: number, now: number): Decision | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (now >= entry.expiresAt) {
      this.entries.delete(key)
      return undefined
    }
    if (cost < entry.cost) return undefined
    return {
      allowed: false,
      limit: entry.limit,
      remaining: entry.remaining,
      resetAfterMs: Math.max(0, entry.resetAt - now),
      retryAfterMs: entry.retryAt - now,
      delayMs: 0,
      reason: 'cached_denial',
    }
  }

  /** Learns from a decision the object made for a request of `cost`; admissions are ignored. */
  remember(key: string, cost: number, decision: Decision, now: number): void {
    if (decision.allowed || decision.retryAfterMs <= 0 || this.maxAgeMs === 0) return
    const retryAt = now + decision.retryAfterMs
    this.entries.delete(key)
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(key, {
      cost: Math.max(1, cost),
      limit: decision.limit,
      remaining: decision.remaining,
      retryAt,
      resetAt: now + decision.resetAfterMs,
      expiresAt: Math.min(retryAt, now + this.maxAgeMs),
    })
  }

  forget(key: string): void {
    this.entries.delete(key)
  }
}

/**
 * Eviction structures of a cache node: which key goes when memory is over budget.
 *
 * - `LruEviction` (`lru`, `volatile-lru`): exact least-recently-used order kept in two
 *   insertion-ordered Maps (keys with a TTL, keys without); an access moves the key to the
 *   end. `victim()` is the older of the two heads (`lru`) or the head of the TTL map only
 *   (`volatile-lru`, which Redis calls TTL-first: keys without a TTL are never evicted).
 *   O(1) per access, insert, removal and victim.
 * - `LfuEviction` (`lfu`): Redis's LFU. Each key has an 8-bit logarithmic counter that
 *   starts at 5 and grows by one with probability 1 / ((counter − 5) · logFactor + 1) on
 *   each access (so ~1M hits saturate it at 255 with logFactor 10); every `decayMs` every
 *   counter drops by one. The victim is the key with the lowest counter, the least recently
 *   used among equals: exact, not sampled. Keys sit in 256 buckets by counter, each an
 *   access-ordered Map: O(1) per access, O(256) per victim, O(keys) once per decay period
 *   (buckets merge by access order).
 * - `NoEviction` (`noeviction`): never picks a victim, so writes over budget fail with OOM.
 *
 * `random` is injected (the counter's coin) and `now` is passed in, so tests are exact.
 */

export type EvictionPolicyName = 'lru' | 'lfu' | 'volatile-lru' | 'noeviction'

export interface Eviction {
  /** A new key (or one whose TTL flag changed); counts as an access. */
  insert(key: string, volatile: boolean, now: number): void
  /** A read or write of an existing key. */
  touch(key: string, now: number): void
  remove(key: string): void
  /** The key to evict next, or undefined when the policy allows none. */
  victim(now: number): string | undefined
  clear(): void
}

export function createEviction(policy: EvictionPolicyName, random: () => number, decayMs = 60_000): Eviction {
  switch (policy) {
    case 'lru':
      return new LruEviction(false)
    case 'volatile-lru':
      return new LruEviction(true)
    case 'lfu':
      return new LfuEviction(random, decayMs)
    case 'noeviction':
      return new NoEviction()
  }
}

export class LruEviction implements Eviction {
  /** key → access sequence number, in access order. */
  private readonly volatileKeys = new Map<string, number>()
  private readonly persistentKeys = new Map<string, number>()
  private sequence = 0

  constructor(private readonly volatileOnly: boolean) {}

  insert(key: string, volatile: boolean): void {
    this.remove(key)
    ;(volatile ? this.volatileKeys : this.persistentKeys).set(key, this.sequence++)
  }

  touch(key: string): void {
    const map = this.volatileKeys.has(key) ? this.volatileKeys : this.persistentKeys
    if (!map.delete(key)) return
    map.set(key, this.sequence++)
  }

  remove(key: string): void {
    if (!this.volatileKeys.delete(key)) this.persistentKeys.delete(key)
  }

  victim(): string | undefined {
    const volatileHead = first(this.volatileKeys)
    if (this.volatileOnly) return volatileHead?.[0]
    const persistentHead = first(this.persistentKeys)
    if (!volatileHead) return persistentHead?.[0]
    if (!persistentHead) return volatileHead[0]
    return volatileHead[1] < persistentHead[1] ? volatileHead[0] : persistentHead[0]
  }

  clear(): void {
    this.volatileKeys.clear()
    this.persistentKeys.clear()
  }
}

function first(map: Map<string, number>): [string, number] | undefined {
  const next = map.entries().next()
  return next.done ? undefined : next.value
}

export const LFU_INIT_VAL = 5
export const LFU_LOG_FACTOR = 10
const LFU_MAX = 255

export class LfuEviction implements Eviction {
  /** buckets[c]: keys whose counter is c, key → access sequence, in access order. */
  private readonly buckets: Array<Map<string, number>> = Array.from({ length: LFU_MAX + 1 }, () => new Map())
  private readonly counters = new Map<string, number>()
  private sequence = 0
  private lastDecay: number | undefined

  constructor(
    private readonly random: () => number,
    private readonly decayMs: number,
  ) {}

  /** The key's counter now (for tests and INFO-style introspection). */
  counter(key: string): number | undefined {
    return this.counters.get(key)
  }

  insert(key: string, _volatile: boolean, now: number): void {
    this.decay(now)
    const existing = this.counters.get(key)
    if (existing !== undefined) {
      this.touch(key, now)
      return
    }
    this.counters.set(key, LFU_INIT_VAL)
    this.buckets[LFU_INIT_VAL]?.set(key, this.sequence++)
  }

  touch(key: string, now: number): void {
    this.decay(now)
    const counter = this.counters.get(key)
    if (counter === undefined) return
    this.buckets[counter]?.delete(key)
    const grown = this.increment(counter)
    this.counters.set(key, grown)
    this.buckets[grown]?.set(key, this.sequence++)
  }

  remove(key: string): void {
    const counter = this.counters.get(key)
    if (counter === undefined) return
    this.counters.delete(key)
    this.buckets[counter]?.delete(key)
  }

  victim(now: number): string | undefined {
    this.decay(now)
    for (const bucket of this.buckets) {
      const head = bucket.keys().next()
      if (!head.done) return head.value
    }
    return undefined
  }

  clear(): void {
    for (const bucket of this.buckets) bucket.clear()
    this.counters.clear()
  }

  /** Redis's LFULogIncr: logarithmic growth, saturating at 255. */
  private increment(counter: number): number {
    if (counter >= LFU_MAX) return LFU_MAX
    const base = Math.max(0, counter - LFU_INIT_VAL)
    return this.random() < 1 / (base * LFU_LOG_FACTOR + 1) ? counter + 1 : counter
  }

  /** Every whole decay period since the last one lowers every counter by one per period. */
  private decay(now: number): void {
    if (this.lastDecay === undefined) {
      this.lastDecay = now
      return
    }
    const periods = Math.floor((now - this.lastDecay) / this.decayMs)
    if (periods <= 0) return
    this.lastDecay += periods * this.decayMs
    for (let counter = 1; counter <= LFU_MAX; counter++) {
      const source = this.buckets[counter]
      if (!source || source.size === 0) continue
      const target = Math.max(0, counter - periods)
      this.buckets[target] = mergeByAccess(this.buckets[target] ?? new Map(), source)
      this.buckets[counter] = new Map()
      for (const key of source.keys()) this.counters.set(key, target)
    }
  }
}

/** Two access-ordered maps merged into one, still in access order. */
function mergeByAccess(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  if (a.size === 0) return b
  const merged = new Map<string, number>()
  const left = a.entries()
  const right = b.entries()
  let x = left.next()
  let y = right.next()
  for (;;) {
    if (x.done && y.done) return merged
    if (!x.done && (y.done || x.value[1] < y.value[1])) {
      merged.set(x.value[0], x.value[1])
      x = left.next()
    } else if (!y.done) {
      merged.set(y.value[0], y.value[1])
      y = right.next()
    }
  }
}

export class NoEviction implements Eviction {
  insert(): void {}
  touch(): void {}
  remove(): void {}
  victim(): undefined {
    return undefined
  }
  clear(): void {}
}

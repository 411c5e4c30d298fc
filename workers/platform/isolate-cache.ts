/**
 * A per-isolate cache of answers that may be stale for a bounded time.
 *
 * Guarantees: an entry is served for at most `ttlMs` after it was stored (or the TTL given
 * to `set`), so a change made in another isolate is seen within that bound; the cache holds
 * at most `maxEntries`, dropping the oldest first. It holds values, never promises: Workers
 * must not share a promise between requests (a request awaiting another request's I/O is
 * cancelled when that request ends), so concurrent misses each load once.
 */
export class IsolateCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {
    if (!(ttlMs >= 0) || !(maxEntries >= 1))
      throw new RangeError('IsolateCache: ttlMs ≥ 0 and maxEntries ≥ 1')
  }

  /** The entry stored under `key` if it has not expired; `{ value }` so a cached `undefined` is a hit. */
  lookup(key: string, now = Date.now()): { value: V } | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= now) {
      this.entries.delete(key)
      return undefined
    }
    return { value: entry.value }
  }

  set(key: string, value: V, now = Date.now(), ttlMs = this.ttlMs): V {
    this.entries.delete(key)
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, { value, expiresAt: now + ttlMs })
    return value
  }

  delete(key: string): void {
    this.entries.delete(key)
  }
}

/**
 * What the partition router sees, per shard: statement counts over a sliding window and the
 * hottest partition keys.
 *
 * - `WindowCounter`: counts per second in a ring of `seconds` slots; `total(now)` is the exact
 *   number of events in the last `seconds` whole seconds. Memory: one number per slot.
 * - `SpaceSaving` (Metwally et al.): the top keys of a stream in `capacity` counters. A key
 *   seen more than n/capacity times is always kept; each reported count over-estimates the
 *   true one by at most its `error` (exact while fewer than `capacity` distinct keys were seen).
 *   Cost: O(capacity) for a miss that evicts, O(1) otherwise.
 * Counts are per isolate (each Worker instance routes its own share of the traffic).
 */
import type { SqlValue } from './values'

export class WindowCounter {
  private readonly slots: number[]
  private readonly stamps: number[]
  constructor(readonly seconds = 60) {
    this.slots = new Array(seconds).fill(0)
    this.stamps = new Array(seconds).fill(-1)
  }

  add(now: number, n = 1): void {
    const second = Math.floor(now / 1000)
    const slot = second % this.seconds
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second
      this.slots[slot] = 0
    }
    this.slots[slot] = (this.slots[slot] as number) + n
  }

  total(now: number): number {
    const second = Math.floor(now / 1000)
    let sum = 0
    for (let slot = 0; slot < this.seconds; slot++) {
      const stamp = this.stamps[slot] as number
      if (stamp > second - this.seconds && stamp <= second) sum += this.slots[slot] as number
    }
    return sum
  }
}

export interface HeavyHitter {
  key: string
  count: number
  error: number
}

export class SpaceSaving {
  private readonly counters = new Map<string, { count: number; error: number }>()
  constructor(readonly capacity = 32) {}

  add(key: string): void {
    const known = this.counters.get(key)
    if (known) {
      known.count++
      return
    }
    if (this.counters.size < this.capacity) {
      this.counters.set(key, { count: 1, error: 0 })
      return
    }
    let victim: string | undefined
    let least = Number.POSITIVE_INFINITY
    for (const [candidate, counter] of this.counters)
      if (counter.count < least) {
        least = counter.count
        victim = candidate
      }
    this.counters.delete(victim as string)
    this.counters.set(key, { count: least + 1, error: least })
  }

  top(n: number): HeavyHitter[] {
    return [...this.counters]
      .map(([key, counter]) => ({ key, ...counter }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, n)
  }
}

export interface ShardTraffic {
  reads: WindowCounter
  writes: WindowCounter
  keys: SpaceSaving
}

/** 64-bit integers as numbers when exact, else as their decimal text. */
const exact = (_: string, value: unknown) =>
  typeof value === 'bigint' ? (Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()) : value

const READ_WORDS = /^\s*(SELECT|WITH|VALUES|EXPLAIN|PRAGMA)\b/i

/** Traffic of shards by their storage location (a shard keeps its counts when its index shifts). */
export class TrafficTable {
  private readonly shards = new Map<string, ShardTraffic>()
  constructor(
    private readonly windowSeconds = 60,
    private readonly limit = 10_000,
  ) {}

  of(location: string): ShardTraffic {
    let traffic = this.shards.get(location)
    if (!traffic) {
      if (this.shards.size >= this.limit) this.shards.delete(this.shards.keys().next().value as string)
      traffic = {
        reads: new WindowCounter(this.windowSeconds),
        writes: new WindowCounter(this.windowSeconds),
        keys: new SpaceSaving(),
      }
      this.shards.set(location, traffic)
    }
    return traffic
  }

  peek(location: string): ShardTraffic | undefined {
    return this.shards.get(location)
  }

  /** One statement routed to `location`; `keys` are the partition keys it pinned. */
  record(location: string, sql: string, now: number, keys?: { table: string; values: SqlValue[] }): void {
    const traffic = this.of(location)
    ;(READ_WORDS.test(sql) ? traffic.reads : traffic.writes).add(now)
    for (const value of keys?.values ?? []) traffic.keys.add(JSON.stringify([keys?.table, value], exact))
  }
}

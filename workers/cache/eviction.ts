/**
 * Eviction structures of a cache node: which key goes when memory is over budget.
 *
 * - `LruEviction` (`lru`, `volatile-lru`): exact least-recently-used order kept in two
 *   doubly linked access lists (keys with a TTL, keys without); an access moves the key to
 *   the end. `victim()` is the older of the two heads (`lru`) or the head of the TTL map only
 *   (`volatile-lru`, which Redis calls TTL-first: keys without a TTL are never evicted).
 *   O(1) per access, insert, removal and victim.
 * - `LfuEviction` (`lfu`): Redis's LFU. Each key has an 8-bit logarithmic counter that
 *   starts at 5 and grows by one with probability 1 / ((counter − 5) · logFactor + 1) on
 *   each access (so ~1M hits saturate it at 255 with logFactor 10); every `decayMs` every
 *   counter drops by one. The victim is the key with the lowest counter, the least recently
 *   used among equals: exact, not sampled. Keys sit in 256 buckets by counter, each an
 *   access-ordered linked list: O(1) per access, O(256) per victim, O(keys) once per decay period
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

interface AccessNode {
  key: string
  /** Access sequence number: larger is more recent. */
  seq: number
  prev: AccessNode | undefined
  next: AccessNode | undefined
}

/**
 * Keys in access order: a doubly linked list of nodes, oldest first, with no lookup of its
 * own (the owner keeps key → node). O(1) append, unlink and head.
 */
class AccessList {
  head: AccessNode | undefined
  tail: AccessNode | undefined
  size = 0

  append(node: AccessNode): void {
    node.prev = this.tail
    node.next = undefined
    if (this.tail) this.tail.next = node
    else this.head = node
    this.tail = node
    this.size++
  }

  unlink(node: AccessNode): void {
    if (node.prev) node.prev.next = node.next
    else this.head = node.next
    if (node.next) node.next.prev = node.prev
    else this.tail = node.prev
    node.prev = undefined
    node.next = undefined
    this.size--
  }

  clear(): void {
    this.head = undefined
    this.tail = undefined
    this.size = 0
  }

  /** Moves every node of `other` into this list, keeping access order (a merge by seq). */
  absorb(other: AccessList): void {
    let a = this.head
    let b = other.head
    this.clear()
    other.clear()
    while (a || b) {
      let taken: AccessNode
      if (a && (!b || a.seq < b.seq)) {
        taken = a
        a = a.next
      } else {
        taken = b as AccessNode
        b = (b as AccessNode).next
      }
      this.append(taken)
    }
  }
}

export class LruEviction implements Eviction {
  private readonly nodes = new Map<string, AccessNode & { volatile: boolean }>()
  private readonly volatileKeys = new AccessList()
  private readonly persistentKeys = new AccessList()
  private sequence = 0

  constructor(private readonly volatileOnly: boolean) {}

  insert(key: string, volatile: boolean): void {
    this.remove(key)
    const node = { key, seq: this.sequence++, prev: undefined, next: undefined, volatile }
    this.nodes.set(key, node)
    ;(volatile ? this.volatileKeys : this.persistentKeys).append(node)
  }

  touch(key: string): void {
    const node = this.nodes.get(key)
    if (!node) return
    const list = node.volatile ? this.volatileKeys : this.persistentKeys
    node.seq = this.sequence++
    if (list.tail === node) return
    list.unlink(node)
    list.append(node)
  }

  remove(key: string): void {
    const node = this.nodes.get(key)
    if (!node) return
    this.nodes.delete(key)
    ;(node.volatile ? this.volatileKeys : this.persistentKeys).unlink(node)
  }

  victim(): string | undefined {
    const volatileHead = this.volatileKeys.head
    if (this.volatileOnly) return volatileHead?.key
    const persistentHead = this.persistentKeys.head
    if (!volatileHead) return persistentHead?.key
    if (!persistentHead) return volatileHead.key
    return volatileHead.seq < persistentHead.seq ? volatileHead.key : persistentHead.key
  }

  clear(): void {
    this.nodes.clear()
    this.volatileKeys.clear()
    this.persistentKeys.clear()
  }
}

export const LFU_INIT_VAL = 5
export const LFU_LOG_FACTOR = 10
const LFU_MAX = 255

export class LfuEviction implements Eviction {
  /** buckets[c]: keys whose counter is c, oldest access first. */
  private readonly buckets: AccessList[] = Array.from({ length: LFU_MAX + 1 }, () => new AccessList())
  private readonly nodes = new Map<string, AccessNode & { counter: number }>()
  private sequence = 0
  private lastDecay: number | undefined

  constructor(
    private readonly random: () => number,
    private readonly decayMs: number,
  ) {}

  /** The key's counter now (for tests and introspection). */
  counter(key: string): number | undefined {
    return this.nodes.get(key)?.counter
  }

  insert(key: string, _volatile: boolean, now: number): void {
    if (this.nodes.has(key)) {
      this.touch(key, now)
      return
    }
    this.decay(now)
    const node = { key, seq: this.sequence++, prev: undefined, next: undefined, counter: LFU_INIT_VAL }
    this.nodes.set(key, node)
    this.buckets[LFU_INIT_VAL]?.append(node)
  }

  touch(key: string, now: number): void {
    this.decay(now)
    const node = this.nodes.get(key)
    if (!node) return
    this.buckets[node.counter]?.unlink(node)
    node.counter = this.increment(node.counter)
    node.seq = this.sequence++
    this.buckets[node.counter]?.append(node)
  }

  remove(key: string): void {
    const node = this.nodes.get(key)
    if (!node) return
    this.nodes.delete(key)
    this.buckets[node.counter]?.unlink(node)
  }

  victim(now: number): string | undefined {
    this.decay(now)
    for (const bucket of this.buckets) if (bucket.head) return bucket.head.key
    return undefined
  }

  clear(): void {
    for (const bucket of this.buckets) bucket.clear()
    this.nodes.clear()
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
      const source = this.buckets[counter] as AccessList
      if (source.size === 0) continue
      const target = Math.max(0, counter - periods)
      for (let node = source.head; node; node = node.next)
        (node as AccessNode & { counter: number }).counter = target
      ;(this.buckets[target] as AccessList).absorb(source)
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

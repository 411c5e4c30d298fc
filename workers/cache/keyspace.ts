/**
 * One cache node's keyspace: typed values in a Map, their memory, their expiry and the
 * eviction structure, as plain synchronous code (the node object hosts it; tests drive it
 * with an injected clock and coin).
 *
 * Guarantees:
 * - Memory is the encoded size of keys and values (`entrySize`), kept exact on every write.
 *   Before each write command `makeRoom` evicts by the policy until used ≤ maxmemory, as
 *   Redis does; when the policy has no victim left the command fails with OOM and changes
 *   nothing. A single command may take memory over the budget by at most its own growth.
 * - Expiry: a key past its TTL is invisible to every command (lazy: removed on access), and
 *   `expireDue` removes keys whose time has come in TTL order (active: the node's alarm).
 *   A key written with stale-while-revalidate stays readable as stale until `staleUntil`.
 * - Every changed key lands in `dirty`, so a persistent node writes exactly what changed.
 * Costs: O(1) per string command; collection writes recompute that entry's size, O(its
 * elements); `scan` sorts the node's keys by hash, O(keys · log keys) per call.
 */
import { hash32 } from '../platform/hashing'
import { createEviction, type Eviction, type EvictionPolicyName } from './eviction'
import { ExpiryHeap } from './expiry-heap'
import { globToRegExp } from './glob'

export type Value =
  | { type: 'string'; data: string }
  | { type: 'hash'; data: Map<string, string> }
  | { type: 'list'; data: string[] }
  | { type: 'set'; data: Set<string> }
  | { type: 'zset'; data: Map<string, number> }

export interface Entry {
  value: Value
  /** Milliseconds since the epoch; undefined = no TTL. */
  expiresAt: number | undefined
  /** Stale-while-revalidate: after `expiresAt` the value is served as stale until then. */
  staleUntil?: number | undefined
  /** How long the value took to compute (ms), for probabilistic early expiration. */
  computeMs?: number | undefined
  size: number
}

export interface KeyspaceOptions {
  maxmemory: number
  policy: EvictionPolicyName
  random: () => number
}

export interface NodeStats {
  hits: number
  misses: number
  evictions: number
  expired: number
  keys: number
  usedMemory: number
  maxmemory: number
  policy: EvictionPolicyName
}

/** Bytes counted per key beyond its name and value: roughly what its entry, TTL and eviction bookkeeping cost on the JS heap. */
export const KEY_OVERHEAD_BYTES = 128
/** Bytes counted per element of a hash, list, set or sorted set beyond its own bytes. */
export const ELEMENT_OVERHEAD_BYTES = 16

export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : code < 0x800 ? 1 : 0
  }
  return bytes
}

export function valueSize(value: Value): number {
  switch (value.type) {
    case 'string':
      return utf8Length(value.data)
    case 'list':
    case 'set': {
      let size = 0
      for (const item of value.data) size += utf8Length(item) + ELEMENT_OVERHEAD_BYTES
      return size
    }
    case 'hash': {
      let size = 0
      for (const [field, item] of value.data)
        size += utf8Length(field) + utf8Length(item) + ELEMENT_OVERHEAD_BYTES
      return size
    }
    case 'zset': {
      let size = 0
      for (const member of value.data.keys()) size += utf8Length(member) + 8 + ELEMENT_OVERHEAD_BYTES
      return size
    }
  }
}

export function entrySize(key: string, value: Value): number {
  return KEY_OVERHEAD_BYTES + utf8Length(key) + valueSize(value)
}

function isEmpty(value: Value): boolean {
  return value.type === 'string'
    ? false
    : value.type === 'list'
      ? value.data.length === 0
      : value.data.size === 0
}

export class Keyspace {
  readonly entries = new Map<string, Entry>()
  readonly dirty = new Set<string>()
  /** Keys written or deleted by commands (not by eviction, expiry or FLUSHDB): what a backing store must learn. */
  readonly written = new Set<string>()
  usedMemory = 0
  maxmemory: number
  policy: EvictionPolicyName
  readonly stats = { hits: 0, misses: 0, evictions: 0, expired: 0 }
  private eviction: Eviction
  private readonly random: () => number
  /** Physical expiry times; entries are checked against the key's current TTL. */
  private readonly heap = new ExpiryHeap()

  constructor(options: KeyspaceOptions) {
    this.maxmemory = options.maxmemory
    this.policy = options.policy
    this.random = options.random
    this.eviction = createEviction(options.policy, options.random)
  }

  /** Changes budget or policy; the structure is rebuilt in the current key order. */
  configure(maxmemory: number, policy: EvictionPolicyName, now: number): void {
    this.maxmemory = maxmemory
    if (policy === this.policy) return
    this.policy = policy
    this.eviction = createEviction(policy, this.random)
    for (const [key, entry] of this.entries) this.eviction.insert(key, entry.expiresAt !== undefined, now)
  }

  /** The live entry of `key` (not expired), for commands; no statistics. */
  lookup(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      if ((entry.staleUntil ?? entry.expiresAt) <= now) this.expire(key)
      return undefined
    }
    return entry
  }

  /** The entry even when expired but still within stale-while-revalidate. */
  lookupStale(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if ((entry.staleUntil ?? entry.expiresAt ?? Number.POSITIVE_INFINITY) <= now) {
      this.expire(key)
      return undefined
    }
    return entry
  }

  /** A read command's lookup: counts a hit or a miss and refreshes the key's recency. */
  read(key: string, now: number): Entry | undefined {
    const entry = this.lookup(key, now)
    if (entry) {
      this.stats.hits++
      this.eviction.touch(key, now)
    } else this.stats.misses++
    return entry
  }

  /** A write command's lookup: refreshes recency, no statistics. */
  write(key: string, now: number): Entry | undefined {
    const entry = this.lookup(key, now)
    if (entry) this.eviction.touch(key, now)
    return entry
  }

  /** Stores `value` under `key`, replacing whatever was there. */
  put(
    key: string,
    value: Value,
    expiresAt: number | undefined,
    now: number,
    extra: Partial<Entry> = {},
  ): Entry {
    const old = this.entries.get(key)
    if (old) this.usedMemory -= old.size
    const entry: Entry = { value, expiresAt, size: entrySize(key, value), ...extra }
    this.entries.set(key, entry)
    this.usedMemory += entry.size
    this.eviction.insert(key, expiresAt !== undefined, now)
    this.schedule(key, entry)
    this.dirty.add(key)
    this.written.add(key)
    return entry
  }

  /** After a command changed a collection in place: re-measures it, drops it when empty. */
  changed(key: string, entry: Entry): void {
    if (isEmpty(entry.value)) {
      this.delete(key)
      return
    }
    const size = entrySize(key, entry.value)
    this.usedMemory += size - entry.size
    entry.size = size
    this.dirty.add(key)
    this.written.add(key)
  }

  setExpiry(key: string, entry: Entry, expiresAt: number | undefined, now: number): void {
    const wasVolatile = entry.expiresAt !== undefined
    entry.expiresAt = expiresAt
    entry.staleUntil = undefined
    if (wasVolatile !== (expiresAt !== undefined)) this.eviction.insert(key, expiresAt !== undefined, now)
    this.schedule(key, entry)
    this.dirty.add(key)
  }

  /** Deletes `key`; `byCommand: false` for evictions and expiry, which a backing store never sees. */
  delete(key: string, byCommand = true): boolean {
    const entry = this.entries.get(key)
    if (!entry) return false
    this.entries.delete(key)
    this.usedMemory -= entry.size
    this.eviction.remove(key)
    this.dirty.add(key)
    if (byCommand) this.written.add(key)
    return true
  }

  /** Evicts by policy until used ≤ maxmemory; false when the policy has nothing left to evict. */
  makeRoom(now: number): boolean {
    while (this.usedMemory > this.maxmemory) {
      const victim = this.eviction.victim(now)
      if (victim === undefined) return false
      this.delete(victim, false)
      this.stats.evictions++
    }
    return true
  }

  /** Active expiry: removes up to `budget` keys whose time has come; returns how many. */
  expireDue(now: number, budget = 1000): number {
    let removed = 0
    while (removed < budget) {
      const top = this.heap.peek()
      if (!top || top[0] > now) break
      this.heap.pop()
      const entry = this.entries.get(top[1])
      if (entry && (entry.staleUntil ?? entry.expiresAt) === top[0]) {
        this.expire(top[1])
        removed++
      }
    }
    return removed
  }

  /** When the next key expires (for the node's alarm). */
  nextExpiry(): number | undefined {
    return this.heap.peek()?.[0]
  }

  flush(): void {
    for (const key of this.entries.keys()) this.dirty.add(key)
    this.entries.clear()
    this.eviction.clear()
    this.heap.reset()
    this.usedMemory = 0
  }

  /**
   * One page of a scan in hash order: keys whose 32-bit hash is ≥ `position`, at least
   * `count` of them (all keys of the last hash taken together). Keys present for the whole
   * scan are returned at least once however the keyspace changes. Returns the next position,
   * 2^32 when the node is done.
   */
  scan(position: number, count: number, now: number, match?: string, type?: string): [number, string[]] {
    const pattern = match !== undefined ? globToRegExp(match) : undefined
    const candidates: Array<[number, string]> = []
    for (const key of this.entries.keys()) {
      const hash = hash32(key)
      if (hash >= position) candidates.push([hash, key])
    }
    candidates.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))
    const keys: string[] = []
    let next = 2 ** 32
    for (let i = 0; i < candidates.length; i++) {
      const [hash, key] = candidates[i] as [number, string]
      if (i >= count && hash !== candidates[i - 1]?.[0]) {
        next = hash
        break
      }
      const entry = this.lookup(key, now)
      if (!entry) continue
      if (pattern && !pattern.test(key)) continue
      if (type !== undefined && entry.value.type !== type) continue
      keys.push(key)
    }
    return [next, keys]
  }

  snapshot(): NodeStats {
    return {
      ...this.stats,
      keys: this.entries.size,
      usedMemory: this.usedMemory,
      maxmemory: this.maxmemory,
      policy: this.policy,
    }
  }

  private expire(key: string): void {
    if (this.delete(key, false)) this.stats.expired++
  }

  private schedule(key: string, entry: Entry): void {
    const at = entry.staleUntil ?? entry.expiresAt
    if (at === undefined) return
    if (this.heap.size > 2 * this.entries.size + 1024) {
      const live: Array<[number, string]> = []
      for (const [liveKey, liveEntry] of this.entries) {
        const due = liveEntry.staleUntil ?? liveEntry.expiresAt
        if (due !== undefined) live.push([due, liveKey])
      }
      this.heap.reset(live)
    }
    this.heap.push(at, key)
  }
}

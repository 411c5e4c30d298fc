/**
 * Hot-key read replication. An isolate counts the reads of each key per one-second window;
 * a key read at least `threshold` times in the current or the previous window is hot. A
 * hot key's reads spread over the first R nodes of its preference list on the ring (the
 * owner and R − 1 replicas). A replica serves a read-only copy it keeps beside the
 * keyspace (never counted by DBSIZE or SCAN) for at most `ttlMs`; on a copy miss it is
 * filled from the owner, with the owner's remaining TTL if shorter.
 *
 * Guarantees: the owner stays the only writer; a write through this isolate drops the
 * copies of the keys it knows are hot, and a copy is never older than `ttlMs`, so a read
 * is stale by at most `ttlMs` after a write made through another isolate. Costs: one Map
 * entry per recently read key (at most `maxTracked`, oldest dropped first).
 */
import type { NodeClient, Replication } from './cluster-client'
import type { Outcome } from './commands'
import { replicaNodes } from './placement'

export interface HotKeyOptions {
  threshold: number
  maxTracked?: number
}

export class HotKeys {
  private readonly counts = new Map<string, { window: number; current: number; previous: number }>()
  private readonly threshold: number
  private readonly maxTracked: number

  constructor(options: HotKeyOptions) {
    this.threshold = options.threshold
    this.maxTracked = options.maxTracked ?? 10_000
  }

  /** Counts one read of `key` at `now` (ms); true when the key is hot. */
  observe(key: string, now: number): boolean {
    const window = Math.floor(now / 1000)
    let entry = this.counts.get(key)
    if (!entry) {
      if (this.counts.size >= this.maxTracked) this.counts.delete(this.counts.keys().next().value as string)
      entry = { window, current: 0, previous: 0 }
      this.counts.set(key, entry)
    }
    if (entry.window !== window) {
      entry.previous = entry.window === window - 1 ? entry.current : 0
      entry.current = 0
      entry.window = window
    }
    entry.current++
    return this.isHot(key, now)
  }

  isHot(key: string, now: number): boolean {
    const entry = this.counts.get(key)
    if (!entry) return false
    const window = Math.floor(now / 1000)
    const previous =
      entry.window === window ? entry.previous : entry.window === window - 1 ? entry.current : 0
    const current = entry.window === window ? entry.current : 0
    return Math.max(current, previous) >= this.threshold
  }
}

/** A replica's read-only copies: bounded, each with its own expiry. */
export class ReplicaCopies {
  private readonly copies = new Map<string, { value: string; expiresAt: number }>()

  constructor(private readonly maxCopies = 1_000) {}

  read(key: string, now: number): string | null {
    const copy = this.copies.get(key)
    if (!copy) return null
    if (copy.expiresAt <= now) {
      this.copies.delete(key)
      return null
    }
    return copy.value
  }

  store(key: string, value: string | null, expiresAt: number): void {
    this.copies.delete(key)
    if (value === null) return
    if (this.copies.size >= this.maxCopies) this.copies.delete(this.copies.keys().next().value as string)
    this.copies.set(key, { value, expiresAt })
  }

  clear(): void {
    this.copies.clear()
  }
}

/** A read of a hot key: from a random one of its R holders; a replica fills its copy from the owner. */
export async function replicatedGet(
  client: NodeClient,
  nodes: number,
  key: string,
  replication: Replication,
): Promise<Outcome> {
  const holders = replicaNodes(key, nodes, replication.replicas)
  const chosen = holders[Math.floor(replication.random() * holders.length)] ?? 0
  const owner = holders[0] ?? 0
  if (chosen === owner) return (await client.run(owner, [['GET', key]]))[0] as Outcome
  const copy = await client.readCopy(chosen, key)
  if (copy !== null) return { result: copy }
  const [value, pttl] = await client.run(owner, [
    ['GET', key],
    ['PTTL', key],
  ])
  if (value && 'result' in value && typeof value.result === 'string') {
    const left =
      pttl && 'result' in pttl && typeof pttl.result === 'number' && pttl.result > 0
        ? pttl.result
        : Number.POSITIVE_INFINITY
    await client.storeCopy(chosen, key, value.result, replication.now() + Math.min(replication.ttlMs, left))
  }
  return value as Outcome
}

export async function dropCopies(
  client: NodeClient,
  nodes: number,
  keys: string[],
  replication: Replication,
): Promise<void> {
  await Promise.all(
    keys
      .filter((key) => replication.isHot(key))
      .flatMap((key) =>
        replicaNodes(key, nodes, replication.replicas)
          .slice(1)
          .map((node) => client.storeCopy(node, key, null, 0)),
      ),
  )
}

/**
 * Rebalancing after the ring changes (a node added or removed): the keys whose N homes
 * change are copied to the homes they gain, and only then does the namespace switch to the
 * new ring.
 *
 * The sequence (maintenance-object.ts runs it): 1. the namespace records the next ring, and
 * from then on every write reaches the homes of both rings; 2. after every isolate has seen
 * that (the namespace cache lifetime), this job streams the namespace bucket range by
 * bucket range from every node of the old ring, reconciles each key's versions, and stores
 * them on the homes the key gains; 3. the namespace switches to the new ring. Reads use the
 * old ring until the switch and the new one after it, and both hold every acknowledged
 * write at its switch point, so reads stay correct throughout.
 *
 * Guarantees: consistent hashing moves only the keys whose preference list changes (about
 * N/nodes of them per node added or removed); nothing else is copied. Nodes that leave
 * keep their rows (they are no longer asked). Cost: one pass over the namespace's rows on
 * the old ring's nodes, plus one store per moved key and gained home.
 */

import { versionBytes } from './anti-entropy'
import { preferenceOrder } from './coordinator'
import type { ConflictPolicy, Version } from './versions'
import { reconcile } from './versions'

type KeyVersion = Version & { key: string }

export interface RebalancePort {
  versions(node: string, buckets: number[]): Promise<KeyVersion[]>
  store(node: string, key: string, versions: Version[]): Promise<void>
}

export interface RebalanceSpec {
  ns: string
  replicas: number
  policy: ConflictPolicy
  from: string[]
  to: string[]
}

export interface RebalanceStats {
  keysScanned: number
  keysMoved: number
  versionsCopied: number
  bytesCopied: number
}

/** The homes `key` gains when the ring moves from `from` to `to`. */
export function gainedHomes(spec: Omit<RebalanceSpec, 'policy'>, key: string): string[] {
  const before = preferenceOrder(spec.from, spec.ns, key).slice(0, spec.replicas)
  return preferenceOrder(spec.to, spec.ns, key)
    .slice(0, spec.replicas)
    .filter((node) => !before.includes(node))
}

export async function rebalance(
  port: RebalancePort,
  spec: RebalanceSpec,
  buckets: number,
  bucketsPerPass = 64,
): Promise<RebalanceStats> {
  const stats: RebalanceStats = { keysScanned: 0, keysMoved: 0, versionsCopied: 0, bytesCopied: 0 }
  for (let first = 0; first < buckets; first += bucketsPerPass) {
    const range = Array.from({ length: Math.min(bucketsPerPass, buckets - first) }, (_, i) => first + i)
    const byKey = new Map<string, KeyVersion[]>()
    const pages = await Promise.all(spec.from.map((node) => port.versions(node, range)))
    for (const row of pages.flat()) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row])
    const stores: Array<Promise<void>> = []
    for (const [key, rows] of byKey) {
      stats.keysScanned++
      const gained = gainedHomes(spec, key)
      if (gained.length === 0) continue
      const merged = reconcile(rows, spec.policy)
      stats.keysMoved++
      for (const node of gained) {
        stats.versionsCopied += merged.length
        for (const version of merged) stats.bytesCopied += versionBytes(version)
        stores.push(port.store(node, key, merged))
      }
    }
    await Promise.all(stores)
  }
  return stats
}

/**
 * Anti-entropy: bring every replica of a namespace to the same versions by comparing
 * Merkle trees (merkle.ts) and exchanging only the buckets that differ.
 *
 * 1. Each node sends its 1,024 leaf digests (one GROUP BY; no rows).
 * 2. Each node's tree is compared with the first node's; the leaves that differ anywhere
 *    are the only buckets whose versions are fetched, from every node.
 * 3. Per key in those buckets, the versions are reconciled and each of the key's N home
 *    nodes receives the versions it lacks (merged there as any write is).
 * 4. With every node answering, tombstones and expired versions older than the grace
 *    period are purged everywhere (a delete has then reached every replica, so it cannot
 *    be resurrected by one that missed it); with a node down nothing is purged.
 *
 * Guarantees: after a run in which every node answered, every home replica of every key
 * holds the reconciled versions; with N equal to the node count all roots are equal.
 * With more nodes than N, nodes hold different ranges by design, so their trees differ
 * in the buckets they do not share and those buckets are exchanged too (still correct,
 * more bytes). Cost: 24 bytes per non-empty bucket per node, plus the differing buckets'
 * versions (counted in `bytesExchanged`).
 */
import { preferenceOrder } from './coordinator'
import { buildTree, differingLeaves, type LeafDigest, type MerkleTree, rootOf } from './merkle'
import type { ConflictPolicy, Version } from './versions'
import { reconcile } from './versions'

type KeyVersion = Version & { key: string }

export interface AntiEntropyPort {
  leaves(node: string): Promise<LeafDigest[]>
  versions(node: string, buckets: number[]): Promise<KeyVersion[]>
  store(node: string, key: string, versions: Version[]): Promise<void>
  purge(node: string, tombstonesBefore: number, expiredBefore: number): Promise<number>
}

export interface AntiEntropySpec {
  tenant: string
  /** The namespace's name. */
  name: string
  ns: string
  /** The ring's storage nodes. */
  members: string[]
  replicas: number
  policy: ConflictPolicy
  graceMs: number
}

export interface AntiEntropyStats {
  nodesAnswered: number
  differingLeaves: number
  hashesCompared: number
  versionsCopied: number
  bytesExchanged: number
  purged: number
  roots: Record<string, string>
}

const LEAF_BYTES = 24

export function versionBytes(version: KeyVersion | Version): number {
  return (
    (version.value?.length ?? 0) +
    (version.metadata?.length ?? 0) +
    JSON.stringify(version.context).length +
    version.id.length +
    version.hlc.length +
    version.contentType.length +
    ('key' in version ? version.key.length : 0) +
    16
  )
}

async function trees(port: AntiEntropyPort, nodes: string[], buckets: number) {
  const result = new Map<string, MerkleTree>()
  let bytes = 0
  await Promise.all(
    nodes.map(async (node) => {
      try {
        const leaves = await port.leaves(node)
        bytes += leaves.length * LEAF_BYTES
        result.set(node, buildTree(leaves, buckets))
      } catch {
        // a node that does not answer is left out of this run
      }
    }),
  )
  return { trees: result, bytes }
}

export async function runAntiEntropy(
  port: AntiEntropyPort,
  spec: AntiEntropySpec,
  buckets: number,
  now: number,
): Promise<AntiEntropyStats> {
  const nodes = spec.members
  const before = await trees(port, nodes, buckets)
  let bytes = before.bytes
  let compared = 0
  const answered = nodes.filter((node) => before.trees.has(node))
  const reference = before.trees.get(answered[0] ?? '')
  const differing = new Set<number>()
  for (const node of answered.slice(1)) {
    const diff = differingLeaves(reference as MerkleTree, before.trees.get(node) as MerkleTree)
    compared += diff.compared
    for (const leaf of diff.leaves) differing.add(leaf)
  }
  let copied = 0
  if (differing.size > 0) {
    const held = new Map<string, Map<string, KeyVersion[]>>()
    await Promise.all(
      answered.map(async (node) => {
        const rows = await port.versions(node, [...differing]).catch(() => [])
        const byKey = new Map<string, KeyVersion[]>()
        for (const row of rows) {
          bytes += versionBytes(row)
          byKey.set(row.key, [...(byKey.get(row.key) ?? []), row])
        }
        held.set(node, byKey)
      }),
    )
    const keys = new Set([...held.values()].flatMap((byKey) => [...byKey.keys()]))
    const pushes: Array<Promise<void>> = []
    for (const key of keys) {
      const merged = reconcile(
        [...held.values()].flatMap((byKey) => byKey.get(key) ?? []),
        spec.policy,
      )
      const homes = preferenceOrder(spec.members, spec.ns, key).slice(0, spec.replicas)
      for (const home of homes) {
        if (!held.has(home)) continue
        const ids = new Set((held.get(home)?.get(key) ?? []).map((version) => version.id))
        const missing = merged.filter((version) => !ids.has(version.id))
        if (missing.length === 0) continue
        copied += missing.length
        for (const version of missing) bytes += versionBytes(version)
        pushes.push(port.store(home, key, missing).catch(() => undefined))
      }
    }
    await Promise.all(pushes)
  }
  let purged = 0
  if (answered.length === nodes.length) {
    const counts = await Promise.all(
      nodes.map((node) => port.purge(node, now - spec.graceMs, now - spec.graceMs).catch(() => 0)),
    )
    purged = counts.reduce((sum, count) => sum + count, 0)
  }
  const after = await trees(port, answered, buckets)
  return {
    nodesAnswered: answered.length,
    differingLeaves: differing.size,
    hashesCompared: compared,
    versionsCopied: copied,
    bytesExchanged: bytes,
    purged,
    roots: Object.fromEntries([...after.trees].map(([node, tree]) => [node, rootOf(tree)])),
  }
}

/**
 * Anti-entropy: bring every replica of a namespace to the same versions by comparing
 * Merkle trees (merkle.ts) and exchanging only the buckets that differ.
 *
 * 1. Each node sends its 1,024 leaf digests (one GROUP BY; no rows).
 * 2. Each node's tree is compared with the first node's; the leaves that differ anywhere
 *    are the only buckets whose (key, version id) pairs are fetched, from every node.
 * 3. Each version one of a key's N homes lacks is fetched once, with its value, from a node
 *    that has it, and stored on the homes that lack it, merged there as any write is (many
 *    keys per transaction): a version another one supersedes is dropped on arrival, so
 *    sending it is only wasted bytes, never a resurrection.
 * 4. With every node answering, tombstones and expired versions older than the grace
 *    period are purged everywhere (a delete has then reached every replica, so it cannot
 *    be resurrected by one that missed it); with a node down nothing is purged.
 *
 * Guarantees: after a run in which every node answered, every home replica of every key
 * holds the reconciled versions; with N equal to the node count all roots are equal.
 * With more nodes than N, nodes hold different ranges by design, so their trees differ
 * in the buckets they do not share and those buckets are exchanged too (still correct,
 * more bytes). Cost: 24 bytes per non-empty bucket per node, the (key, id) pairs of the
 * differing buckets from every node, and each missing version once in and once out per
 * home lacking it (all counted in `bytesExchanged`).
 */
import { preferenceOrder } from './coordinator'
import { buildTree, differingLeaves, type LeafDigest, type MerkleTree, rootOf } from './merkle'
import type { ConflictPolicy, Version } from './versions'

type KeyVersion = Version & { key: string }

export interface AntiEntropyPort {
  leaves(node: string): Promise<LeafDigest[]>
  /** The (key, version id) pairs of the buckets. */
  ids(node: string, buckets: number[]): Promise<Array<{ key: string; id: string }>>
  /** Full versions by key and id. */
  fetch(node: string, refs: Array<{ key: string; id: string }>): Promise<KeyVersion[]>
  storeMany(node: string, items: Array<{ key: string; versions: Version[] }>): Promise<void>
  purge(node: string, tombstonesBefore: number, expiredBefore: number): Promise<number>
}

const STORE_CHUNK = 200
const FETCH_CHUNK = 500

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
    const held = new Map<string, Map<string, Set<string>>>()
    await Promise.all(
      answered.map(async (node) => {
        const rows = await port.ids(node, [...differing]).catch(() => [])
        const byKey = new Map<string, Set<string>>()
        for (const row of rows) {
          bytes += row.key.length + row.id.length + 8
          byKey.set(row.key, (byKey.get(row.key) ?? new Set()).add(row.id))
        }
        held.set(node, byKey)
      }),
    )
    // What each home lacks, and one node to fetch each missing version from.
    const lacking = new Map<string, Array<{ key: string; ids: string[] }>>()
    const sources = new Map<string, Map<string, { key: string; id: string }>>()
    const keys = new Set([...held.values()].flatMap((byKey) => [...byKey.keys()]))
    for (const key of keys) {
      const holders = new Map<string, string>()
      for (const [node, byKey] of held)
        for (const id of byKey.get(key) ?? []) if (!holders.has(id)) holders.set(id, node)
      for (const home of preferenceOrder(spec.members, spec.ns, key).slice(0, spec.replicas)) {
        if (!held.has(home)) continue
        const has = held.get(home)?.get(key) ?? new Set<string>()
        const missing = [...holders.keys()].filter((id) => !has.has(id))
        if (missing.length === 0) continue
        lacking.set(home, [...(lacking.get(home) ?? []), { key, ids: missing }])
        for (const id of missing) {
          const source = holders.get(id) as string
          const refs = sources.get(source) ?? new Map()
          refs.set(`${key}\n${id}`, { key, id })
          sources.set(source, refs)
        }
      }
    }
    const full = new Map<string, KeyVersion>()
    for (const [source, refs] of sources) {
      const list = [...refs.values()]
      for (let i = 0; i < list.length; i += FETCH_CHUNK) {
        for (const version of await port.fetch(source, list.slice(i, i + FETCH_CHUNK)).catch(() => [])) {
          bytes += versionBytes(version)
          full.set(`${version.key}\n${version.id}`, version)
        }
      }
    }
    await Promise.all(
      [...lacking].map(async ([home, items]) => {
        const batches = items.map(({ key, ids }) => ({
          key,
          versions: ids.flatMap((id) => full.get(`${key}\n${id}`) ?? []),
        }))
        for (const item of batches) {
          copied += item.versions.length
          for (const version of item.versions) bytes += versionBytes(version)
        }
        for (let i = 0; i < batches.length; i += STORE_CHUNK) {
          await port.storeMany(home, batches.slice(i, i + STORE_CHUNK)).catch(() => undefined)
        }
      }),
    )
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

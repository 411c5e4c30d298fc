/**
 * Placement of keys on a cache's nodes: the platform's consistent-hash ring over node ids
 * `node-0 … node-(N−1)` (128 virtual nodes each), looked up by a key's slot key — the text
 * inside its first non-empty `{…}` (a Redis Cluster hash tag), else the whole key. Growing
 * from N to N+1 nodes moves only the keys the new node takes (~1/(N+1)). O(log(N·128)).
 */
import { ConsistentHashRing } from '../platform/hashing'

const rings = new Map<number, ConsistentHashRing>()

export function nodeId(index: number): string {
  return `node-${index}`
}

/** The ring of a cache of `nodes` nodes (shared per isolate; rings are immutable once built). */
export function ringOf(nodes: number): ConsistentHashRing {
  let ring = rings.get(nodes)
  if (!ring) {
    ring = new ConsistentHashRing(Array.from({ length: nodes }, (_, i) => nodeId(i)))
    rings.set(nodes, ring)
  }
  return ring
}

/** Redis Cluster's hash tag: `{user1}:a` and `{user1}:b` share the slot key `user1`. */
export function slotKey(key: string): string {
  const open = key.indexOf('{')
  if (open < 0) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}

export function nodeOf(key: string, nodes: number): number {
  const owner = ringOf(nodes).nodeFor(slotKey(key))
  return owner === undefined ? 0 : Number(owner.slice('node-'.length))
}

/** The owner and replicas of a key: the first `count` distinct nodes of its preference list. */
export function replicaNodes(key: string, nodes: number, count: number): number[] {
  return ringOf(nodes)
    .preferenceList(slotKey(key), count)
    .map((id) => Number(id.slice('node-'.length)))
}

/**
 * Merkle trees over a namespace's key space on one node, for anti-entropy.
 *
 * The leaves are the 1,024 hash buckets of the keys (replica.ts `bucketOf`); a leaf's
 * digest is (versions in it, sum of their 32-bit version digests mod 2^32), which the node
 * computes in one GROUP BY without sending a row. Inner nodes hash their two children.
 * Two nodes holding the same versions have the same root; `differingLeaves` descends from
 * the root only into subtrees whose hashes differ, so replicas that agree exchange one
 * hash, and replicas that differ exchange only the buckets that differ.
 *
 * Cost: O(buckets) to build; comparing visits 2·d·log2(buckets) nodes for d differing
 * leaves. The sum digest is not collision-resistant against an adversary (it needs none:
 * replicas are not adversaries), and two different version sets collide with probability
 * about 2^-32 per leaf.
 */
import { hash32 } from '../platform/hashing'

export interface LeafDigest {
  bucket: number
  count: number
  sum: number
}

/** levels[0] = leaves … levels[last] = [root]. */
export type MerkleTree = number[][]

export function buildTree(leaves: LeafDigest[], bucketCount: number): MerkleTree {
  const level = new Array<number>(bucketCount).fill(0)
  for (const leaf of leaves) level[leaf.bucket] = leaf.count === 0 ? 0 : hash32(`${leaf.count}:${leaf.sum}`)
  const levels: MerkleTree = [level]
  let current = level
  while (current.length > 1) {
    const next: number[] = []
    for (let i = 0; i < current.length; i += 2) {
      const left = current[i] ?? 0
      const right = current[i + 1] ?? 0
      next.push(left === 0 && right === 0 ? 0 : hash32(`${left}/${right}`))
    }
    levels.push(next)
    current = next
  }
  return levels
}

export function rootOf(tree: MerkleTree): string {
  return (tree.at(-1)?.[0] ?? 0).toString(16).padStart(8, '0')
}

/** The leaf indices where the trees differ, found top-down; `compared` counts hashes looked at. */
export function differingLeaves(a: MerkleTree, b: MerkleTree): { leaves: number[]; compared: number } {
  const leaves: number[] = []
  let compared = 0
  const visit = (level: number, index: number) => {
    compared++
    if (a[level]?.[index] === b[level]?.[index]) return
    if (level === 0) {
      leaves.push(index)
      return
    }
    visit(level - 1, index * 2)
    visit(level - 1, index * 2 + 1)
  }
  visit(a.length - 1, 0)
  return { leaves, compared }
}

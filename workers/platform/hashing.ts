/**
 * Hashing for placement.
 *
 * - `hash32`: FNV-1a over UTF-8, a stable 32-bit hash (same input, same output, on every
 *   runtime and forever), good enough spread for picking shards; not cryptographic.
 * - `shardFor(key, shards)`: a key's shard in [0, shards) — stable for a fixed count.
 * - `ConsistentHashRing`: nodes placed at `virtualNodes` points on a 2^32 ring; a key
 *   belongs to the first point clockwise from its hash. Adding or removing one of N nodes
 *   moves only ~1/N of the keys; `preferenceList` gives the next distinct nodes (Dynamo's
 *   replica placement). Lookups are O(log(N·virtualNodes)).
 */

const encoder = new TextEncoder()

export function hash32(text: string): number {
  let hash = 0x811c9dc5
  for (const byte of encoder.encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193)
  }
  // Final avalanche (murmur3 fmix32) so nearby keys spread over the whole range.
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

export function shardFor(key: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError('shards must be a positive integer')
  return hash32(key) % shards
}

export class ConsistentHashRing {
  private readonly points: Array<{ position: number; node: string }> = []
  private readonly nodes = new Set<string>()

  constructor(
    nodes: Iterable<string> = [],
    private readonly virtualNodes = 128,
  ) {
    for (const node of nodes) this.add(node)
  }

  get size(): number {
    return this.nodes.size
  }

  add(node: string): void {
    if (this.nodes.has(node)) return
    this.nodes.add(node)
    for (let i = 0; i < this.virtualNodes; i++) this.points.push({ position: hash32(`${node}#${i}`), node })
    this.points.sort((a, b) => a.position - b.position || (a.node < b.node ? -1 : 1))
  }

  remove(node: string): void {
    if (!this.nodes.delete(node)) return
    for (let i = this.points.length - 1; i >= 0; i--)
      if (this.points[i]?.node === node) this.points.splice(i, 1)
  }

  /** The node owning `key`; undefined on an empty ring. */
  nodeFor(key: string): string | undefined {
    return this.preferenceList(key, 1)[0]
  }

  /** The first `count` distinct nodes clockwise from the key's position. */
  preferenceList(key: string, count: number): string[] {
    if (this.points.length === 0) return []
    const position = hash32(key)
    let low = 0
    let high = this.points.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((this.points[mid]?.position ?? 0) < position) low = mid + 1
      else high = mid
    }
    const chosen: string[] = []
    for (
      let step = 0;
      step < this.points.length && chosen.length < Math.min(count, this.nodes.size);
      step++
    ) {
      const node = this.points[(low + step) % this.points.length]?.node
      if (node !== undefined && !chosen.includes(node)) chosen.push(node)
    }
    return chosen
  }
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table of `size` slots (a prime)
 * filled by each node's own permutation of the slots in turn, so every node owns
 * ⌊size/N⌋ or ⌈size/N⌉ slots (balance within one slot) and removing one of N nodes moves
 * little more than its own 1/N of the keys. Building costs O(size · log size) time and
 * `size` 16-bit entries; a lookup is one hash and one array read.
 */
export function maglevTable(nodes: readonly string[], size = 65_537): Uint16Array {
  if (nodes.length === 0 || nodes.length > 65_535) throw new RangeError('maglevTable: 1–65535 nodes')
  const table = new Uint16Array(size).fill(0xffff)
  const offsets = nodes.map((node) => hash32(`${node}#offset`) % size)
  const skips = nodes.map((node) => (hash32(`${node}#skip`) % (size - 1)) + 1)
  const next = new Array<number>(nodes.length).fill(0)
  let filled = 0
  while (filled < size) {
    for (let i = 0; i < nodes.length && filled < size; i++) {
      let slot = ((offsets[i] ?? 0) + (next[i] ?? 0) * (skips[i] ?? 1)) % size
      while (table[slot] !== 0xffff) {
        next[i] = (next[i] ?? 0) + 1
        slot = ((offsets[i] ?? 0) + (next[i] ?? 0) * (skips[i] ?? 1)) % size
      }
      table[slot] = i
      next[i] = (next[i] ?? 0) + 1
      filled++
    }
  }
  return table
}

/** The node of `key` in a table built by `maglevTable` over the same `nodes`. */
export function maglevLookup(table: Uint16Array, nodes: readonly string[], key: string): string | undefined {
  return nodes[table[hash32(key) % table.length] ?? 0]
}

/**
 * The embedded-replica wire as the platform shows it (`/v1/databases/{db}/info`, `export/{g}`,
 * `sync/{g}/{start}/{end}`): generation numbers that name the frame log they belong to.
 *
 * A storage node numbers the generations of one namespace's frame log 1, 2, 3…; a database's
 * primary namespace changes after a failover (a promoted replica, whose log starts again at 1)
 * and after a delete and create under the same name. The client keeps its generation and frame
 * number across syncs and never asks `info` again, so a bare node generation would let a replica
 * of the old log apply frames of the new one at the wrong offsets. The platform therefore shows
 * `logId(namespace) * GENERATION_STRIDE + g`: a generation of another log is recognised (with
 * probability 1 - 1/LOG_IDS) and refused with 409 (the replica must be bootstrapped again),
 * instead of being silently misapplied.
 *
 * Guarantees: the mapping is a bijection between node generations 1…STRIDE-1 of a namespace and
 * platform generations of that namespace's block; every platform generation fits the client's
 * u32 (at most 4,200,099,999). Cost: one FNV-1a hash of the namespace per request.
 */

/** 100,000 generations of 16,384 frames each: about 1.6 billion page writes per log. */
export const GENERATION_STRIDE = 100_000
export const LOG_IDS = 42_000

/** 1…LOG_IDS: which block of platform generations a namespace's frame log uses. */
export function logId(namespace: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < namespace.length; i++) {
    hash ^= namespace.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return (hash % LOG_IDS) + 1
}

/** The platform generation of node generation `g` of `namespace`; undefined past the block. */
export function platformGeneration(namespace: string, g: number): number | undefined {
  if (!Number.isInteger(g) || g < 1 || g >= GENERATION_STRIDE) return undefined
  return logId(namespace) * GENERATION_STRIDE + g
}

/** The node generation a platform generation names; undefined when it belongs to another log. */
export function nodeGeneration(namespace: string, generation: number): number | undefined {
  if (!Number.isSafeInteger(generation)) return undefined
  const g = generation - logId(namespace) * GENERATION_STRIDE
  return g >= 1 && g < GENERATION_STRIDE ? g : undefined
}

export type SyncPath =
  | { kind: 'info' }
  | { kind: 'export'; generation: number }
  | { kind: 'sync'; generation: number; start: number; end: number }

const U32 = 0xffffffff

/** The request after `/v1/databases/{db}`; undefined for anything the client never sends. */
export function parseSyncPath(rest: string): SyncPath | undefined {
  if (rest === '/info') return { kind: 'info' }
  const exported = /^\/export\/(\d{1,10})$/.exec(rest)
  if (exported) {
    const generation = Number(exported[1])
    return generation <= U32 ? { kind: 'export', generation } : undefined
  }
  const sync = /^\/sync\/(\d{1,10})\/(\d{1,10})\/(\d{1,10})$/.exec(rest)
  if (!sync) return undefined
  const [generation, start, end] = [Number(sync[1]), Number(sync[2]), Number(sync[3])]
  if (generation > U32 || start < 1 || start > U32 || end > U32 || end <= start) return undefined
  return { kind: 'sync', generation, start, end }
}

/** The node's path for a request, or why the replica must start again (a generation of another log). */
export function nodePath(namespace: string, path: SyncPath): string | { stale: number } {
  if (path.kind === 'info') return 'info'
  const g = nodeGeneration(namespace, path.generation)
  if (g === undefined) return { stale: path.generation }
  return path.kind === 'export' ? `export/${g}` : `sync/${g}/${path.start}/${path.end}`
}

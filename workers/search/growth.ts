/**
 * Shards are added when an index grows: the index doubles its shard count n → 2n, shard i
 * handing the documents whose `hash32(id) mod 2n` is i + n to the new shard i + n
 * (shard/split.ts has the per-shard protocol). Writes and searches go on during the move:
 *
 * - the registry row records `splitting: 2n` first (compare-and-set), so any request that
 *   meets it, or a later write, can resume an interrupted split; steps are idempotent;
 * - every source shard is stepped until it seals (its share shipped, the target live, its
 *   moved documents deleted, its layout 2n), then the row's count becomes 2n (CAS);
 * - between those points the registry says n while some shards already serve 2n: writers
 *   routed with n are refused by a sealed shard and re-route with its layout
 *   (`routeByShard`); readers follow each shard's reported layout to its siblings
 *   (`onLiveShards`), so every document is read from exactly one live shard.
 *
 * Cost of a read: one call per live shard, more only in the moment a shard has split and
 * the registry row (cached per isolate) does not say so yet.
 */
import type { Env } from '../platform/env'
import { changeIndex, freshIndex, MAX_SHARDS, type SearchIndex, type ShardApi, shardStub } from './indexes'
import { byShard } from './logic/documents'

export interface LiveShard<T> {
  shard: number
  /** The shard count this shard was reached with. */
  count: number
  result: T
}

/**
 * Calls `call` on every live shard of the index: the registry's count first, then the
 * siblings of any shard that reports a larger layout than the count it was reached with.
 */
export async function onLiveShards<T extends { layout: number | null }>(
  env: Env,
  tenant: string,
  index: SearchIndex,
  call: (stub: ShardApi, shard: number) => Promise<T>,
): Promise<Array<LiveShard<T>>> {
  const count = index.config.shards
  let pending = Array.from({ length: count }, (_, shard) => ({ shard, count }))
  const out: Array<LiveShard<T>> = []
  while (pending.length > 0) {
    const results = await Promise.all(
      pending.map(({ shard }) => call(shardStub(env, tenant, index.name, shard), shard)),
    )
    const next: typeof pending = []
    pending.forEach((reached, i) => {
      const result = results[i] as T
      out.push({ ...reached, result })
      for (let size = reached.count; size < (result.layout ?? 0); size *= 2)
        next.push({ shard: reached.shard + size, count: size * 2 })
    })
    pending = next
  }
  return out.sort((a, b) => a.shard - b.shard)
}

/**
 * Sends items to their shards by id; a shard that has split since refuses with its layout
 * (`stale`) and those items are sent again with that count.
 */
export async function routeByShard<I extends { id: string }, R extends { stale?: number }>(
  env: Env,
  tenant: string,
  index: SearchIndex,
  items: I[],
  send: (stub: ShardApi, group: I[], count: number) => Promise<R>,
): Promise<R[]> {
  let pending = [{ items, count: index.config.shards }]
  const out: R[] = []
  while (pending.length > 0) {
    const next: typeof pending = []
    await Promise.all(
      pending.flatMap(({ items: some, count }) =>
        byShard(some, count).map(async (group, shard) => {
          if (group.length === 0) return
          const result = await send(shardStub(env, tenant, index.name, shard), group, count)
          if (result.stale !== undefined && result.stale > count)
            next.push({ items: group, count: result.stale })
          else out.push(result)
        }),
      ),
    )
    pending = next
  }
  return out
}

export interface Growth {
  from: number
  to: number
  movedDocuments: number
}

/**
 * Doubles the index's shard count, or finishes a doubling under way. null when the index
 * is at `MAX_SHARDS`, or another caller switched the count first.
 */
export async function growIndex(env: Env, tenant: string, uid: string): Promise<Growth | null> {
  let index = await freshIndex(env, tenant, uid)
  if (!index.config.splitting) {
    if (index.config.shards * 2 > MAX_SHARDS) return null
    index = await changeIndex(env, tenant, uid, (config) =>
      config.splitting || config.shards * 2 > MAX_SHARDS
        ? config
        : { ...config, splitting: config.shards * 2 },
    )
  }
  const to = index.config.splitting
  if (!to) return null
  const from = index.config.shards
  const moved = await Promise.all(
    Array.from({ length: from }, async (_, shard) => {
      let total = 0
      for (;;) {
        const step = await shardStub(env, tenant, uid, shard).splitStep({ tenant, uid, shard, from, to })
        total += step.moved
        if (step.sealed) return total
      }
    }),
  )
  let switched = false
  await changeIndex(env, tenant, uid, (config) => {
    switched = config.splitting === to
    if (!switched) return config
    const { splitting: _, ...rest } = config
    return { ...rest, shards: to }
  })
  return switched ? { from, to, movedDocuments: moved.reduce((sum, n) => sum + n, 0) } : null
}

/** A split under way for this long (no change to the index row) is taken over by the next write. */
export const STALLED_SPLIT_MS = 60_000

/**
 * Whether a write that left its shards with `documents` documents should grow the index:
 * a shard over the limit and no split under way, or a split that seems abandoned.
 */
export function shouldGrow(index: SearchIndex, documents: number[], now: number): boolean {
  if (index.config.splitting) return now - index.updatedAt > STALLED_SPLIT_MS
  const limit = index.config.maxShardDocuments
  return (
    limit !== undefined && documents.some((count) => count > limit) && index.config.shards * 2 <= MAX_SHARDS
  )
}

/**
 * `GET /v1/databases/{db}/shards`: per shard its node, size and rows per table (read from the
 * shard), the read and write statements this isolate's router sent it in the last minute,
 * its hottest partition keys (partitions/traffic.ts) and its replicas' lag behind it (each
 * shard of a partitioned database is its own replication group). Cost: one stats read per shard.
 */
import type { Env } from '../platform/env'
import { databaseStats } from './admin'
import { getDatabase } from './catalog'
import { RESERVED_PREFIX } from './changelog'
import { routerTraffic } from './partitioned-hrana'
import { listReplicas } from './replicas'

type Copy = { id: string; node: string; lagMs: number; lagChanges: number; state: string; shard: number }

export const TRAFFIC_WINDOW_SECONDS = 60
const HOTTEST = 10

export async function shardAnalysis(env: Env, tenant: string, name: string, now = Date.now()) {
  const db = await getDatabase(env, tenant, name)
  const shards = db.partitions?.shards ?? [db]
  const listed = (await listReplicas(env, tenant, name)).items as Array<
    Omit<Copy, 'shard'> & { shards?: Copy[] }
  >
  // Each shard's own copies (a partitioned database's replica is a copy of every shard).
  const replicasOf = (index: number) =>
    listed
      .flatMap((r): Copy[] => r.shards ?? [{ ...r, shard: 0 }])
      .filter((copy) => copy.shard === index)
      .map((copy) => ({
        id: copy.id,
        node: copy.node,
        lagMs: copy.lagMs,
        lagChanges: copy.lagChanges,
        state: copy.state,
      }))
  const rate = (count: number) => ({ count, perSecond: count / TRAFFIC_WINDOW_SECONDS })
  return {
    shards: await Promise.all(
      shards.map(async (shard, index) => {
        const stats = await databaseStats(shard)
        const traffic = routerTraffic.peek(shard.namespace)
        return {
          shard: index,
          node: shard.node.id,
          sizeBytes: stats.sizeBytes,
          tables: stats.tables.filter((table) => !table.name.startsWith(RESERVED_PREFIX)),
          reads: rate(traffic?.reads.total(now) ?? 0),
          writes: rate(traffic?.writes.total(now) ?? 0),
          hottestKeys: (traffic?.keys.top(HOTTEST) ?? []).map((hitter) => {
            const [table, key] = JSON.parse(hitter.key) as [string, unknown]
            return { table, key, count: hitter.count, error: hitter.error }
          }),
          replicas: replicasOf(index),
        }
      }),
    ),
    mapVersion: db.partitions?.version ?? 1,
    windowSeconds: TRAFFIC_WINDOW_SECONDS,
  }
}

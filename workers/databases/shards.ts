/**
 * `GET /v1/databases/{db}/shards`: per shard its node, size and rows per table (read from the
 * shard), the read and write statements this isolate's router sent it in the last minute,
 * its hottest partition keys (partitions/traffic.ts) and, for an unpartitioned database, its
 * replicas' lag. Cost: one stats read per shard.
 */
import type { Env } from '../platform/env'
import { databaseStats } from './admin'
import { getDatabase } from './catalog'
import { RESERVED_PREFIX } from './changelog'
import { routerTraffic } from './partitioned-hrana'
import { listReplicas } from './replicas'

export const TRAFFIC_WINDOW_SECONDS = 60
const HOTTEST = 10

export async function shardAnalysis(env: Env, tenant: string, name: string, now = Date.now()) {
  const db = await getDatabase(env, tenant, name)
  const shards = db.partitions?.shards ?? [db]
  const replicas = db.partitions ? [] : (await listReplicas(env, tenant, name)).items
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
          replicas: index === 0 ? replicas.map((r) => ({ id: r.id, node: r.node, lagMs: r.lagMs })) : [],
        }
      }),
    ),
    mapVersion: db.partitions?.version ?? 1,
    windowSeconds: TRAFFIC_WINDOW_SECONDS,
  }
}

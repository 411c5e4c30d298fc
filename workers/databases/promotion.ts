/**
 * The storage-node side of a failover (rules in failover.ts): promoting a replica, fencing
 * the old primary, seeding fresh replicas from a checkpoint of the new primary, and moving
 * the catalog entry. Each step is idempotent or guarded, so a promotion cut short is
 * completed by the next one. Cost: a full copy (checkpoint) per rebuilt replica.
 */
import type { Env } from '../platform/env'
import { getResource, updateResource } from '../platform/registry'
import { captureSchema } from './capture'
import {
  DATABASE_KIND,
  type DatabaseConfig,
  dropAll,
  forgetDatabase,
  namespaceClient,
  nodeById,
  type ReplicaConfig,
} from './catalog'
import { REPLICA_TABLE, seedReplicaStatements } from './changelog'
import { deposeStatements, promoteStatements } from './failover'

export interface Copy {
  node: string
  namespace: string
}

function client(env: Env, copy: Copy) {
  return namespaceClient(nodeById(env, copy.node), copy.namespace)
}

/** A replica's own applied position and readiness (undefined: it did not answer). */
export async function replicaPosition(
  env: Env,
  copy: Copy,
): Promise<{ position: number; ready: number } | undefined> {
  try {
    const result = await client(env, copy).execute(
      `SELECT position, ready FROM ${REPLICA_TABLE} WHERE id = 1`,
    )
    const row = result.rows[0]
    return row ? { position: Number(row.position), ready: Number(row.ready) } : undefined
  } catch {
    return undefined
  }
}

/** Fences a deposed primary; false when it did not answer. */
export async function depose(env: Env, copy: Copy, epoch: number): Promise<boolean> {
  try {
    await client(env, copy).batch(deposeStatements(epoch), 'write')
    return true
  } catch {
    return false
  }
}

/**
 * Makes `copy` (a replica at `position`) the primary of `epoch` and logs a checkpoint of it:
 * a replica seeded at `start` replays to its exact state at `end`.
 */
export async function promote(env: Env, copy: Copy, epoch: number, position: number) {
  const target = client(env, copy)
  await target.batch(promoteStatements(epoch, position), 'write')
  return captureSchema(target, 'checkpoint')
}

/** A fresh namespace on `node` that will replay the new primary's log from `start` (ready at `end`). */
export async function seedReplica(env: Env, node: string, start: number, end: number, now: number) {
  const namespace = `r${crypto.randomUUID().replaceAll('-', '')}`
  await client(env, { node, namespace }).batch(seedReplicaStatements(start, end, now), 'write')
  return namespace
}

/** Drops an abandoned copy's tables (best effort: it may be down). */
export async function discard(env: Env, copy: Copy): Promise<void> {
  await dropAll(client(env, copy)).catch(() => undefined)
}

/**
 * Points the catalog at the new primary and replicas (compare-and-set, retried): the
 * database's, or shard `shard`'s of a partitioned database (shard 0 is also the entry's own).
 */
export async function publish(
  env: Env,
  tenant: string,
  name: string,
  primary: Copy,
  replicas: ReplicaConfig[],
  shard?: number,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
    const partitioning = resource.config.partitioning
    const place = shard === undefined ? undefined : partitioning?.shards[shard]
    if (shard !== undefined && !place) return
    const created = new Map(((place ?? resource.config).replicas ?? []).map((r) => [r.id, r.createdAt]))
    const listed = replicas.map((r) => ({
      id: r.id,
      node: r.node,
      namespace: r.namespace,
      delayMs: r.delayMs,
      createdAt: created.get(r.id) ?? r.createdAt,
      ...(r.synchronous ? { synchronous: true } : {}),
    }))
    const moved = { node: primary.node, namespace: primary.namespace }
    const config: DatabaseConfig =
      shard === undefined || !partitioning
        ? { ...resource.config, ...moved, replicas: listed }
        : {
            ...resource.config,
            ...(shard === 0 ? moved : {}),
            partitioning: {
              ...partitioning,
              shards: partitioning.shards.map((s, i) =>
                i === shard ? { ...s, ...moved, replicas: listed } : s,
              ),
            },
          }
    try {
      await updateResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name, config, {
        ifVersion: resource.version,
      })
      forgetDatabase(tenant, name)
      return
    } catch (error) {
      if (attempt >= 4) throw error
    }
  }
}

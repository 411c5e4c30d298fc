/**
 * Read replicas of a partitioned database, the textbook way: every shard is its own
 * replication group. A replica (one id) is a copy of every shard: shard i's copy is a
 * namespace on a storage node other than shard i's primary (the first node of the ring's
 * preference list for `<tenant>/<name>#<i>` that holds no copy of that shard yet; an explicit
 * `node` holds every shard's copy and is refused when it holds one of them already), kept in
 * step by shard i's own replicator (`<name>#<i>`, replicator.ts, unchanged). Creation is all
 * or nothing: a copy that cannot be started undoes the ones started before it, and the
 * registry entry changes once, by compare-and-set, with every shard's copy.
 *
 * A synchronous replica makes every shard fail over on its own (failover.ts, per shard: its
 * own epoch, fencing and acknowledgements; `fenceShards` routes a request's writes).
 * Resharding while replicas exist is refused (`assertNoShardReplicas`). Cost: one
 * checkpoint per shard; with synchronous replicas, one replicator call per shard per request.
 */
import type { CreateReplicaInput } from '../../schemas/databases'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { ConsistentHashRing } from '../platform/hashing'
import { type Resource, updateResource } from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import {
  DATABASE_KIND,
  type Database,
  type DatabaseConfig,
  dropAll,
  forgetDatabase,
  namespaceClient,
  nodeById,
  type ReplicaConfig,
} from './catalog'
import {
  checkNodeExists,
  checkReplicaInput,
  newReplicaConfig,
  replicaView,
  startCopy,
} from './replica-copies'
import { type ReplicaStatus, replicatorStub } from './replicator'
import { reshardStub } from './reshard-job'

type Partitioning = NonNullable<DatabaseConfig['partitioning']>
type ShardView = ReturnType<typeof replicaView> & { shard: number }

/** The replicas of each shard (index = shard). */
function shardReplicas(partitioning: Partitioning): ReplicaConfig[][] {
  return partitioning.shards.map((shard) => shard.replicas ?? [])
}

/** One view per replica id: sums and worst cases over its shard copies, and each copy in `shards`. */
function setView(copies: ShardView[]) {
  const first = copies[0] as ShardView
  const max = (pick: (v: ShardView) => number | null) =>
    copies.some((c) => pick(c) === null) ? null : Math.max(...copies.map((c) => pick(c) ?? 0))
  return {
    id: first.id,
    node: first.node,
    delaySeconds: first.delaySeconds,
    synchronous: first.synchronous,
    createdAt: first.createdAt,
    state: copies.every((c) => c.state === 'ready') ? ('ready' as const) : ('catching-up' as const),
    position: copies.reduce((sum, c) => sum + c.position, 0),
    primaryPosition: copies.reduce((sum, c) => sum + c.primaryPosition, 0),
    lagChanges: copies.reduce((sum, c) => sum + c.lagChanges, 0),
    lagMs: Math.max(...copies.map((c) => c.lagMs)),
    lagP50Ms: max((c) => c.lagP50Ms),
    lagP99Ms: max((c) => c.lagP99Ms),
    error: copies.find((c) => c.error !== null)?.error ?? null,
    shards: copies,
  }
}

/** Refuses (409) while a resharding job runs on the database. */
async function assertNoJob(env: Env, tenant: string, name: string, partitioning: Partitioning) {
  if (partitioning.job === undefined) return
  const running = await reshardStub(env, tenant, name, partitioning.job).status()
  if (running && running.phase !== 'done')
    throw new AppError(
      'conflict',
      `The resharding job ${partitioning.job} is moving rows; add replicas after it.`,
    )
}

/**
 * Refuses (409) to reshard a database whose shards have replicas. Called by `startReshard` on
 * the registry entry its compare-and-set then writes, so a replica added meanwhile makes the
 * job's admission fail instead of slipping past the check.
 */
export function assertNoShardReplicas(partitioning: Partitioning): void {
  if (shardReplicas(partitioning).some((list) => list.length > 0))
    throw new AppError(
      'conflict',
      'The shards of this database have read replicas: remove replicas first (DELETE …/replicas/{id}), then reshard.',
    )
}

/** Shard `shard`'s replica node: `wanted`, or the ring's first node holding no copy of the shard. */
function chooseShardNode(
  env: Env,
  key: string,
  shard: number,
  used: Set<string>,
  wanted: string | undefined,
): string {
  if (wanted !== undefined) {
    if (used.has(wanted))
      throw new AppError('conflict', `The storage node "${wanted}" already holds a copy of shard ${shard}.`)
    return wanted
  }
  const nodes = storageNodes(env).map((node) => node.id)
  const node = new ConsistentHashRing(nodes).preferenceList(key, nodes.length).find((id) => !used.has(id))
  if (!node) throw new AppError('conflict', `Every storage node already holds a copy of shard ${shard}.`)
  return node
}

export async function createShardReplicas(
  env: Env,
  tenant: string,
  resource: Resource<DatabaseConfig>,
  input: CreateReplicaInput,
) {
  const name = resource.name
  const partitioning = resource.config.partitioning as Partitioning
  const lists = shardReplicas(partitioning)
  checkReplicaInput(input, lists[0]?.length ?? 0)
  if (input.node !== undefined) checkNodeExists(env, input.node)
  await assertNoJob(env, tenant, name, partitioning)
  const id = `r-${crypto.randomUUID().slice(0, 8)}`
  const now = Date.now()
  const copies = partitioning.shards.map((shard, i) => {
    const used = new Set([shard.node, ...(lists[i] ?? []).map((r) => r.node)])
    return newReplicaConfig(
      input,
      chooseShardNode(env, `${tenant}/${name}#${i}`, i, used, input.node),
      id,
      now,
    )
  })
  const started: number[] = []
  const undo = async () => {
    for (const i of started) {
      await replicatorStub(env, tenant, name, i).detach(id)
      const copy = copies[i] as ReplicaConfig
      await dropAll(namespaceClient(nodeById(env, copy.node), copy.namespace)).catch(() => undefined)
    }
  }
  const shards = partitioning.shards.map((shard, i) => ({
    ...shard,
    replicas: [...(lists[i] ?? []), copies[i] as ReplicaConfig],
  }))
  const config = { ...resource.config, partitioning: { ...partitioning, shards } }
  try {
    for (const [i, shard] of partitioning.shards.entries()) {
      await startCopy(env, {
        primary: { node: shard.node, namespace: shard.namespace },
        replica: copies[i] as ReplicaConfig,
        synchronous: input.synchronous,
        replicator: replicatorStub(env, tenant, name, i),
        database: { tenant, name, shard: i },
      })
      started.push(i)
    }
    await updateResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name, config, {
      ifVersion: resource.version,
    })
  } catch (error) {
    await undo()
    throw error
  }
  forgetDatabase(tenant, name)
  const list = await listShardReplicas(env, tenant, { ...resource, config })
  return (
    list.items.find((item) => item.id === id) ??
    setView(copies.map((copy, shard) => ({ ...replicaView(copy, undefined), shard })))
  )
}

export async function listShardReplicas(env: Env, tenant: string, resource: Resource<DatabaseConfig>) {
  const partitioning = resource.config.partitioning as Partitioning
  const current = shardReplicas(partitioning)
  const statuses: ReplicaStatus[][] = await Promise.all(
    current.map((list, i) =>
      list.length ? replicatorStub(env, tenant, resource.name, i).status() : Promise.resolve([]),
    ),
  )
  const byId = new Map<string, ShardView[]>()
  for (const [shard, list] of current.entries())
    for (const replica of list) {
      const view = {
        ...replicaView(
          replica,
          statuses[shard]?.find((s) => s.id === replica.id),
        ),
        shard,
      }
      byId.set(replica.id, [...(byId.get(replica.id) ?? []), view])
    }
  return { items: [...byId.values()].map(setView) }
}

export async function deleteShardReplica(
  env: Env,
  tenant: string,
  resource: Resource<DatabaseConfig>,
  id: string,
): Promise<void> {
  const partitioning = resource.config.partitioning as Partitioning
  const lists = shardReplicas(partitioning)
  if (!lists.some((list) => list.some((r) => r.id === id)))
    throw new AppError('not_found', `No replica "${id}" of database "${resource.name}".`)
  const shards = partitioning.shards.map((shard, i) => ({
    ...shard,
    replicas: (lists[i] ?? []).filter((r) => r.id !== id),
  }))
  await updateResource<DatabaseConfig>(
    env,
    tenant,
    DATABASE_KIND,
    resource.name,
    { ...resource.config, partitioning: { ...partitioning, shards } },
    { ifVersion: resource.version },
  )
  forgetDatabase(tenant, resource.name)
  for (const [i, list] of lists.entries()) {
    const copy = list.find((r) => r.id === id)
    if (!copy) continue
    await replicatorStub(env, tenant, resource.name, i).detach(id)
    await dropAll(namespaceClient(nodeById(env, copy.node), copy.namespace)).catch(() => undefined)
  }
}

/** A shard's write fence: the epoch its writes are routed under, and their acknowledgement. */
export interface ShardFence {
  epoch: number
  acknowledge(position: number): Promise<void>
}

/**
 * Shards with a synchronous replica: their primary and epoch as their replicator has them
 * (a failover may have moved them since the catalog was read) and their acknowledgement.
 */
export async function fenceShards(
  env: Env,
  db: Database,
): Promise<{ db: Database; fences: Record<number, ShardFence> }> {
  const partitions = db.partitions
  const fences: Record<number, ShardFence> = {}
  if (!partitions?.shards.some((shard) => shard.replicas.some((r) => r.synchronous))) return { db, fences }
  const shards = await Promise.all(
    partitions.shards.map(async (shard, i) => {
      if (!shard.replicas.some((r) => r.synchronous)) return shard
      const replicator = replicatorStub(env, db.tenant, db.name, i)
      const route = await replicator.route()
      fences[i] = {
        epoch: route.epoch,
        acknowledge: (position) => replicator.acknowledge(route.epoch, position),
      }
      return { ...shard, node: nodeById(env, route.primary.node), namespace: route.primary.namespace }
    }),
  )
  // Shard 0 is also the database's own copy (read-only checks, batons).
  const home = shards[0] as Database
  return {
    db: { ...db, node: home.node, namespace: home.namespace, partitions: { ...partitions, shards } },
    fences,
  }
}

/**
 * `POST …/failover` of a partitioned database: shard `shard` switches over now (as a
 * database's failover does), or, without it, each shard with a synchronous replica whose
 * primary does not answer fails over. 409 when no shard was failed over.
 */
export async function failoverShards(env: Env, db: Database, shard: number | undefined) {
  const count = db.partitions?.shards.length ?? 0
  if (shard !== undefined) {
    if (shard >= count)
      throw new AppError('validation_failed', `The database has ${count} shards.`, {
        errors: [{ path: 'body/shard', message: `At most ${count - 1}` }],
      })
    return { shards: [{ shard, ...(await replicatorStub(env, db.tenant, db.name, shard).failover()) }] }
  }
  const done: Array<{ shard: number; epoch: number; node: string; position: number }> = []
  for (let i = 0; i < count; i++) {
    if (!db.partitions?.shards[i]?.replicas.some((r) => r.synchronous)) continue
    const result = await replicatorStub(env, db.tenant, db.name, i).failoverIfLost()
    if (result) done.push({ shard: i, ...result })
  }
  if (done.length === 0)
    throw new AppError(
      'conflict',
      'No shard with a synchronous replica has lost its primary; name one to switch over ({"shard": i}).',
    )
  return { shards: done }
}

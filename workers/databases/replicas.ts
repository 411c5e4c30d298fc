/**
 * Read replicas of a database: create, list, delete. A replica is a namespace on another
 * storage node; creating one takes a checkpoint of the primary into the change log (capture
 * turned on if it was off, then every schema object and row logged, capture.ts), writes the
 * replica's starting position into its namespace, and hands it to the database's replicator,
 * which replays the log into it. It is read (`state: ready`) once it has applied the
 * checkpoint. The replica list lives in the database's registry entry (compare-and-set).
 * A partitioned database's replica is a copy of every shard, each shard its own replication
 * group (shard-replicas.ts).
 */
import { type CreateReplicaInput, MAX_REPLICAS } from '../../schemas/databases'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { ConsistentHashRing } from '../platform/hashing'
import { getResource, type Resource, updateResource } from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import { captureSchema } from './capture'
import {
  backendClient,
  DATABASE_KIND,
  type DatabaseConfig,
  dropAll,
  forgetDatabase,
  namespaceClient,
  nodeById,
  type ReplicaConfig,
} from './catalog'
import { seedReplicaStatements } from './changelog'
import { primaryStatements } from './failover'
import { type ReplicaStatus, replicatorStub } from './replicator'
import { createShardReplicas, deleteShardReplica, listShardReplicas } from './shard-replicas'

export function replicaView(replica: ReplicaConfig, status: ReplicaStatus | undefined) {
  const position = status?.position ?? 0
  return {
    id: replica.id,
    node: replica.node,
    delaySeconds: replica.delayMs / 1000,
    synchronous: replica.synchronous === true,
    createdAt: replica.createdAt,
    state: status && position >= status.ready ? ('ready' as const) : ('catching-up' as const),
    position,
    primaryPosition: status?.primaryPosition ?? 0,
    lagChanges: status?.lagChanges ?? 0,
    lagMs: status?.lagMs ?? 0,
    lagP50Ms: status?.lagP50Ms ?? null,
    lagP99Ms: status?.lagP99Ms ?? null,
    error: status?.error ?? null,
  }
}

/** A 400 unless `node` is a configured storage node. */
export function checkNodeExists(env: Env, node: string): void {
  if (!storageNodes(env).some((candidate) => candidate.id === node)) {
    throw new AppError('validation_failed', `No storage node "${node}".`, {
      errors: [{ path: 'body/node', message: 'Not a configured storage node' }],
    })
  }
}

function chooseNode(env: Env, resource: Resource<DatabaseConfig>, tenant: string, wanted?: string): string {
  const used = new Set([resource.config.node, ...(resource.config.replicas ?? []).map((r) => r.node)])
  if (wanted !== undefined) {
    checkNodeExists(env, wanted)
    if (used.has(wanted)) {
      throw new AppError('conflict', `The storage node "${wanted}" already holds a copy of this database.`)
    }
    return wanted
  }
  const nodes = storageNodes(env).map((node) => node.id)
  const ring = new ConsistentHashRing(nodes)
  const node = ring.preferenceList(`${tenant}/${resource.name}`, nodes.length).find((id) => !used.has(id))
  if (!node) throw new AppError('conflict', 'Every storage node already holds a copy of this database.')
  return node
}

/** A copy of `primary` to start: seeded from a checkpoint, then handed to the replicator. */
export interface NewCopy {
  primary: { node: string; namespace: string }
  replica: ReplicaConfig
  synchronous: boolean
  /** The replicator (the database's, or its shard's) and what it replicates. */
  replicator: ReturnType<typeof replicatorStub>
  database: { tenant: string; name: string; shard?: number }
}

/** Checkpoints the primary, seeds the replica's namespace and attaches it to the replicator. */
export async function startCopy(env: Env, copy: NewCopy): Promise<void> {
  const { primary, replica } = copy
  const unreachable = (error: unknown, which: string) =>
    new AppError('bad_gateway', `The storage node "${which}" did not answer: ${String(error).slice(0, 200)}`)
  const source = { node: nodeById(env, primary.node), namespace: primary.namespace }
  const checkpoint = await captureSchema(backendClient(source), 'checkpoint').catch((error: unknown) => {
    throw unreachable(error, primary.node)
  })
  await namespaceClient(nodeById(env, replica.node), replica.namespace)
    .batch(seedReplicaStatements(checkpoint.start, checkpoint.end, replica.createdAt), 'write')
    .catch((error: unknown) => {
      throw unreachable(error, replica.node)
    })
  await copy.replicator.attach(
    primary,
    {
      id: replica.id,
      node: replica.node,
      namespace: replica.namespace,
      delayMs: replica.delayMs,
      synchronous: copy.synchronous,
    },
    checkpoint.start,
    checkpoint.end,
    copy.database,
  )
  if (copy.synchronous) {
    // Failover on: the primary's copy holds its epoch and refuses writes once deposed (failover.ts).
    const { epoch } = await copy.replicator.route()
    await backendClient(source).batch(primaryStatements(epoch), 'write')
  }
}

/** A new replica's configuration on `node` (its id shared by every shard's copy of a partitioned database). */
export function newReplicaConfig(
  input: CreateReplicaInput,
  node: string,
  id: string,
  now: number,
): ReplicaConfig {
  return {
    id,
    node,
    namespace: `r${crypto.randomUUID().replaceAll('-', '')}`,
    delayMs: input.delaySeconds * 1000,
    createdAt: now,
    ...(input.synchronous ? { synchronous: true } : {}),
  }
}

export function checkReplicaInput(input: CreateReplicaInput, existing: number): void {
  if (existing >= MAX_REPLICAS) {
    throw new AppError('conflict', `A database has at most ${MAX_REPLICAS} replicas.`)
  }
  if (input.synchronous && input.delaySeconds > 0) {
    throw new AppError('validation_failed', 'A synchronous replica cannot be delayed.', {
      errors: [{ path: 'body/delaySeconds', message: 'Must be 0 for a synchronous replica' }],
    })
  }
}

export async function createReplica(env: Env, tenant: string, name: string, input: CreateReplicaInput) {
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  if (resource.config.partitioning) return createShardReplicas(env, tenant, resource, input)
  const existing = resource.config.replicas ?? []
  checkReplicaInput(input, existing.length)
  const node = chooseNode(env, resource, tenant, input.node)
  const replica = newReplicaConfig(input, node, `r-${crypto.randomUUID().slice(0, 8)}`, Date.now())
  const replicator = replicatorStub(env, tenant, name)
  await startCopy(env, {
    primary: { node: resource.config.node, namespace: resource.config.namespace },
    replica,
    synchronous: input.synchronous,
    replicator,
    database: { tenant, name },
  })
  try {
    await updateResource<DatabaseConfig>(
      env,
      tenant,
      DATABASE_KIND,
      name,
      { ...resource.config, replicas: [...existing, replica] },
      { ifVersion: resource.version },
    )
  } catch (error) {
    await replicator.detach(replica.id)
    throw error
  }
  forgetDatabase(tenant, name)
  const status = (await replicator.status()).find((s) => s.id === replica.id)
  return replicaView(replica, status)
}

export async function listReplicas(env: Env, tenant: string, name: string) {
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  if (resource.config.partitioning) return listShardReplicas(env, tenant, resource)
  const replicas = resource.config.replicas ?? []
  const statuses = replicas.length ? await replicatorStub(env, tenant, name).status() : []
  return {
    items: replicas.map((r) =>
      replicaView(
        r,
        statuses.find((s) => s.id === r.id),
      ),
    ),
  }
}

export async function getReplica(env: Env, tenant: string, name: string, id: string) {
  const list = await listReplicas(env, tenant, name)
  const found = list.items.find((r) => r.id === id)
  if (!found) throw new AppError('not_found', `No replica "${id}" of database "${name}".`)
  return found
}

export async function deleteReplica(env: Env, tenant: string, name: string, id: string): Promise<void> {
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  if (resource.config.partitioning) return deleteShardReplica(env, tenant, resource, id)
  const replicas = resource.config.replicas ?? []
  const replica = replicas.find((r) => r.id === id)
  if (!replica) throw new AppError('not_found', `No replica "${id}" of database "${name}".`)
  await updateResource<DatabaseConfig>(
    env,
    tenant,
    DATABASE_KIND,
    name,
    { ...resource.config, replicas: replicas.filter((r) => r.id !== id) },
    { ifVersion: resource.version },
  )
  forgetDatabase(tenant, name)
  await replicatorStub(env, tenant, name).detach(id)
  await dropAll(namespaceClient(nodeById(env, replica.node), replica.namespace)).catch(() => undefined)
}

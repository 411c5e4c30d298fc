/**
 * Read replicas of a database: create, list, delete. A replica is a namespace on another
 * storage node; creating one takes a checkpoint of the primary into the change log (capture
 * turned on if it was off, then every schema object and row logged, capture.ts), writes the
 * replica's starting position into its namespace, and hands it to the database's replicator,
 * which replays the log into it. It is read (`state: ready`) once it has applied the
 * checkpoint. The replica list lives in the database's registry entry (compare-and-set).
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

function replicaView(replica: ReplicaConfig, status: ReplicaStatus | undefined) {
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

function chooseNode(env: Env, resource: Resource<DatabaseConfig>, tenant: string, wanted?: string): string {
  const used = new Set([resource.config.node, ...(resource.config.replicas ?? []).map((r) => r.node)])
  if (wanted !== undefined) {
    if (!storageNodes(env).some((node) => node.id === wanted)) {
      throw new AppError('validation_failed', `No storage node "${wanted}".`, {
        errors: [{ path: 'body/node', message: 'Not a configured storage node' }],
      })
    }
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

export async function createReplica(env: Env, tenant: string, name: string, input: CreateReplicaInput) {
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  if (resource.config.partitioning)
    throw new AppError('conflict', 'Partitioned databases do not have read replicas yet.')
  const existing = resource.config.replicas ?? []
  if (existing.length >= MAX_REPLICAS) {
    throw new AppError('conflict', `A database has at most ${MAX_REPLICAS} replicas.`)
  }
  if (input.synchronous && input.delaySeconds > 0) {
    throw new AppError('validation_failed', 'A synchronous replica cannot be delayed.', {
      errors: [{ path: 'body/delaySeconds', message: 'Must be 0 for a synchronous replica' }],
    })
  }
  const node = chooseNode(env, resource, tenant, input.node)
  const now = Date.now()
  const replica: ReplicaConfig = {
    id: `r-${crypto.randomUUID().slice(0, 8)}`,
    node,
    namespace: `r${crypto.randomUUID().replaceAll('-', '')}`,
    delayMs: input.delaySeconds * 1000,
    createdAt: now,
    ...(input.synchronous ? { synchronous: true } : {}),
  }
  const primary = { node: nodeById(env, resource.config.node), namespace: resource.config.namespace }
  const unreachable = (error: unknown, which: string) =>
    new AppError('bad_gateway', `The storage node "${which}" did not answer: ${String(error).slice(0, 200)}`)
  const checkpoint = await captureSchema(backendClient(primary), 'checkpoint').catch((error: unknown) => {
    throw unreachable(error, resource.config.node)
  })
  await namespaceClient(nodeById(env, node), replica.namespace)
    .batch(seedReplicaStatements(checkpoint.start, checkpoint.end, now), 'write')
    .catch((error: unknown) => {
      throw unreachable(error, node)
    })
  const replicator = replicatorStub(env, tenant, name)
  await replicator.attach(
    { node: resource.config.node, namespace: resource.config.namespace },
    {
      id: replica.id,
      node,
      namespace: replica.namespace,
      delayMs: replica.delayMs,
      synchronous: input.synchronous,
    },
    checkpoint.start,
    checkpoint.end,
    { tenant, name },
  )
  if (input.synchronous) {
    // Failover on: the primary's copy holds its epoch and refuses writes once deposed (failover.ts).
    const { epoch } = await replicator.route()
    await backendClient(primary).batch(primaryStatements(epoch), 'write')
  }
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

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
import type { CreateReplicaInput } from '../../schemas/databases'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { ConsistentHashRing } from '../platform/hashing'
import { getResource, type Resource, updateResource } from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import {
  DATABASE_KIND,
  type DatabaseConfig,
  dropAll,
  forgetDatabase,
  namespaceClient,
  nodeById,
} from './catalog'
import {
  checkNodeExists,
  checkReplicaInput,
  newReplicaConfig,
  replicaView,
  startCopy,
} from './replica-copies'
import { replicatorStub } from './replicator'
import { createShardReplicas, deleteShardReplica, listShardReplicas } from './shard-replicas'

/** The node for a new copy: `wanted`, or the first node of the ring's preference list holding no copy yet. */
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

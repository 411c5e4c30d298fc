/**
 * The databases' catalog: a registry row per tenant and name (kind `database`) naming the
 * storage node that holds it and its namespace there (`/db/<namespace>/` on the node). The
 * node is chosen by the consistent-hash ring of the storage nodes over `<tenant>/<name>`; the
 * namespace carries a random incarnation, so a database deleted and created again never sees
 * the old data. Entries are cached per isolate for a few seconds (deletes are visible to
 * other isolates after at most `CATALOG_CACHE_MS`).
 */
import type { Client, IntMode } from '@libsql/client/web'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { ConsistentHashRing } from '../platform/hashing'
import { IsolateCache } from '../platform/isolate-cache'
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  type Resource,
} from '../platform/registry'
import { nodeClient, type StorageNode, storageNodes } from '../platform/storage-nodes'
import { quoteIdentifier } from './changelog'
import { newScheme, type PartitionScheme, schemeProblem } from './partitions/scheme'

export { quoteIdentifier }

export const DATABASE_KIND = 'database'
export const CATALOG_CACHE_MS = 5_000
/** Every request to a storage node is aborted after this long. */
export const NODE_TIMEOUT_MS = 10_000

/** A read replica: another storage node's namespace kept in step by the database's replicator. */
export interface ReplicaConfig {
  id: string
  node: string
  namespace: string
  /** A deliberately delayed replica applies a change only once it is this old. */
  delayMs: number
  createdAt: number
  /** A synchronous replica: writes are acknowledged once one of these applied them (failover.ts). */
  synchronous?: boolean
}

export interface DatabaseConfig {
  node: string
  namespace: string
  /** A partitioned database: its scheme and one shard database per shard (shard 0 is the one above). */
  partitioning?: {
    scheme: PartitionScheme
    shards: Array<{ node: string; namespace: string; replicas?: ReplicaConfig[] }>
    /** The partition map's version (1 when absent), bumped by each resharding cutover. */
    version?: number
    /** The resharding job under way, if any (one at a time). */
    job?: string
  }
  replicas?: ReplicaConfig[]
}

export interface Replica extends ReplicaConfig {
  storage: StorageNode
}

export interface Database {
  tenant: string
  name: string
  node: StorageNode
  namespace: string
  partitions?: { scheme: PartitionScheme; shards: Database[]; version?: number; job?: string }
  replicas: Replica[]
}

const cache = new IsolateCache<Database>(CATALOG_CACHE_MS)

export function databaseView(resource: Resource<DatabaseConfig>) {
  return {
    name: resource.name,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    node: resource.config.node,
    url: `/v1/databases/${resource.name}/`,
    ...(resource.config.partitioning
      ? {
          partitioning: {
            shards: resource.config.partitioning.scheme.shards,
            tables: resource.config.partitioning.scheme.tables,
            nodes: resource.config.partitioning.shards.map((shard) => shard.node),
          },
        }
      : {}),
  }
}

export function nodeById(env: Env, id: string): StorageNode {
  const node = storageNodes(env).find((candidate) => candidate.id === id)
  if (!node) throw new AppError('unavailable', `The storage node "${id}" is not configured.`)
  return node
}

/**
 * Creates a database; with `scheme`, a partitioned one whose shard i lives on the node the
 * ring gives `<tenant>/<name>#i` (shards spread over the nodes; shard 0 is the home shard).
 */
export async function createDatabase(env: Env, tenant: string, name: string, scheme?: PartitionScheme) {
  const ring = new ConsistentHashRing(storageNodes(env).map((node) => node.id))
  const place = (key: string) => {
    const node = ring.nodeFor(key)
    if (!node) throw new AppError('unavailable', 'No storage nodes are configured.')
    return { node, namespace: `d${crypto.randomUUID().replaceAll('-', '')}` }
  }
  let config: DatabaseConfig = place(`${tenant}/${name}`)
  if (scheme !== undefined) {
    const problem = schemeProblem(scheme)
    if (problem) throw new AppError('validation_failed', `partitioning: ${problem}`)
    const shards = [
      config,
      ...Array.from({ length: scheme.shards - 1 }, (_, i) => place(`${tenant}/${name}#${i + 1}`)),
    ]
    config = { ...config, partitioning: { scheme: newScheme(scheme), shards } }
  }
  return databaseView(await createResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name, config))
}

export async function getDatabase(env: Env, tenant: string, name: string): Promise<Database> {
  const key = `${tenant}\n${name}`
  const cached = cache.lookup(key)
  if (cached) return cached.value
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  const { partitioning } = resource.config
  const at = (placement: { node: string; namespace: string; replicas?: ReplicaConfig[] }): Database => ({
    tenant,
    name,
    node: nodeById(env, placement.node),
    namespace: placement.namespace,
    replicas: (placement.replicas ?? []).map((replica) => ({
      ...replica,
      storage: nodeById(env, replica.node),
    })),
  })
  return cache.set(key, {
    ...at(resource.config),
    ...(partitioning
      ? {
          partitions: {
            scheme: partitioning.scheme,
            shards: partitioning.shards.map(at),
            version: partitioning.version ?? 1,
            ...(partitioning.job !== undefined ? { job: partitioning.job } : {}),
          },
        }
      : {}),
  })
}

/** Drops the isolate's cached entry (after this isolate changed the database's replicas). */
export function forgetDatabase(tenant: string, name: string): void {
  cache.delete(`${tenant}\n${name}`)
}

export async function databaseResource(env: Env, tenant: string, name: string) {
  return databaseView(await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name))
}

export async function listDatabases(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources<DatabaseConfig>(env, tenant, DATABASE_KIND, page)
  return {
    items: result.items.map(databaseView),
    ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
  }
}

/** A namespace's URL on a storage node (`http://node/db/<namespace>/`). */
export function namespaceUrl(node: StorageNode, namespace: string): string {
  return `${node.url.replace(/\/+$/, '')}/db/${namespace}/`
}

/** The database's URL on its storage node. */
export function backendUrl(db: Pick<Database, 'node' | 'namespace'>): string {
  return namespaceUrl(db.node, db.namespace)
}

/** A `@libsql/client` for a namespace on a node (platform-side operations). */
export function namespaceClient(node: StorageNode, namespace: string, intMode: IntMode = 'number') {
  return nodeClient({ ...node, url: namespaceUrl(node, namespace) }, NODE_TIMEOUT_MS, intMode)
}

/** A `@libsql/client` for the database on its node (platform-side operations). */
export function backendClient(db: Pick<Database, 'node' | 'namespace'>) {
  return namespaceClient(db.node, db.namespace)
}

/**
 * Removes the catalog entry, then drops every schema object in the namespace (the node's
 * file stays, empty; the namespace is never reused).
 */
export async function deleteDatabase(env: Env, tenant: string, name: string): Promise<void> {
  cache.delete(`${tenant}\n${name}`)
  const db = await getDatabase(env, tenant, name)
  await deleteResource(env, tenant, DATABASE_KIND, name)
  cache.delete(`${tenant}\n${name}`)
  await Promise.all((db.partitions?.shards ?? [db]).map((shard) => dropAll(backendClient(shard))))
  for (const copy of [db, ...(db.partitions?.shards ?? [])])
    for (const replica of copy.replicas)
      await dropAll(namespaceClient(replica.storage, replica.namespace)).catch(() => undefined)
}

/** Drops every table and view of a namespace (the node's file stays; the namespace is never reused). */
export async function dropAll(client: Client): Promise<void> {
  const objects = await client.execute(
    "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'view') ORDER BY type DESC",
  )
  if (objects.rows.length === 0) return
  await client.batch(
    objects.rows.map(
      (row) =>
        `DROP ${row.type === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${quoteIdentifier(String(row.name))}`,
    ),
    'write',
  )
}

/**
 * Namespaces: a registry row per tenant and name (kind `kv-namespace`) holding N/R/W, the
 * conflict policy, TTL and size limits, and an incarnation id: the namespace's data on the
 * storage nodes lives under `<tenant>/<name>/<incarnation>`, so a namespace deleted and
 * created again never sees the old data. Cached per isolate for a few seconds.
 */
import type { CreateNamespaceInput } from '../../schemas/kv'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import { maintenanceStub } from './service'
import type { ConflictPolicy } from './versions'

export const KV_KIND = 'kv-namespace'
/** How long an isolate keeps a namespace's settings (and ring) before reading them again. */
export const NAMESPACE_CACHE_MS = 5_000

export interface NamespaceConfig {
  replicas: number
  readQuorum: number
  writeQuorum: number
  conflict: ConflictPolicy
  defaultTtlSeconds: number | null
  maxValueBytes: number
  tombstoneGraceSeconds: number
  incarnation: string
  /** The storage nodes of the namespace's ring (all nodes when it was created). */
  members: string[]
  /** During a rebalance: the ring being moved to (writes reach both). */
  next: string[] | null
}

export interface Namespace {
  tenant: string
  name: string
  /** Storage id on the nodes. */
  ns: string
  config: NamespaceConfig
}

const cache = new IsolateCache<Namespace>(NAMESPACE_CACHE_MS)

function storageId(tenant: string, name: string, config: NamespaceConfig): string {
  return `${tenant}/${name}/${config.incarnation}`
}

export function namespaceView(resource: Resource<NamespaceConfig>) {
  const { incarnation: _incarnation, members, next, ...settings } = resource.config
  return {
    name: resource.name,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    settings,
    ring: { members, next },
  }
}

export async function createNamespace(env: Env, tenant: string, name: string, input: CreateNamespaceInput) {
  const members = storageNodes(env).map((node) => node.id)
  const nodes = members.length
  if (input.replicas > nodes) {
    throw new AppError('validation_failed', `replicas (N) must be at most the ${nodes} storage nodes.`, {
      errors: [{ path: 'body/replicas', message: `At most ${nodes} (the storage nodes)` }],
    })
  }
  const config: NamespaceConfig = {
    ...input,
    incarnation: crypto.randomUUID().slice(0, 8),
    members,
    next: null,
  }
  const view = namespaceView(await createResource(env, tenant, KV_KIND, name, config))
  await maintenanceStub(env, tenant, name).schedule({
    tenant,
    name,
    ns: storageId(tenant, name, config),
    replicas: config.replicas,
    policy: config.conflict,
    graceMs: config.tombstoneGraceSeconds * 1000,
    members,
  })
  return view
}

export async function getNamespace(env: Env, tenant: string, name: string): Promise<Namespace> {
  const key = `${tenant}\n${name}`
  const cached = cache.lookup(key)
  if (cached) return cached.value
  const resource = await getResource<NamespaceConfig>(env, tenant, KV_KIND, name)
  return cache.set(key, {
    tenant,
    name,
    ns: storageId(tenant, name, resource.config),
    config: resource.config,
  })
}

export async function namespaceResource(env: Env, tenant: string, name: string) {
  return namespaceView(await getResource<NamespaceConfig>(env, tenant, KV_KIND, name))
}

export async function listNamespaces(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources<NamespaceConfig>(env, tenant, KV_KIND, page)
  return {
    items: result.items.map(namespaceView),
    ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
  }
}

/** Drops the isolate's cached copy (after its ring changed). */
export function forgetNamespace(tenant: string, name: string): void {
  cache.delete(`${tenant}\n${name}`)
}

export async function deleteNamespace(env: Env, tenant: string, name: string): Promise<void> {
  await deleteResource(env, tenant, KV_KIND, name)
  cache.delete(`${tenant}\n${name}`)
  await maintenanceStub(env, tenant, name).forget()
}

/** Records `members` as the namespace's next ring and starts the rebalance (rebalance.ts). */
export async function beginRebalance(env: Env, tenant: string, name: string, members: string[]) {
  const known = new Set(storageNodes(env).map((node) => node.id))
  const resource = await getResource<NamespaceConfig>(env, tenant, KV_KIND, name)
  const unknown = members.filter((member) => !known.has(member))
  const problems = [
    ...(unknown.length > 0 ? [`Unknown storage nodes: ${unknown.join(', ')}`] : []),
    ...(new Set(members).size !== members.length ? ['Members must be distinct'] : []),
    ...(members.length < resource.config.replicas
      ? [`At least ${resource.config.replicas} members (N)`]
      : []),
  ]
  if (problems.length > 0) {
    throw new AppError('validation_failed', problems.join('; '), {
      errors: problems.map((message) => ({ path: 'body/members', message })),
    })
  }
  if (resource.config.next)
    throw new AppError('conflict', 'A rebalance of this namespace is already under way.')
  const config = { ...resource.config, next: [...members].sort() }
  const updated = await updateResource(env, tenant, KV_KIND, name, config, { ifVersion: resource.version })
  forgetNamespace(tenant, name)
  await maintenanceStub(env, tenant, name).startRebalance({
    to: config.next,
    version: updated.version,
    config,
  })
  return namespaceView(updated)
}

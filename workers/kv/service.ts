/**
 * Wiring: the coordinator's ports from the Worker's env —
 * (one per env object), libSQL clients per node, the shared failure detector, and hints
 * recorded in each home node's hint object of the tenant.
 */
import type { Env } from '../platform/env'
import { failureDetector, nodeClient, type StorageNode, storageNodes } from '../platform/storage-nodes'
import { objectStub } from '../platform/tenancy'
import type { CoordinatorDeps, Hint, ReplicaPort } from './coordinator'
import { coordinateWrite, ensureSchema, readVersions, storeVersions } from './replica'

declare global {
  namespace Cloudflare {
    interface Env {
      /** Per-request timeout of one storage node call, in ms (default 2000). */
      KV_NODE_TIMEOUT_MS?: string
    }
  }
}

export const HINTS_KIND = 'kv-hints'
export const MAINTENANCE_KIND = 'kv-maintenance'
export const FEED_KIND = 'kv-feed'

export function nodeById(env: Env, id: string): StorageNode {
  const node = storageNodes(env).find((candidate) => candidate.id === id)
  if (!node) throw new Error(`Unknown storage node ${id}`)
  return node
}

export function timeoutMs(env: Env): number {
  const value = Number(env.KV_NODE_TIMEOUT_MS ?? 2000)
  return Number.isInteger(value) && value > 0 ? value : 2000
}

/** A connected client for a node, its tables created. */
export async function connect(env: Env, id: string) {
  const client = nodeClient(nodeById(env, id), timeoutMs(env))
  await ensureSchema(client, id)
  return client
}

export function replicaPort(env: Env, now: () => number = Date.now): ReplicaPort {
  return {
    read: async (node, ns, key) => readVersions(await connect(env, node), ns, key),
    store: async (node, ns, key, versions, policy) =>
      storeVersions(await connect(env, node), ns, key, versions, policy, now()),
    coordinate: async (node, ns, key, draft, contextCounter, policy) =>
      coordinateWrite(await connect(env, node), node, ns, key, draft, contextCounter, policy, now()),
  }
}

export function hintsStub(env: Env, tenant: string, home: string) {
  return objectStub(env.KV_HINTS, tenant, HINTS_KIND, home)
}

export function coordinatorDeps(
  env: Env,
  tenant: string,
  defer: (work: Promise<unknown>) => void,
  replicas: ReplicaPort = replicaPort(env),
): CoordinatorDeps {
  return {
    replicas,
    detector: failureDetector,
    defer,
    async recordHints(hints: Hint[]) {
      const byHome = new Map<string, Hint[]>()
      for (const hint of hints) byHome.set(hint.home, [...(byHome.get(hint.home) ?? []), hint])
      await Promise.all([...byHome].map(([home, list]) => hintsStub(env, tenant, home).add(home, list)))
    },
  }
}

export function maintenanceStub(env: Env, tenant: string, namespace: string) {
  return objectStub(env.KV_MAINTENANCE, tenant, MAINTENANCE_KIND, namespace)
}

export function feedStub(env: Env, tenant: string, namespace: string) {
  return objectStub(env.KV_FEEDS, tenant, FEED_KIND, namespace)
}

/**
 * Cache settings in the resource registry (kind `cache`), and the node client the routes
 * give the cluster. A name never configured is a cache with the default settings
 * (incarnation 0), so `curl … -d '["SET","k","v"]'` works at once; creating it with PUT
 * gives it a new incarnation and its nodes start empty. Isolates reuse settings for up to
 * CONFIG_CACHE_MS; PUT and DELETE forget them in the isolate that served them.
 */
import { CACHE_DEFAULTS } from '../../schemas/cache'
import type { Env } from '../platform/env'
import { IsolateCache } from '../platform/isolate-cache'
import { findResource, type Resource } from '../platform/registry'
import { objectStub } from '../platform/tenancy'
import type { NodeClient } from './cluster'
import type { Outcome } from './commands'
import type { EvictionPolicyName } from './eviction'
import type { NodeStats } from './keyspace'
import type { NodeConfig } from './object'
import type { BackingSettings } from './through'

export const CACHE_KIND = 'cache'
export const CONFIG_CACHE_MS = 5_000

export interface CacheConfig {
  nodes: number
  maxmemory: number
  policy: EvictionPolicyName
  persistent: boolean
  incarnation: number
  backing?: BackingSettings | undefined
}

export const DEFAULT_CONFIG: CacheConfig = { ...CACHE_DEFAULTS, incarnation: 0 }

const cache = new IsolateCache<CacheConfig>(CONFIG_CACHE_MS)

function cacheKey(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`
}

export function forgetConfig(tenant: string, name: string): void {
  cache.delete(cacheKey(tenant, name))
}

export async function configOf(env: Env, tenant: string, name: string): Promise<CacheConfig> {
  const cached = cache.lookup(cacheKey(tenant, name))
  if (cached) return cached.value
  const found = await findResource<CacheConfig>(env, tenant, CACHE_KIND, name)
  return cache.set(cacheKey(tenant, name), found?.config ?? DEFAULT_CONFIG)
}

export function viewOf(resource: Resource<CacheConfig>) {
  const { nodes, maxmemory, policy, persistent, backing } = resource.config
  return {
    name: resource.name,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    nodes,
    maxmemory,
    policy,
    persistent,
    // Credentials (auth tokens, header values) are never shown back.
    ...(backing
      ? {
          backing: {
            source: {
              kind: backing.source.kind,
              url: backing.source.url,
              ...(backing.source.kind === 'libsql' ? { table: backing.source.table } : {}),
            },
            readThrough: backing.readThrough,
            readTtlSeconds: backing.readTtlSeconds,
            write: backing.write,
          },
        }
      : {}),
  }
}

export function nodeConfig(config: CacheConfig, index: number): NodeConfig {
  const { incarnation, nodes, maxmemory, policy, persistent, backing } = config
  const writeBehind = backing?.write === 'behind' ? backing.source : undefined
  return { incarnation, nodes, index, maxmemory, policy, persistent, ...(writeBehind ? { writeBehind } : {}) }
}

/** Reaches the nodes of one tenant's cache; a failed call is retried once on a fresh stub. */
export function nodeClient(env: Env, tenant: string, name: string, config: CacheConfig): NodeClient {
  // The RPC stub's inferred type is too deep for the checker; this is its shape.
  const stub = (index: number) =>
    objectStub(env.CACHE_NODES, tenant, CACHE_KIND, name, index) as unknown as {
      run(config: NodeConfig, commands: string[][]): Promise<Outcome[]>
      stats(config: NodeConfig): Promise<NodeStats>
    }
  async function twice<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch {
      return call()
    }
  }
  return {
    run: (index, commands) => twice(() => stub(index).run(nodeConfig(config, index), commands)),
    stats: (index) => twice(() => stub(index).stats(nodeConfig(config, index))),
  }
}

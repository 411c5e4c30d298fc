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
import type { NodeClient, Replication } from './cluster-client'
import type { Outcome } from './commands'
import type { EvictionPolicyName } from './eviction'
import { HotKeys } from './hot-keys'
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
  replication?: ReplicationSettings | undefined
}

export interface ReplicationSettings {
  replicas: number
  hotReadsPerSecond: number
  copyTtlMs: number
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
  const { nodes, maxmemory, policy, persistent, backing, replication } = resource.config
  return {
    name: resource.name,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    nodes,
    maxmemory,
    policy,
    persistent,
    ...(replication ? { replication } : {}),
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

const hotKeys = new Map<string, HotKeys>()

/** This isolate's hot-key replication for one cache, or undefined when it is off. */
export function replicationOf(tenant: string, name: string, config: CacheConfig): Replication | undefined {
  const settings = config.replication
  if (!settings || settings.replicas <= 1) return undefined
  const id = `${cacheKey(tenant, name)}\u0000${settings.hotReadsPerSecond}`
  let detector = hotKeys.get(id)
  if (!detector) {
    if (hotKeys.size >= 1_000) hotKeys.delete(hotKeys.keys().next().value as string)
    detector = new HotKeys({ threshold: settings.hotReadsPerSecond })
    hotKeys.set(id, detector)
  }
  const counter = detector
  return {
    replicas: Math.min(settings.replicas, config.nodes),
    ttlMs: settings.copyTtlMs,
    observe: (key) => counter.observe(key, Date.now()),
    isHot: (key) => counter.isHot(key, Date.now()),
    random: Math.random,
    now: Date.now,
  }
}

/** Reaches the nodes of one tenant's cache; a failed call is retried once on a fresh stub. */
export function nodeClient(env: Env, tenant: string, name: string, config: CacheConfig): NodeClient {
  // The RPC stub's inferred type is too deep for the checker; this is its shape.
  const stub = (index: number) =>
    objectStub(env.CACHE_NODES, tenant, CACHE_KIND, name, index) as unknown as {
      run(config: NodeConfig, commands: string[][]): Promise<Outcome[]>
      stats(config: NodeConfig): Promise<NodeStats>
      readCopy(key: string): Promise<string | null>
      storeCopy(key: string, value: string | null, expiresAt: number): Promise<void>
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
    readCopy: (index, key) => twice(() => stub(index).readCopy(key)),
    storeCopy: (index, key, value, expiresAt) => twice(() => stub(index).storeCopy(key, value, expiresAt)),
  }
}

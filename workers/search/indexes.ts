/**
 * Search indexes: one registry row per index (libSQL, kind `search-index`) holding its
 * primary key, settings and shard count; its documents live in `shards` SearchShard
 * objects named `<tenant>:search:<index>#<i>`, and a document's shard is
 * `hash32(id) mod shards`; the count doubles online when a shard grows past
 * `maxShardDocuments` (growth.ts). Index rows are cached per isolate for `INDEX_CACHE_MS`
 * (dropped at once in the isolate that changes them), so a settings change reaches other
 * isolates within that bound.
 */
import type { Env } from '../platform/env'
import { asAppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import {
  createResource,
  deleteResource,
  findResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { objectStub } from '../platform/tenancy'
import { MeiliError } from './errors'
import { defaultSettings, type Settings } from './logic/settings'
import type { SearchShard } from './shard/object'
import type { SearchTasks } from './tasks'

export const INDEX_KIND = 'search-index'
export const INDEX_CACHE_MS = 1000
export const MAX_SHARDS = 64
/** A shard holding more documents than this makes its index double its shard count. */
export const DEFAULT_MAX_SHARD_DOCUMENTS = 200_000
const INDEX_UID = /^[A-Za-z0-9_-]{1,400}$/

export interface IndexConfig {
  primaryKey: string | null
  settings: Settings
  shards: number
  /** Set while the index grows to this many shards (growth.ts). */
  splitting?: number | undefined
  maxShardDocuments?: number | undefined
}

export type SearchIndex = Resource<IndexConfig>

const cache = new IsolateCache<SearchIndex>(INDEX_CACHE_MS)
const cacheKey = (tenant: string, uid: string) => `${tenant}\n${uid}`

export function checkIndexUid(uid: string): void {
  if (!INDEX_UID.test(uid)) {
    throw new MeiliError(
      'invalid_index_uid',
      `\`${uid}\` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.`,
    )
  }
}

export function notFound(uid: string): MeiliError {
  return new MeiliError('index_not_found', `Index \`${uid}\` not found.`)
}

export async function findIndex(env: Env, tenant: string, uid: string): Promise<SearchIndex | undefined> {
  const key = cacheKey(tenant, uid)
  const cached = cache.lookup(key)
  if (cached) return cached.value
  const found = await findResource<IndexConfig>(env, tenant, INDEX_KIND, uid)
  if (found) cache.set(key, found)
  return found
}

export async function getIndex(env: Env, tenant: string, uid: string): Promise<SearchIndex> {
  checkIndexUid(uid)
  const found = await findIndex(env, tenant, uid)
  if (!found) throw notFound(uid)
  return found
}

export async function createIndex(
  env: Env,
  tenant: string,
  uid: string,
  primaryKey: string | null,
  shards = 1,
  maxShardDocuments = DEFAULT_MAX_SHARD_DOCUMENTS,
): Promise<SearchIndex> {
  checkIndexUid(uid)
  try {
    const created = await createResource<IndexConfig>(env, tenant, INDEX_KIND, uid, {
      primaryKey,
      settings: defaultSettings(),
      shards,
      maxShardDocuments,
    })
    cache.delete(cacheKey(tenant, uid))
    return created
  } catch (error) {
    if (asAppError(error).code === 'conflict')
      throw new MeiliError('index_already_exists', `Index \`${uid}\` already exists.`)
    throw error
  }
}

/** The index as the registry holds it now (not from this isolate's cache). */
export async function freshIndex(env: Env, tenant: string, uid: string): Promise<SearchIndex> {
  cache.delete(cacheKey(tenant, uid))
  return getIndex(env, tenant, uid)
}

/** The index, created with defaults when missing (document writes create indexes, as in Meilisearch). */
export async function ensureIndex(
  env: Env,
  tenant: string,
  uid: string,
): Promise<{ index: SearchIndex; created: boolean }> {
  checkIndexUid(uid)
  const found = await findIndex(env, tenant, uid)
  if (found) return { index: found, created: false }
  try {
    return { index: await createIndex(env, tenant, uid, null), created: true }
  } catch (error) {
    if (error instanceof MeiliError && error.code === 'index_already_exists')
      return { index: await getIndex(env, tenant, uid), created: false }
    throw error
  }
}

/** Compare-and-set on the row's version; retried a few times on a concurrent change. */
export async function changeIndex(
  env: Env,
  tenant: string,
  uid: string,
  change: (config: IndexConfig) => IndexConfig,
): Promise<SearchIndex> {
  for (let attempt = 1; ; attempt++) {
    cache.delete(cacheKey(tenant, uid))
    const current = await getIndex(env, tenant, uid)
    try {
      const updated = await updateResource(env, tenant, INDEX_KIND, uid, change(current.config), {
        ifVersion: current.version,
      })
      cache.delete(cacheKey(tenant, uid))
      return updated
    } catch (error) {
      if (asAppError(error).code !== 'precondition_failed' || attempt >= 5) throw error
    }
  }
}

/** Destroys every shard the index has, or is growing into (read fresh, not from the cache). */
export async function deleteIndex(env: Env, tenant: string, uid: string): Promise<void> {
  const index = await freshIndex(env, tenant, uid)
  await Promise.all(
    Array.from({ length: Math.max(index.config.shards, index.config.splitting ?? 0) }, (_, i) =>
      shardStub(env, tenant, uid, i).destroy(),
    ),
  )
  await deleteResource(env, tenant, INDEX_KIND, uid)
  cache.delete(cacheKey(tenant, uid))
}

export async function listIndexes(env: Env, tenant: string): Promise<SearchIndex[]> {
  const out: SearchIndex[] = []
  let cursor: string | undefined
  do {
    const page = await listResources<IndexConfig>(env, tenant, INDEX_KIND, { limit: 1000, cursor })
    out.push(...page.items)
    cursor = page.nextCursor
  } while (cursor)
  return out
}

/** The shard's RPC surface (documents are plain JSON, which the generated stub types cannot express). */
export type ShardApi = Pick<
  SearchShard,
  | 'write'
  | 'deleteIds'
  | 'deleteWhere'
  | 'clear'
  | 'destroy'
  | 'get'
  | 'list'
  | 'stats'
  | 'expand'
  | 'search'
  | 'searchAlone'
  | 'splitStep'
  | 'absorb'
>

export function shardStub(env: Env, tenant: string, uid: string, shard: number): ShardApi {
  return objectStub(env.SEARCH_SHARDS, tenant, 'search', uid, shard) as unknown as ShardApi
}

export function tasksStub(env: Env, tenant: string): Pick<SearchTasks, 'record' | 'get' | 'list'> {
  return objectStub(env.SEARCH_TASKS, tenant, 'search-tasks', '_') as unknown as Pick<
    SearchTasks,
    'record' | 'get' | 'list'
  >
}

export function indexView(index: SearchIndex) {
  return {
    uid: index.name,
    primaryKey: index.config.primaryKey,
    createdAt: new Date(index.createdAt).toISOString(),
    updatedAt: new Date(index.updatedAt).toISOString(),
  }
}

/**
 * Counter configurations in the resource registry (kind `counter`), as the routes use them.
 *
 * A counter's config is `{ shards, hashedShards, incarnation }`. Increments, likes and
 * eventual reads may use a copy cached in the isolate for up to CONFIG_CACHE_MS. A stale
 * copy is safe: shards only grow, so an old N still names shards that exist and are summed,
 * and hash placement uses `hashedShards`, fixed at creation; a copy of a deleted or
 * re-created counter is refused by the objects (incarnation check) and the request is
 * retried once with a fresh copy. Strong reads, PUT, DELETE and GET config read the registry.
 *
 * Growth tells the aggregator the new N before the registry, so every object that can
 * receive an increment is known to the aggregator, which DELETE retires first.
 */

import type { Env } from '../platform/env'
import { AppError, asAppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import {
  createResource,
  deleteResource,
  findResource,
  type Resource,
  updateResource,
} from '../platform/registry'
import { DEFAULT_SHARDS, planShardCount } from './counter'
import { aggregatorStub, COUNTER_KIND, shardAddress, shardStub } from './object'
import { type CounterIdentity, STALE_COUNTER } from './storage'

export interface CounterConfig {
  /** Increments spread over shards 0..shards−1; only grows. */
  shards: number
  /** Members and idempotency keys are hashed over shards 0..hashedShards−1; fixed at creation. */
  hashedShards: number
  /** Issued by the aggregator; larger for every re-creation of the name. */
  incarnation: number
}

export type Counter = Resource<CounterConfig>

/** How long an isolate may use its copy of a counter's config (ms). */
export const CONFIG_CACHE_MS = 5_000
const CREATE_ATTEMPTS = 5

const cache = new IsolateCache<Counter>(CONFIG_CACHE_MS)

export function identityOf(tenant: string, counter: Counter): CounterIdentity {
  return { tenant, name: counter.name, incarnation: counter.config.incarnation }
}

function cacheKey(tenant: string, name: string): string {
  return `${tenant}\u0000${name}`
}

function remember(tenant: string, counter: Counter): Counter {
  return cache.set(cacheKey(tenant, counter.name), counter)
}

function forget(tenant: string, name: string): void {
  cache.delete(cacheKey(tenant, name))
}

/** The counter as the registry has it now. */
export async function loadCounter(env: Env, tenant: string, name: string): Promise<Counter | undefined> {
  const counter = await findResource<CounterConfig>(env, tenant, COUNTER_KIND, name)
  if (counter) remember(tenant, counter)
  else forget(tenant, name)
  return counter
}

async function cachedCounter(env: Env, tenant: string, name: string): Promise<Counter | undefined> {
  const cached = cache.lookup(cacheKey(tenant, name))
  if (cached) return cached.value
  return loadCounter(env, tenant, name)
}

/** Creates the counter; undefined when one of that name exists already. */
async function createCounter(
  env: Env,
  tenant: string,
  name: string,
  shards: number,
): Promise<Counter | undefined> {
  const incarnation = await aggregatorStub(env, tenant, name).issueIncarnation()
  try {
    const config: CounterConfig = { shards, hashedShards: shards, incarnation }
    return remember(tenant, await createResource(env, tenant, COUNTER_KIND, name, config))
  } catch (error) {
    if (asAppError(error).code === 'conflict') return undefined
    throw error
  }
}

/** The counter, created with DEFAULT_SHARDS when it does not exist (first increment or like). */
async function ensureCounter(env: Env, tenant: string, name: string, fresh: boolean): Promise<Counter> {
  for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
    const existing =
      fresh || attempt > 0 ? await loadCounter(env, tenant, name) : await cachedCounter(env, tenant, name)
    if (existing) return existing
    const created = await createCounter(env, tenant, name, DEFAULT_SHARDS)
    if (created) return created
  }
  throw new AppError(
    'conflict',
    `The counter "${name}" is being created and deleted concurrently; try again.`,
  )
}

export async function requireCounter(env: Env, tenant: string, name: string, fresh = true): Promise<Counter> {
  const counter = fresh ? await loadCounter(env, tenant, name) : await cachedCounter(env, tenant, name)
  if (!counter) throw new AppError('not_found', `No counter named "${name}".`)
  return counter
}

/**
 * Runs `operation` with the counter's config (a cached copy; created first when `create`),
 * and once more with a fresh copy when an object says the copy was of a deleted or replaced
 * counter. The objects refuse before changing anything, so the second run is safe.
 */
export async function withCounter<T>(
  env: Env,
  tenant: string,
  name: string,
  options: { create: boolean },
  operation: (counter: Counter) => Promise<T>,
): Promise<T> {
  const resolve = (fresh: boolean) =>
    options.create ? ensureCounter(env, tenant, name, fresh) : requireCounter(env, tenant, name, fresh)
  try {
    return await operation(await resolve(false))
  } catch (error) {
    if (asAppError(error).extensions.reason !== STALE_COUNTER) throw error
    forget(tenant, name)
    return operation(await resolve(true))
  }
}

/** `PUT`: creates the counter with `shards`, or grows it to `shards`; never shrinks. */
export async function putCounter(
  env: Env,
  tenant: string,
  name: string,
  shards: number,
): Promise<{ counter: Counter; created: boolean }> {
  for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
    const existing = await loadCounter(env, tenant, name)
    if (!existing) {
      const created = await createCounter(env, tenant, name, shards)
      if (created) return { counter: created, created: true }
      continue
    }
    const change = planShardCount(existing.config.shards, shards)
    if (change === 'unchanged') return { counter: existing, created: false }
    if (change === 'shrink_refused') {
      throw new AppError(
        'conflict',
        `The counter "${name}" has ${existing.config.shards} shards; shard counts only grow.`,
      )
    }
    await aggregatorStub(env, tenant, name).grow(identityOf(tenant, existing), shards)
    try {
      const config: CounterConfig = { ...existing.config, shards }
      const grown = await updateResource(env, tenant, COUNTER_KIND, name, config, {
        ifVersion: existing.version,
      })
      return { counter: remember(tenant, grown), created: false }
    } catch (error) {
      if (asAppError(error).code !== 'precondition_failed') throw error
    }
  }
  throw new AppError('conflict', `The counter "${name}" is changing concurrently; try again.`)
}

/**
 * `DELETE`: retires the aggregator (which closes live streams and reports every shard it was
 * told of), then every shard, then removes the registry entry. Requests that still carry
 * the deleted incarnation get 404 from the objects.
 */
export async function deleteCounter(env: Env, tenant: string, name: string): Promise<void> {
  const counter = await requireCounter(env, tenant, name)
  const identity = identityOf(tenant, counter)
  const knownShards = await aggregatorStub(env, tenant, name).retire(identity)
  const shards = Math.max(knownShards, counter.config.shards)
  await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      shardStub(env, identity, shard).retire(shardAddress(identity, shard)),
    ),
  )
  forget(tenant, name)
  await deleteResource(env, tenant, COUNTER_KIND, name)
}

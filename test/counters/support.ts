/**
 * Helpers for the counters tests: a tenant with a token, calls to the counters API, and the
 * counter's objects (shards, aggregator) for firing alarms and inspecting storage.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import type { CounterAggregator } from '../../workers/counters/object'
import { objectStub } from '../../workers/platform/tenancy'
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface Total {
  name: string
  value: number | string
  members: number
  consistency: 'eventual' | 'strong'
  ageMs?: number
  maxAgeMs?: number
  shards: number
}

export interface Problem {
  type: string
  status: number
  detail: string
  errors?: Array<{ path: string; message: string }>
}

/** A fresh tenant and a token with both counters scopes. */
export async function counterTenant(scopes = ['counters:read', 'counters:write']) {
  const tenant = uniqueTenant('ctr')
  return { tenant, token: await tokenFor(tenant, scopes) }
}

export function increment<T = Record<string, unknown>>(
  token: string,
  name: string,
  by: number | string | unknown,
  headers: Record<string, string> = {},
) {
  return call<T>(`/v1/counters/${name}/increment`, {
    method: 'POST',
    token,
    body: { by },
    headers,
  })
}

export async function readTotal(token: string, name: string, consistency: 'eventual' | 'strong' = 'strong') {
  return call<Total>(`/v1/counters/${name}?consistency=${consistency}`, { token })
}

/** Sends `count` requests made by `request(i)`, at most `wave` at a time. */
export async function inWaves<T>(
  count: number,
  wave: number,
  request: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = []
  for (let start = 0; start < count; start += wave) {
    const batch = Array.from({ length: Math.min(wave, count - start) }, (_, k) => request(start + k))
    results.push(...(await Promise.all(batch)))
  }
  return results
}

export function shardObject(tenant: string, name: string, shard: number) {
  return objectStub(env.COUNTER_SHARDS, tenant, 'counter', name, shard)
}

export function aggregatorObject(tenant: string, name: string) {
  return objectStub(env.COUNTER_AGGREGATORS, tenant, 'counter', name)
}

/**
 * Fires every pending shard push (shards 0..shards−1), then the aggregator's broadcast.
 * Pushes are coalesced to one per interval, so a pending one may not be due yet: its timer
 * is moved to now first, as if the interval had passed, instead of sleeping.
 */
export async function flushPushes(tenant: string, name: string, shards: number): Promise<void> {
  const fire = async (stub: DurableObjectStub) => {
    await runInDurableObject(stub, (_instance: unknown, state) => {
      state.storage.sql.exec('UPDATE timers SET due_at = 0')
    })
    await runDurableObjectAlarm(stub)
  }
  for (let shard = 0; shard < shards; shard++) await fire(shardObject(tenant, name, shard))
  await fire(aggregatorObject(tenant, name))
}

/** The counter's incarnation: the last one its aggregator issued (no creation races in tests). */
export function incarnationOf(tenant: string, name: string): Promise<number> {
  return runInDurableObject(aggregatorObject(tenant, name), (_instance: CounterAggregator, state) => {
    const row = state.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'last_issued'")
      .one()
    return Number(row.value)
  })
}

/** Each shard's state version: how many changes (increments, likes, unlikes) it applied. */
export async function changesPerShard(tenant: string, name: string, shards: number): Promise<number[]> {
  const incarnation = await incarnationOf(tenant, name)
  return Promise.all(
    Array.from({ length: shards }, async (_, shard) => {
      const state = await shardObject(tenant, name, shard).snapshot({ tenant, name, incarnation, shard })
      return state.version
    }),
  )
}

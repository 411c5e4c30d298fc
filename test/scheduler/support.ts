/**
 * Helpers for the scheduler tests: a tenant with a token and the scheduler's endpoints,
 * a scripted HTTP target (outbound fetches to `https://target.test/…` are answered here;
 * every other fetch, e.g. libSQL's, goes out as usual), and direct access to the shard,
 * schedule and tenant objects: their injected clocks, firing their alarms, and waiting
 * for attempts in flight.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect, vi } from 'vitest'
import type { SchedulerSchedule } from '../../workers/scheduler/schedule-object'
import type { SchedulerShard } from '../../workers/scheduler/shard-object'
import { SHARD_COUNT, shardName, shardOfTask } from '../../workers/scheduler/tasks'
import { call, tokenFor, uniqueTenant } from '../helpers'

export const TARGET = 'https://target.test'

export interface Task {
  id: string
  status: string
  priority: string
  dueAt: number | null
  attempts: number
  createdAt: number
  finishedAt: number | null
  lastError: string | null
  lastResponseCode: number | null
  schedule: { name: string; runId: string; plannedAt: number } | null
  history?: Array<{
    attempt: number
    startedAt: number
    durationMs: number
    status: string
    responseCode?: number
    error?: string
  }>
}

export interface Hit {
  url: string
  method: string
  headers: Record<string, string>
  body: string
}

/**
 * What the target answers: a status, `'hang'` (never answers until aborted), `'error'` (a
 * network error) or `'hold'` (answers 200 when the test calls `releaseHeld`).
 */
export type Reply = number | 'hang' | 'error' | 'hold'

let holding = 0
let releasedUpTo = 0

/**
 * Lets the next `count` held requests (by arrival, including ones still on their way)
 * answer 200. Held requests watch a counter on a timer of their own: a promise resolved
 * from the test would continue in the test's context, where the object's storage cannot
 * be used.
 */
export function releaseHeld(count: number): void {
  releasedUpTo += count
}

/** Releases every request held now or later (between tests). */
export function releaseAllHeld(): void {
  releasedUpTo = Number.POSITIVE_INFINITY
  holding = 0
}

export function resetHeld(): void {
  holding = 0
  releasedUpTo = 0
}

/**
 * Scripts the target: each request gets the next reply of `script` (then `fallback`).
 * Returns the requests it saw, in arrival order.
 */
export function scriptTarget(script: Reply[] = [], fallback: Reply = 200): Hit[] {
  const hits: Hit[] = []
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (!url.startsWith(`${TARGET}/`)) return realFetch(input, init)
    const request = new Request(input, init)
    hits.push({
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: request.method === 'GET' ? '' : await request.text(),
    })
    const reply = script[hits.length - 1] ?? fallback
    if (reply === 'error') throw new TypeError('Network connection lost.')
    if (reply === 'hold') {
      const ticket = ++holding
      while (releasedUpTo < ticket) await new Promise((resolve) => setTimeout(resolve, 1))
      return new Response('held')
    }
    if (reply === 'hang') {
      return new Promise<Response>((_, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason))
      })
    }
    return new Response(`reply ${reply}`, { status: reply })
  })
  return hits
}

export function shard(index: number): DurableObjectStub<SchedulerShard> {
  return env.SCHEDULER_SHARDS.get(env.SCHEDULER_SHARDS.idFromName(shardName(index)))
}

export function shardOf(taskId: string): DurableObjectStub<SchedulerShard> {
  return shard(shardOfTask(taskId))
}

export function scheduleObject(tenant: string, name: string): DurableObjectStub<SchedulerSchedule> {
  return env.SCHEDULER_SCHEDULES.get(env.SCHEDULER_SCHEDULES.idFromName(`${tenant}:schedule:${name}`))
}

/** Sets an object's clock to `at` (ms since the epoch); it stays there until set again. */
export async function setClock(stub: DurableObjectStub<SchedulerShard | SchedulerSchedule>, at: number) {
  await runInDurableObject(stub, (instance: SchedulerShard | SchedulerSchedule) => {
    instance.clock = () => at
  })
}

/** Replaces a shard's randomness (backoff jitter) with a fixed sequence, repeated. */
export async function setRandom(stub: DurableObjectStub<SchedulerShard>, values: number[]) {
  await runInDurableObject(stub, (instance: SchedulerShard) => {
    let next = 0
    instance.random = () => values[next++ % values.length] ?? 0
  })
}

/** Fires a shard's alarm (if the runtime has not already) and waits for its attempts. */
export async function fire(stub: DurableObjectStub<SchedulerShard>): Promise<void> {
  await runDurableObjectAlarm(stub)
  await stub.drainInFlight()
}

/** Fires every shard's alarm and waits for every attempt. */
export async function fireAll(): Promise<void> {
  await Promise.all(Array.from({ length: SHARD_COUNT }, (_, index) => fire(shard(index))))
}

export function problemCode(body: unknown): string | undefined {
  return (body as { type?: string }).type?.split(':').at(-1)
}

export interface Client {
  tenant: string
  token: string
  createTask(body: Record<string, unknown>, headers?: Record<string, string>): Promise<Task>
  task(id: string): Promise<Task>
  tasks(query?: string): Promise<Task[]>
  post(path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>
  get(path: string): Promise<{ status: number; body: Record<string, unknown> }>
}

export async function client(scopes = ['scheduler:read', 'scheduler:write']): Promise<Client> {
  const tenant = uniqueTenant('s')
  const token = await tokenFor(tenant, scopes)
  const base = '/v1/scheduler'
  return {
    tenant,
    token,
    async createTask(body, headers = {}) {
      const response = await call<Task>(`${base}/tasks`, { token, body, headers })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      return response.body
    },
    async task(id) {
      const response = await call<Task>(`${base}/tasks/${id}`, { token })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      return response.body
    },
    async tasks(query = '') {
      const response = await call<{ items: Task[] }>(`${base}/tasks${query}`, { token })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      return response.body.items
    },
    async post(path, body) {
      return call(`${base}${path}`, { method: 'POST', token, ...(body !== undefined ? { body } : {}) })
    },
    async get(path) {
      return call(`${base}${path}`, { token })
    },
  }
}

/** An HTTP target body for `scriptTarget`. */
export function httpTarget(path = '/hook', extra: Record<string, unknown> = {}) {
  return { type: 'http', url: `${TARGET}${path}`, ...extra }
}

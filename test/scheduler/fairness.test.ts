import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Priority } from '../../workers/scheduler/fairness'
import type { SchedulerShard } from '../../workers/scheduler/shard-object'
import { DEFAULT_RETRY, newTaskId, SHARD_COUNT } from '../../workers/scheduler/tasks'
import { call, uniqueTenant } from '../helpers'
import {
  client,
  fire,
  httpTarget,
  releaseAllHeld,
  releaseHeld,
  resetHeld,
  scriptTarget,
  setClock,
  shard,
} from './support'

afterEach(() => {
  releaseAllHeld()
  vi.restoreAllMocks()
})

const T = Date.now() + 3_600_000

/** Creates tasks straight in shard `index` (all due at `dueAt`), as the routes would. */
async function seed(
  index: number,
  tenant: string,
  tasks: Array<{ path: string; priority?: Priority; dueAt?: number }>,
) {
  await runInDurableObject(shard(index), async (instance: SchedulerShard) => {
    for (const task of tasks) {
      await instance.createTask(index, {
        id: newTaskId(index),
        tenant,
        target: { type: 'http', url: `https://target.test${task.path}`, method: 'POST' },
        priority: task.priority ?? 'normal',
        runAt: task.dueAt ?? T,
        retry: DEFAULT_RETRY,
        timeoutMs: 10_000,
      })
    }
  })
}

const paths = (hits: Array<{ url: string }>) => hits.map((hit) => new URL(hit.url).pathname)

describe('fair dispatch across tenants', () => {
  it("does not let a tenant's 10,000 due tasks delay another tenant's single task by more than one round", async () => {
    const hits = scriptTarget()
    const big = uniqueTenant('big')
    const small = uniqueTenant('small')
    await seed(
      0,
      big,
      Array.from({ length: 10_000 }, () => ({ path: '/big', dueAt: T - 60_000 })),
    )
    await seed(0, small, [{ path: '/small', dueAt: T }])
    await setClock(shard(0), T)

    await fire(shard(0))
    expect(paths(hits).filter((path) => path === '/small')).toHaveLength(1)
    expect(paths(hits).filter((path) => path === '/big')).toHaveLength(25)
    await fire(shard(0))
    expect(paths(hits)).toHaveLength(51)
  })

  it('runs higher priority first within a tenant', async () => {
    const hits = scriptTarget()
    const tenant = uniqueTenant('prio')
    await seed(1, tenant, [
      ...Array.from({ length: 30 }, () => ({ path: '/low', priority: 'low' as const, dueAt: T - 3_000 })),
      ...Array.from({ length: 30 }, () => ({
        path: '/normal',
        priority: 'normal' as const,
        dueAt: T - 2_000,
      })),
      ...Array.from({ length: 5 }, () => ({ path: '/high', priority: 'high' as const, dueAt: T - 1_000 })),
    ])
    await setClock(shard(1), T)
    await fire(shard(1))
    const first = paths(hits)
    expect(first.filter((path) => path === '/high')).toHaveLength(5)
    expect(first.filter((path) => path === '/normal')).toHaveLength(20)
    expect(first.filter((path) => path === '/low')).toHaveLength(0)
    await fire(shard(1))
    await fire(shard(1))
    expect(paths(hits).slice(25, 35)).toEqual([...Array(10).fill('/normal')])
    expect(
      paths(hits)
        .slice(35)
        .every((path) => path === '/low'),
    ).toBe(true)
  })
})

describe('tenant limits', () => {
  it('cap the attempts in flight across all shards, and free a slot when one ends', async () => {
    resetHeld()
    const hits = scriptTarget([], 'hold')
    const s = await client()
    const limits = await call('/v1/scheduler/limits', {
      method: 'PUT',
      token: s.token,
      body: { concurrency: 2, ratePerSecond: 1000, burst: 1000 },
    })
    expect(limits.status).toBe(200)
    const due: number[] = []
    for (let i = 0; i < 6; i++)
      due.push((await s.createTask({ target: httpTarget(`/c${i}`), delaySeconds: 60 })).dueAt ?? 0)
    const shards = Array.from({ length: SHARD_COUNT }, (_, index) => shard(index))
    for (const stub of shards) await setClock(stub, Math.max(...due))
    const fireAllShards = async () => {
      for (const stub of shards) await runDurableObjectAlarm(stub)
    }
    const count = async (status: string) => (await s.tasks(`?status=${status}`)).length

    for (let round = 1; round <= 3; round++) {
      await fireAllShards()
      await fireAllShards()
      expect(await count('running')).toBe(2)
      expect((await s.get('/limits')).body).toMatchObject({ inFlight: 2 })
      releaseHeld(2)
      for (const stub of shards) await stub.drainInFlight()
      expect(await count('succeeded')).toBe(round * 2)
      expect((await s.get('/limits')).body).toMatchObject({ inFlight: 0 })
    }
    expect(hits).toHaveLength(6)
    expect(await count('scheduled')).toBe(0)
  })

  it('cap the rate with a token bucket: a burst, then one per 1/rate seconds', async () => {
    const all = scriptTarget()
    const hits = {
      get length() {
        return all.filter((hit) => hit.url.endsWith('/rate')).length
      },
    }
    const s = await client()
    await call('/v1/scheduler/limits', {
      method: 'PUT',
      token: s.token,
      body: { concurrency: 100, ratePerSecond: 2, burst: 3 },
    })
    await seed(
      2,
      s.tenant,
      Array.from({ length: 6 }, () => ({ path: '/rate' })),
    )
    const stub = shard(2)
    await setClock(stub, T)
    await fire(stub)
    expect(hits).toHaveLength(3)
    await fire(stub)
    expect(hits).toHaveLength(3)
    await setClock(stub, T + 500)
    await fire(stub)
    expect(hits).toHaveLength(4)
    await setClock(stub, T + 1_500)
    await fire(stub)
    expect(hits).toHaveLength(6)
  })

  it('reject bad limits with 400 and keep the old ones', async () => {
    const s = await client()
    await call('/v1/scheduler/limits', {
      method: 'PUT',
      token: s.token,
      body: { concurrency: 5, ratePerSecond: 10, burst: 10 },
    })
    for (const body of [
      { concurrency: 0, ratePerSecond: 1, burst: 1 },
      { concurrency: 5, ratePerSecond: -1, burst: 1 },
      { concurrency: 5 },
    ]) {
      expect((await call('/v1/scheduler/limits', { method: 'PUT', token: s.token, body })).status).toBe(400)
    }
    expect((await s.get('/limits')).body).toMatchObject({
      limits: { concurrency: 5, ratePerSecond: 10, burst: 10 },
      inFlight: 0,
    })
  })
})

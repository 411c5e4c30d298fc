import { abortAllDurableObjects, runDurableObjectAlarm } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { backoffDelayMs } from '../../workers/platform/delivery'
import { call } from '../helpers'
import { client, fire, httpTarget, scriptTarget, setClock, setRandom, shardOf, type Task } from './support'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('retries', () => {
  it('follow the full-jitter exponential backoff schedule; a hang, an error and a 5xx each count as a failed attempt', async () => {
    const hits = scriptTarget([500, 'error', 'hang', 503, 200])
    const s = await client()
    const retry = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 6000 }
    const task = await s.createTask({ target: httpTarget('/flaky'), delaySeconds: 60, retry, timeoutMs: 100 })
    const shard = shardOf(task.id)
    const randomness = [0.5, 0.25, 0.99, 0.75]
    await setRandom(shard, randomness)

    let due = task.dueAt ?? 0
    for (let attempt = 1; attempt <= 4; attempt++) {
      await setClock(shard, due)
      await fire(shard)
      const after = await s.task(task.id)
      const expectedDelay = backoffDelayMs(attempt, randomness[attempt - 1] ?? 0, {
        baseMs: 1000,
        capMs: 6000,
      })
      expect(after).toMatchObject({ status: 'scheduled', attempts: attempt, dueAt: due + expectedDelay })
      // One tick before the retry is due, nothing happens.
      await setClock(shard, due + expectedDelay - 1)
      await fire(shard)
      expect(hits).toHaveLength(attempt)
      due += expectedDelay
    }
    await setClock(shard, due)
    await fire(shard)

    const done = await s.task(task.id)
    expect(done.status).toBe('succeeded')
    expect(
      done.history?.map(({ attempt, status, responseCode, error }) => ({
        attempt,
        status,
        responseCode,
        error,
      })),
    ).toEqual([
      { attempt: 1, status: 'failed', responseCode: 500, error: 'HTTP 500' },
      {
        attempt: 2,
        status: 'failed',
        responseCode: undefined,
        error: 'the connection was lost before a response',
      },
      { attempt: 3, status: 'failed', responseCode: undefined, error: 'timed out after 100 ms' },
      { attempt: 4, status: 'failed', responseCode: 503, error: 'HTTP 503' },
      { attempt: 5, status: 'succeeded', responseCode: 200, error: undefined },
    ])
    // Every attempt is the same delivery: the target can drop duplicates by webhook-id.
    expect(new Set(hits.map((hit) => hit.headers['webhook-id']))).toEqual(new Set([task.id]))
    expect(hits.map((hit) => hit.headers['x-scheduler-attempt'])).toEqual(['1', '2', '3', '4', '5'])
  })

  it('mark a task failed after its last attempt, keep it in the failed list, and retry it by hand', async () => {
    const hits = scriptTarget([500, 502, 200])
    const s = await client()
    const task = await s.createTask({
      target: httpTarget('/dead'),
      delaySeconds: 60,
      retry: { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 100 },
    })
    const shard = shardOf(task.id)
    await setRandom(shard, [0])
    const due = task.dueAt ?? 0
    await setClock(shard, due)
    await fire(shard)
    await fire(shard)

    const failed = await s.task(task.id)
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 2,
      lastResponseCode: 502,
      lastError: 'HTTP 502',
      dueAt: null,
    })
    expect((await s.tasks('?status=failed')).map((item) => item.id)).toEqual([task.id])
    await setClock(shard, due + 3_600_000)
    await fire(shard)
    expect(hits).toHaveLength(2)

    const retried = await call<Task>(`/v1/scheduler/tasks/${task.id}/retry`, {
      method: 'POST',
      token: s.token,
    })
    expect(retried.status).toBe(200)
    expect(retried.body).toMatchObject({ status: 'scheduled', attempts: 0, dueAt: due + 3_600_000 })
    expect(
      (await call(`/v1/scheduler/tasks/${task.id}/retry`, { method: 'POST', token: s.token })).status,
    ).toBe(409)
    await fire(shard)
    const done = await s.task(task.id)
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect(done.history?.map((attempt) => attempt.attempt)).toEqual([1, 2, 3])
    expect(await s.tasks('?status=failed')).toEqual([])
  })

  it('count an attempt lost to a restart as failed once its lease expires, and run it again', async () => {
    const hits = scriptTarget(['hang', 200])
    const s = await client()
    const task = await s.createTask({ target: httpTarget('/lost'), delaySeconds: 60, timeoutMs: 30_000 })
    const shard = shardOf(task.id)
    const due = task.dueAt ?? 0
    await setClock(shard, due)
    await setRandom(shard, [0])
    await runDurableObjectAlarm(shard)
    expect(hits).toHaveLength(1)
    expect((await s.task(task.id)).status).toBe('running')

    // The object is torn down mid-attempt (a crash; storage survives): the outcome never arrives.
    await abortAllDurableObjects()
    const restarted = shardOf(task.id)
    await setClock(restarted, due + 30_000 + 5_000 - 1)
    await setRandom(restarted, [0.5])
    await fire(restarted)
    expect((await s.task(task.id)).status).toBe('running')
    const leaseEnd = due + 30_000 + 5_000
    await setClock(restarted, leaseEnd)
    await fire(restarted)
    const recovered = await s.task(task.id)
    expect(recovered.history?.[0]).toMatchObject({
      attempt: 1,
      status: 'failed',
      error: 'attempt lost: no outcome before its lease expired',
    })
    expect(recovered).toMatchObject({ status: 'scheduled', dueAt: leaseEnd + backoffDelayMs(1, 0.5) })
    await setClock(restarted, recovered.dueAt ?? 0)
    await fire(restarted)
    expect(await s.task(task.id)).toMatchObject({ status: 'succeeded', attempts: 2 })
    expect(hits.map((hit) => hit.headers['webhook-id'])).toEqual([task.id, task.id])
  })

  it('keep the last 100 attempts of a task in its history', async () => {
    scriptTarget([], 500)
    const s = await client()
    // 125 attempts at one instant of the injected clock: more than the default burst allows.
    const limits = { concurrency: 100, ratePerSecond: 1000, burst: 1000 }
    await call('/v1/scheduler/limits', { method: 'PUT', token: s.token, body: limits })
    const task = await s.createTask({
      target: httpTarget('/always-down'),
      delaySeconds: 60,
      retry: { maxAttempts: 25, initialDelayMs: 100, maxDelayMs: 100 },
    })
    const shard = shardOf(task.id)
    await setClock(shard, task.dueAt ?? 0)
    await setRandom(shard, [0])
    for (let series = 0; series < 5; series++) {
      for (let attempt = 0; attempt < 25; attempt++) await fire(shard)
      expect((await s.task(task.id)).status).toBe('failed')
      if (series < 4) await call(`/v1/scheduler/tasks/${task.id}/retry`, { method: 'POST', token: s.token })
    }
    const history = (await s.task(task.id)).history ?? []
    expect(history).toHaveLength(100)
    expect(history[0]?.attempt).toBe(26)
    expect(history.at(-1)?.attempt).toBe(125)
  })
})

import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { call, tokenFor } from '../helpers'
import { client, fire, httpTarget, problemCode, scriptTarget, setClock, shardOf, type Task } from './support'

afterEach(() => {
  vi.restoreAllMocks()
})

const MINUTE = 60_000

describe('one-off tasks', () => {
  it('runs a delayed task at its time, signed per Standard Webhooks with the task id as webhook-id', async () => {
    const hits = scriptTarget()
    const s = await client()
    const before = Date.now()
    const task = await s.createTask({
      target: httpTarget('/orders', {
        method: 'PUT',
        headers: { 'X-Tenant-Ref': 'r1' },
        body: '{"order":42}',
      }),
      delaySeconds: 600,
    })
    expect(task.status).toBe('scheduled')
    expect(task.dueAt).toBeGreaterThanOrEqual(before + 600_000)
    const due = task.dueAt ?? 0
    const shard = shardOf(task.id)

    await setClock(shard, due - 1)
    await fire(shard)
    expect(hits).toHaveLength(0)
    expect((await s.task(task.id)).status).toBe('scheduled')

    await setClock(shard, due)
    await fire(shard)
    expect(hits).toHaveLength(1)
    const [hit] = hits
    expect(hit).toMatchObject({ url: 'https://target.test/orders', method: 'PUT', body: '{"order":42}' })
    expect(hit?.headers).toMatchObject({
      'webhook-id': task.id,
      'x-tenant-ref': 'r1',
      'x-scheduler-attempt': '1',
      'content-type': 'application/json',
    })
    const { body: secret } = await s.get('/signing-secret')
    expect(() => new Webhook(String(secret.secret)).verify(hit?.body ?? '', hit?.headers ?? {})).not.toThrow()
    expect(() => new Webhook(String(secret.secret)).verify('{"order":43}', hit?.headers ?? {})).toThrow()

    const done = await s.task(task.id)
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, finishedAt: due, lastResponseCode: 200 })
    expect(done.history).toEqual([
      { attempt: 1, startedAt: due, durationMs: expect.any(Number), status: 'succeeded', responseCode: 200 },
    ])
  })

  it('accepts an RFC 3339 runAt and a priority', async () => {
    const s = await client()
    const runAt = new Date(Date.now() + 2 * 3600_000)
    runAt.setUTCMilliseconds(0)
    const task = await s.createTask({ target: httpTarget(), runAt: runAt.toISOString(), priority: 'high' })
    expect(task).toMatchObject({ dueAt: runAt.getTime(), priority: 'high', status: 'scheduled' })
  })

  it('answers 400 to bad input and creates nothing', async () => {
    const s = await client()
    const past = new Date(Date.now() - 60_000).toISOString()
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ target: httpTarget(), runAt: past }, 'body/runAt'],
      [{ target: { type: 'http', url: 'http://example.com/hook' } }, 'body/target/url'],
      [{ target: { type: 'http', url: 'http://127.0.0.1:9/hook' } }, 'body/target/url'],
      [{ target: { type: 'http', url: 'not a url' } }, 'body/target/url'],
      [{ target: httpTarget('/x', { method: 'GET', body: 'x' }) }, 'body/target'],
      [{ target: httpTarget('/x', { headers: { 'webhook-id': 'mine' } }) }, 'body/target/headers'],
      [
        { target: httpTarget(), delaySeconds: 10, runAt: new Date(Date.now() + MINUTE).toISOString() },
        'body',
      ],
      [{ target: httpTarget(), delaySeconds: 400 * 24 * 3600 }, 'body/delaySeconds'],
      [{ target: httpTarget(), timeoutMs: 5 }, 'body/timeoutMs'],
      [{ target: httpTarget(), retry: { maxAttempts: 0 } }, 'body/retry/maxAttempts'],
      [{ target: httpTarget(), surprise: true }, 'body'],
      [{ target: { type: 'ftp', url: 'ftp://x' } }, 'body/target/type'],
    ]
    for (const [body, path] of cases) {
      const response = await call(`/v1/scheduler/tasks`, { token: s.token, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(problemCode(response.body)).toBe('validation_failed')
      const errors = (response.body as { errors: Array<{ path: string }> }).errors
      expect(
        errors.some((error) => error.path.startsWith(path)),
        JSON.stringify(errors),
      ).toBe(true)
    }
    expect(await s.tasks()).toEqual([])
  })

  it('needs the scheduler scopes', async () => {
    const s = await client(['scheduler:read'])
    const response = await call('/v1/scheduler/tasks', { token: s.token, body: { target: httpTarget() } })
    expect(response.status).toBe(403)
    expect((await call('/v1/scheduler/tasks', { body: { target: httpTarget() } })).status).toBe(401)
  })
})

describe('Idempotency-Key', () => {
  it('returns the same task for the same key and body, 422 for another body, even under concurrency', async () => {
    const s = await client()
    const body = { target: httpTarget('/once'), delaySeconds: 3600 }
    const headers = { 'idempotency-key': 'order-42' }
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => call<Task>('/v1/scheduler/tasks', { token: s.token, body, headers })),
    )
    expect(responses.every((response) => response.status === 201)).toBe(true)
    const ids = new Set(responses.map((response) => response.body.id))
    expect(ids.size).toBe(1)
    expect(
      responses.filter((response) => response.headers.get('idempotent-replayed') === 'true'),
    ).toHaveLength(49)

    const other = await call('/v1/scheduler/tasks', {
      token: s.token,
      body: { ...body, delaySeconds: 60 },
      headers,
    })
    expect(other.status).toBe(422)
    expect(problemCode(other.body)).toBe('unprocessable')
    expect((await s.tasks()).map((task) => task.id)).toEqual([...ids])

    const elsewhere = await client()
    const theirs = await elsewhere.createTask(body, headers)
    expect(ids.has(theirs.id)).toBe(false)
  })
})

describe('cancel, list and tenancy', () => {
  it('cancels a scheduled task so it never runs; again is a no-op, 409 once succeeded, 404 when unknown', async () => {
    const hits = scriptTarget()
    const s = await client()
    const task = await s.createTask({ target: httpTarget('/never'), delaySeconds: 60 })
    const cancelled = await call<Task>(`/v1/scheduler/tasks/${task.id}`, { method: 'DELETE', token: s.token })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.status).toBe('cancelled')
    const shard = shardOf(task.id)
    await setClock(shard, (task.dueAt ?? 0) + MINUTE)
    await fire(shard)
    expect(hits).toHaveLength(0)
    const again = await call<Task>(`/v1/scheduler/tasks/${task.id}`, { method: 'DELETE', token: s.token })
    expect([again.status, again.body.status]).toEqual([200, 'cancelled'])

    const done = await s.createTask({ target: httpTarget('/done'), delaySeconds: 60 })
    await setClock(shardOf(done.id), (done.dueAt ?? 0) + MINUTE)
    await fire(shardOf(done.id))
    expect(hits).toHaveLength(1)
    const late = await call(`/v1/scheduler/tasks/${done.id}`, { method: 'DELETE', token: s.token })
    expect(late.status).toBe(409)
    expect((await s.task(done.id)).status).toBe('succeeded')
    const unknown = await call(`/v1/scheduler/tasks/${crypto.randomUUID()}`, {
      method: 'DELETE',
      token: s.token,
    })
    expect(unknown.status).toBe(404)
    expect((await call('/v1/scheduler/tasks/not-a-uuid', { token: s.token })).status).toBe(400)
  })

  it('lists tasks oldest first, by status, a page at a time', async () => {
    const s = await client()
    const created: Task[] = []
    for (let i = 0; i < 5; i++)
      created.push(await s.createTask({ target: httpTarget(`/t${i}`), delaySeconds: 60 }))
    await call(`/v1/scheduler/tasks/${created[1]?.id}`, { method: 'DELETE', token: s.token })
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await s.get(`/tasks?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      const items = page.body.items as Task[]
      expect(items.length).toBeLessThanOrEqual(2)
      seen.push(...items.map((task) => task.id))
      cursor = page.body.nextCursor as string | undefined
    } while (cursor)
    const byCreation = [...created].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
    expect(seen).toEqual(byCreation.map((task) => task.id))
    expect((await s.tasks('?status=cancelled')).map((task) => task.id)).toEqual([created[1]?.id])
    expect(await s.tasks('?status=failed')).toEqual([])
    expect((await s.get('/tasks?cursor=%25%25')).status).toBe(400)
  })

  it("keeps tenants apart in the shared shards: no one reads, cancels or retries another's task", async () => {
    const a = await client()
    const b = await client()
    const task = await a.createTask({ target: httpTarget(), delaySeconds: 60 })
    const other = await tokenFor(b.tenant, ['scheduler:read', 'scheduler:write'])
    expect((await call(`/v1/scheduler/tasks/${task.id}`, { token: other })).status).toBe(404)
    expect((await call(`/v1/scheduler/tasks/${task.id}`, { method: 'DELETE', token: other })).status).toBe(
      404,
    )
    expect(
      (await call(`/v1/scheduler/tasks/${task.id}/retry`, { method: 'POST', token: other })).status,
    ).toBe(404)
    expect(await b.tasks()).toEqual([])
    expect((await a.task(task.id)).status).toBe('scheduled')
  })
})

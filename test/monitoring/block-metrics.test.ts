/** /metrics: queue depths from the depth registry and scheduler lag from the shards. */
import { SELF } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseExposition } from '../../workers/monitoring/exposition'
import { DEPTH_REPORT_INTERVAL_MS } from '../../workers/queue/depths'
import { LAG_BOUNDS } from '../../workers/scheduler/lag'
import { shardOfTask } from '../../workers/scheduler/tasks'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { advance, partition, queueClient } from '../queue/support'
import { client, fire, httpTarget, scriptTarget, setClock, shardOf } from '../scheduler/support'

afterEach(() => {
  vi.restoreAllMocks()
})

async function metrics(token?: string): Promise<string> {
  const response = await SELF.fetch('http://edge.test/metrics', {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  expect(response.status).toBe(200)
  const text = await response.text()
  expect(() => parseExposition(text, 0)).not.toThrow()
  return text
}

/** The value of the sample named exactly `name` with exactly these labels (undefined if absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  const head = pairs.length > 0 ? `${name}{${pairs.join(',')}} ` : `${name} `
  const line = text.split('\n').find((l) => l.startsWith(head))
  return line === undefined ? undefined : Number(line.slice(head.length))
}

/** Lets a partition's next depth report go (one report interval later by its clock) and fires it. */
const report = (tenant: string, queue: string) => advance(partition(tenant, queue), DEPTH_REPORT_INTERVAL_MS)

describe('queue depths at /metrics', () => {
  it("shows a tenant's queue by state, and the platform totals without a token", async () => {
    const q = await queueClient()
    const before = await metrics()
    await q.create('jobs', { visibilityTimeoutSeconds: 600 })
    await q.sendBatch('jobs', [{ body: 'a' }, { body: 'b' }, { body: 'c' }, { body: 'd' }, { body: 'e' }])
    await q.sendBatch('jobs', [
      { body: 'later-1', delaySeconds: 600 },
      { body: 'later-2', delaySeconds: 600 },
    ])
    const received = await q.receive('jobs', { maxMessages: 3 })
    expect(received).toHaveLength(3)
    await report(q.tenant, 'jobs')

    const labels = { tenant: q.tenant, queue: 'jobs' }
    let text = await metrics(q.token)
    expect(sample(text, 'edgeblocks_queue_messages_visible', labels)).toBe(2)
    expect(sample(text, 'edgeblocks_queue_messages_not_visible', labels)).toBe(3)
    expect(sample(text, 'edgeblocks_queue_messages_delayed', labels)).toBe(2)
    expect(sample(text, 'edgeblocks_queue_messages_moving', labels)).toBe(0)
    expect(sample(text, 'edgeblocks_queue_oldest_message_age_seconds', labels)).toBeGreaterThanOrEqual(0)
    expect(sample(text, 'edgeblocks_queue_series_omitted')).toBe(0)
    // No dead-letter queue: no dead-letter series.
    expect(text).not.toContain(`edgeblocks_queue_dead_lettered_messages_total{tenant="${q.tenant}"`)

    const anonymous = await metrics()
    for (const [name, added] of [
      ['edgeblocks_queue_messages_visible', 2],
      ['edgeblocks_queue_messages_not_visible', 3],
      ['edgeblocks_queue_messages_delayed', 2],
      ['edgeblocks_queues', 1],
    ] as const) {
      expect(sample(anonymous, name), name).toBe((sample(before, name) ?? 0) + added)
    }
    expect(anonymous).not.toContain(q.tenant)

    for (const message of received.slice(0, 2))
      expect((await q.ack('jobs', message.receiptHandle)).status).toBe(200)
    await report(q.tenant, 'jobs')
    text = await metrics(q.token)
    expect(sample(text, 'edgeblocks_queue_messages_visible', labels)).toBe(2)
    expect(sample(text, 'edgeblocks_queue_messages_not_visible', labels)).toBe(1)
    expect(sample(text, 'edgeblocks_queue_messages_delayed', labels)).toBe(2)

    expect((await call('/v1/queues/jobs', { method: 'DELETE', token: q.token })).status).toBe(200)
    text = await metrics(q.token)
    expect(sample(text, 'edgeblocks_queue_messages_visible', labels)).toBeUndefined()
    expect(sample(await metrics(), 'edgeblocks_queues')).toBe(sample(before, 'edgeblocks_queues') ?? 0)
  })

  it('counts dead-lettered messages for a queue with a dead-letter queue', async () => {
    const q = await queueClient()
    await q.create('dlq')
    await q.create('work', { visibilityTimeoutSeconds: 30, deadLetter: { queue: 'dlq', maxReceiveCount: 1 } })
    await q.send('work', 'poison')
    expect(await q.receive('work')).toHaveLength(1)
    await advance(partition(q.tenant, 'work'), 31_000) // the visibility ends: moved to the dead-letter queue
    await report(q.tenant, 'dlq')

    const text = await metrics(q.token)
    const work = { tenant: q.tenant, queue: 'work' }
    expect(sample(text, 'edgeblocks_queue_dead_lettered_messages_total', work)).toBe(1)
    expect(sample(text, 'edgeblocks_queue_messages_not_visible', work)).toBe(0)
    expect(sample(text, 'edgeblocks_queue_messages_visible', { tenant: q.tenant, queue: 'dlq' })).toBe(1)
    expect(text).not.toContain(
      `edgeblocks_queue_dead_lettered_messages_total{tenant="${q.tenant}",queue="dlq"}`,
    )
  })

  it("shows only the token's own tenant's queues, and needs queue:read", async () => {
    const a = await queueClient()
    await a.create('private')
    await a.send('private', 'x')
    await report(a.tenant, 'private')
    const other = await tokenFor(uniqueTenant(), ['queue:read'])
    expect(await metrics(other)).not.toContain(a.tenant)
    const response = await SELF.fetch('http://edge.test/metrics', {
      headers: { authorization: `Bearer ${await tokenFor(a.tenant, ['kv:read'])}` },
    })
    expect(response.status).toBe(403)
    expect(
      (await SELF.fetch('http://edge.test/metrics', { headers: { authorization: 'Bearer x.y.z' } })).status,
    ).toBe(401)
  })
})

describe('scheduler lag at /metrics', () => {
  it('observes a task started Δ after its due time, and shows it as backlog until then', async () => {
    scriptTarget()
    const s = await client()
    const task = await s.createTask({ target: httpTarget('/lag'), delaySeconds: 600 })
    const due = task.dueAt ?? 0
    const stub = shardOf(task.id)
    const shard = String(shardOfTask(task.id))
    const labels = { shard }
    const before = await metrics()
    const count = (text: string) => sample(text, 'edgeblocks_scheduler_lag_seconds_count', labels) ?? 0
    const bucket = (text: string, le: string) =>
      sample(text, 'edgeblocks_scheduler_lag_seconds_bucket', { ...labels, le }) ?? 0

    await setClock(stub, due + 7_000)
    let text = await metrics()
    expect(sample(text, 'edgeblocks_scheduler_backlog_tasks', labels)).toBe(1)
    expect(sample(text, 'edgeblocks_scheduler_oldest_overdue_seconds', labels)).toBe(7)
    expect(count(text)).toBe(count(before))

    await fire(stub)
    expect((await s.task(task.id)).status).toBe('succeeded')
    text = await metrics()
    expect(count(text)).toBe(count(before) + 1)
    expect(sample(text, 'edgeblocks_scheduler_lag_seconds_sum', labels)).toBeCloseTo(
      (sample(before, 'edgeblocks_scheduler_lag_seconds_sum', labels) ?? 0) + 7,
      9,
    )
    for (const bound of LAG_BOUNDS) {
      const le = String(bound)
      expect(bucket(text, le), `le=${le}`).toBe(bucket(before, le) + (bound >= 7 ? 1 : 0))
    }
    expect(bucket(text, '+Inf')).toBe(bucket(before, '+Inf') + 1)
    expect(sample(text, 'edgeblocks_scheduler_backlog_tasks', labels)).toBe(0)
    expect(sample(text, 'edgeblocks_scheduler_oldest_overdue_seconds', labels)).toBe(0)
  })
})

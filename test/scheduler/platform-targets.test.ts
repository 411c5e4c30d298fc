import { describe, expect, it } from 'vitest'
import { call, tokenFor } from '../helpers'
import { client, fire, setClock, shardOf, type Task } from './support'

async function runNow(task: Task) {
  const shard = shardOf(task.id)
  await setClock(shard, task.dueAt ?? 0)
  await fire(shard)
}

describe('platform targets', () => {
  it('send a message to a queue of the same tenant', async () => {
    const s = await client()
    const token = await tokenFor(s.tenant, ['queue:read', 'queue:write'])
    expect((await call('/v1/queues/jobs', { method: 'PUT', token, body: {} })).status).toBe(201)
    const task = await s.createTask({
      target: { type: 'queue', queue: 'jobs', body: '{"job":7}', attributes: { kind: 'nightly' } },
      delaySeconds: 60,
    })
    await runNow(task)
    expect((await s.task(task.id)).status).toBe('succeeded')
    const received = await call<{ messages: Array<{ body: string; attributes: Record<string, string> }> }>(
      '/v1/queues/jobs/messages/receive',
      { token, body: { maxMessages: 10 } },
    )
    expect(received.body.messages.map(({ body, attributes }) => ({ body, attributes }))).toEqual([
      { body: '{"job":7}', attributes: { kind: 'nightly' } },
    ])
  })

  it('publish to a topic of the same tenant', async () => {
    const s = await client()
    const token = await tokenFor(s.tenant, ['pubsub:read', 'pubsub:write'])
    expect((await call('/v1/pubsub/topics', { token, body: { name: 'events' } })).status).toBe(201)
    expect(
      (await call('/v1/pubsub/topics/events/subscriptions', { token, body: { name: 'all', type: 'pull' } }))
        .status,
    ).toBe(201)
    const task = await s.createTask({
      target: { type: 'topic', topic: 'events', data: 'ping', attributes: { from: 'scheduler' } },
      delaySeconds: 60,
    })
    await runNow(task)
    expect((await s.task(task.id)).status).toBe('succeeded')
    const pulled = await call<{
      receivedMessages: Array<{ message: { data: string; attributes: Record<string, string> } }>
    }>('/v1/pubsub/topics/events/subscriptions/all/pull', { token, body: {} })
    const messages = pulled.body.receivedMessages.map(({ message }) => message)
    expect(messages).toHaveLength(1)
    expect([messages[0]?.data, atob(messages[0]?.data ?? '')]).toContain('ping')
    expect(messages[0]?.attributes).toEqual({ from: 'scheduler' })
  })

  it("count a missing queue or topic as a failed attempt (never another tenant's)", async () => {
    const owner = await client()
    const ownerToken = await tokenFor(owner.tenant, ['queue:write'])
    await call('/v1/queues/theirs', { method: 'PUT', token: ownerToken, body: {} })
    const s = await client()
    const retry = { maxAttempts: 1 }
    const queueTask = await s.createTask({
      target: { type: 'queue', queue: 'theirs', body: 'x' },
      delaySeconds: 60,
      retry,
    })
    const topicTask = await s.createTask({
      target: { type: 'topic', topic: 'nowhere', data: 'x' },
      delaySeconds: 60,
      retry,
    })
    await runNow(queueTask)
    await runNow(topicTask)
    for (const task of [queueTask, topicTask]) {
      const failed = await s.task(task.id)
      expect(failed).toMatchObject({ status: 'failed', lastResponseCode: 404 })
      expect(failed.lastError).toContain('not_found')
    }
  })
})

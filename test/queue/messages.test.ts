import { evictDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import { call } from '../helpers'
import { advance, partition, problemCode, queueClient } from './support'

describe('send, receive, ack', () => {
  it('delivers a batch with attributes in arrival order and acks it in one call', async () => {
    const q = await queueClient()
    await q.create('orders')
    const sent = await q.sendBatch('orders', [
      { body: 'one', attributes: { kind: 'created' } },
      { body: 'two' },
      { body: 'three', attributes: { kind: 'paid', region: 'eu' } },
    ])
    const received = await q.receive('orders', { maxMessages: 10 })
    expect(received.map((m) => m.messageId)).toEqual(sent.map((m) => m.messageId))
    expect(received.map((m) => m.body)).toEqual(['one', 'two', 'three'])
    expect(received[2]?.attributes).toEqual({ kind: 'paid', region: 'eu' })
    expect(received.every((m) => m.receiveCount === 1)).toBe(true)
    const acked = await call(`/v1/queues/orders/messages/ack`, {
      token: q.token,
      body: { receiptHandles: received.map((m) => m.receiptHandle) },
    })
    expect(acked.status).toBe(200)
    expect(acked.body).toMatchObject({ acked: 3 })
    expect(await q.receive('orders')).toEqual([])
    expect(await q.stats('orders')).toMatchObject({ sent: 3, received: 3, acked: 3, visible: 0, inFlight: 0 })
  })

  it('hides a received message until its visibility timeout ends, then delivers it again', async () => {
    const q = await queueClient()
    await q.create('work', { visibilityTimeoutSeconds: 30 })
    const { messageId } = await q.send('work', 'job')
    const [first] = await q.receive('work')
    expect(first?.messageId).toBe(messageId)
    expect(await q.receive('work')).toEqual([])
    expect(await q.stats('work')).toMatchObject({ inFlight: 1, visible: 0 })

    await advance(partition(q.tenant, 'work'), 29_000)
    expect(await q.receive('work')).toEqual([])

    await advance(partition(q.tenant, 'work'), 2_000)
    expect(await q.stats('work')).toMatchObject({ inFlight: 0, visible: 1 })
    const [second] = await q.receive('work')
    expect(second).toMatchObject({ messageId, receiveCount: 2 })
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle)

    const stale = await q.ack('work', first?.receiptHandle ?? '')
    expect(stale.status).toBe(409)
    expect(problemCode(stale.body)).toBe('conflict')
    expect(await q.stats('work')).toMatchObject({ inFlight: 1, acked: 0 })

    expect((await q.ack('work', second?.receiptHandle ?? '')).status).toBe(200)
    const again = await q.ack('work', second?.receiptHandle ?? '')
    expect(again.status).toBe(410)
    expect(problemCode(again.body)).toBe('gone')
  })

  it('honours a per-request visibility timeout and changes visibility by receipt handle', async () => {
    const q = await queueClient()
    await q.create('tasks', { visibilityTimeoutSeconds: 30 })
    await q.send('tasks', 'task')
    const [message] = await q.receive('tasks', { visibilityTimeoutSeconds: 600 })
    const stub = partition(q.tenant, 'tasks')
    await advance(stub, 60_000)
    expect(await q.receive('tasks')).toEqual([])

    const extended = await call<{ visibleAt: number }>(
      `/v1/queues/tasks/messages/${message?.receiptHandle}`,
      {
        method: 'PATCH',
        token: q.token,
        body: { visibilityTimeoutSeconds: 3600 },
      },
    )
    expect(extended.status).toBe(200)
    await advance(stub, 1_000_000)
    expect(await q.receive('tasks')).toEqual([])

    const nacked = await call(`/v1/queues/tasks/messages/${message?.receiptHandle}`, {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 0 },
    })
    expect(nacked.status).toBe(200)
    const [again] = await q.receive('tasks')
    expect(again).toMatchObject({ messageId: message?.messageId, receiveCount: 2 })

    const expiredHandle = again?.receiptHandle ?? ''
    await advance(stub, 31_000)
    const late = await call(`/v1/queues/tasks/messages/${expiredHandle}`, {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 10 },
    })
    expect(late.status).toBe(409)
  })

  it('accepts an ack after the visibility timeout as long as nobody received the message again', async () => {
    const q = await queueClient()
    await q.create('late', { visibilityTimeoutSeconds: 30 })
    await q.send('late', 'slow job')
    const [message] = await q.receive('late')
    await advance(partition(q.tenant, 'late'), 45_000)
    expect((await q.ack('late', message?.receiptHandle ?? '')).status).toBe(200)
    expect(await q.receive('late')).toEqual([])
  })
})

describe('restarts', () => {
  it('keeps messages, deliveries and due times across an eviction of the object', async () => {
    const q = await queueClient()
    await q.create('durable', { visibilityTimeoutSeconds: 30 })
    await q.sendBatch('durable', [{ body: 'kept' }, { body: 'later', delaySeconds: 60 }])
    const [first] = await q.receive('durable')
    const stub = partition(q.tenant, 'durable')
    await evictDurableObject(stub)
    expect(await q.stats('durable')).toMatchObject({ inFlight: 1, delayed: 1 })
    await advance(stub, 60_000)
    const again = await q.receive('durable')
    expect(again.map((m) => [m.body, m.receiveCount])).toEqual([
      ['kept', 2],
      ['later', 1],
    ])
    expect((await q.ack('durable', first?.receiptHandle ?? '')).status).toBe(409)
  })
})

describe('delays and retention', () => {
  it('keeps a delayed message invisible until its delay ends, even days long', async () => {
    const q = await queueClient()
    await q.create('later', { retentionSeconds: 14 * 24 * 3600 })
    await q.send('later', { body: 'in two days', delaySeconds: 2 * 24 * 3600 })
    await q.send('later', 'now')
    const [now] = await q.receive('later')
    expect(now?.body).toBe('now')
    expect((await q.ack('later', now?.receiptHandle ?? '')).status).toBe(200)
    expect(await q.stats('later')).toMatchObject({ delayed: 1 })
    const stub = partition(q.tenant, 'later')
    await advance(stub, 2 * 24 * 3600_000 - 1_000)
    expect(await q.receive('later')).toEqual([])
    await advance(stub, 1_000)
    expect((await q.receive('later')).map((m) => m.body)).toEqual(['in two days'])
  })

  it("applies the queue's default delay", async () => {
    const q = await queueClient()
    await q.create('slow', { delaySeconds: 120 })
    await q.send('slow', 'waits')
    expect(await q.receive('slow')).toEqual([])
    await advance(partition(q.tenant, 'slow'), 120_000)
    expect(await q.receive('slow')).toHaveLength(1)
  })

  it('drops messages past their retention, in flight or not', async () => {
    const q = await queueClient()
    await q.create('short', { retentionSeconds: 60 })
    await q.sendBatch('short', [{ body: 'a' }, { body: 'b' }])
    const [inFlight] = await q.receive('short', { maxMessages: 1 })
    await advance(partition(q.tenant, 'short'), 60_000)
    expect(await q.stats('short')).toMatchObject({ visible: 0, inFlight: 0, expired: 2 })
    expect((await q.ack('short', inFlight?.receiptHandle ?? '')).status).toBe(410)
  })
})

describe('long polling', () => {
  it('returns as soon as a message is sent', async () => {
    const q = await queueClient()
    await q.create('poll')
    const waiting = q.receive('poll', { waitSeconds: 20 })
    await vi.waitFor(async () => expect(await q.stats('poll')).toMatchObject({ waitingReceivers: 1 }), {
      timeout: 10_000,
    })
    const { messageId } = await q.send('poll', 'wake up')
    const received = await waiting
    expect(received.map((m) => m.messageId)).toEqual([messageId])
  })

  it('returns when a delayed message becomes visible (the alarm wakes the waiter)', async () => {
    const q = await queueClient()
    await q.create('poll-delay')
    await q.send('poll-delay', { body: 'soon', delaySeconds: 600 })
    const waiting = q.receive('poll-delay', { waitSeconds: 20 })
    await vi.waitFor(async () => expect(await q.stats('poll-delay')).toMatchObject({ waitingReceivers: 1 }), {
      timeout: 10_000,
    })
    await advance(partition(q.tenant, 'poll-delay'), 600_000)
    expect((await waiting).map((m) => m.body)).toEqual(['soon'])
  })

  it('returns an empty list when nothing arrives before the wait ends', async () => {
    const q = await queueClient()
    await q.create('quiet')
    expect(await q.receive('quiet', { waitSeconds: 1 })).toEqual([])
    expect(await q.stats('quiet')).toMatchObject({ waitingReceivers: 0 })
  })
})

import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { advance, partition, queueClient, settle } from './support'

describe('dead-letter queues', () => {
  it('moves a message to the dead-letter queue after max receives, with its history, and redrives it back', async () => {
    const q = await queueClient()
    await q.create('dlq')
    await q.create('jobs', { visibilityTimeoutSeconds: 30, deadLetter: { queue: 'dlq', maxReceiveCount: 2 } })
    const { messageId } = await q.send('jobs', { body: 'poison', attributes: { origin: 'test' } })
    const source = partition(q.tenant, 'jobs')

    const [first] = await q.receive('jobs')
    await advance(source, 30_000)
    const [second] = await q.receive('jobs')
    expect(second?.receiveCount).toBe(2)
    await advance(source, 30_000)

    expect(await q.receive('jobs')).toEqual([])
    expect(await q.stats('jobs')).toMatchObject({ visible: 0, inFlight: 0, moving: 0, deadLettered: 1 })
    expect((await q.ack('jobs', second?.receiptHandle ?? '')).status).toBe(410)

    const [dead] = await q.receive('dlq', { visibilityTimeoutSeconds: 0 })
    expect(dead).toMatchObject({ messageId, body: 'poison', attributes: { origin: 'test' }, receiveCount: 1 })
    expect(dead?.deadLetter).toMatchObject({
      sourceQueue: 'jobs',
      sourcePartition: 0,
      reason: 'max-receives',
      receiveCount: 2,
    })
    expect(dead?.deadLetter?.firstReceivedAt).toBeLessThan(dead?.deadLetter?.lastReceivedAt as number)
    expect(first?.messageId).toBe(messageId)

    const redriven = await call('/v1/queues/dlq/redrive', { token: q.token, body: {} })
    expect(redriven.status).toBe(200)
    expect(redriven.body).toEqual({ moved: 1, failed: 0, pending: 0 })
    expect(await q.stats('dlq')).toMatchObject({ visible: 0, redriven: 1 })
    const [back] = await q.receive('jobs')
    expect(back).toMatchObject({ messageId, body: 'poison', receiveCount: 1 })
    expect(back?.deadLetter).toBeUndefined()
  })

  it('dead-letters at once when a message that used its receives is nacked', async () => {
    const q = await queueClient()
    await q.create('dlq')
    await q.create('jobs', { deadLetter: { queue: 'dlq', maxReceiveCount: 1 } })
    await q.send('jobs', 'fails once')
    const [message] = await q.receive('jobs')
    const nack = await call(`/v1/queues/jobs/messages/${message?.receiptHandle}`, {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 0 },
    })
    expect(nack.status).toBe(200)
    await settle(partition(q.tenant, 'jobs'))
    expect((await q.receive('dlq')).map((m) => m.body)).toEqual(['fails once'])
  })

  it('keeps FIFO group order through the dead-letter queue and back', async () => {
    const q = await queueClient()
    await q.create('dlq.fifo', { fifo: true })
    await q.create('events.fifo', {
      fifo: true,
      contentBasedDeduplication: true,
      deadLetter: { queue: 'dlq.fifo', maxReceiveCount: 1 },
    })
    const bodies = ['e1', 'e2', 'e3', 'e4']
    await q.sendBatch(
      'events.fifo',
      bodies.map((body) => ({ body, groupId: 'user-7' })),
    )
    const received = await q.receive('events.fifo', { maxMessages: 10 })
    expect(received.map((m) => m.body)).toEqual(bodies)
    for (const message of received) {
      const nack = await call(`/v1/queues/events.fifo/messages/${message.receiptHandle}`, {
        method: 'PATCH',
        token: q.token,
        body: { visibilityTimeoutSeconds: 0 },
      })
      expect(nack.status).toBe(200)
    }
    await settle(partition(q.tenant, 'events.fifo'))
    expect(await q.stats('dlq.fifo')).toMatchObject({ visible: 4 })

    await q.send('events.fifo', { body: 'e5', groupId: 'user-7' })
    const redriven = await call('/v1/queues/dlq.fifo/redrive', { token: q.token, body: { maxMessages: 10 } })
    expect(redriven.body).toEqual({ moved: 4, failed: 0, pending: 0 })
    const back = await q.receive('events.fifo', { maxMessages: 10 })
    expect(back.map((m) => m.body)).toEqual(['e5', ...bodies])
  })

  it('leaves dead letters whose source queue is gone, and expires them with the retention', async () => {
    const q = await queueClient()
    await q.create('dlq', { retentionSeconds: 3600 })
    await q.create('temp', { deadLetter: { queue: 'dlq', maxReceiveCount: 1 } })
    await q.send('temp', 'orphan')
    const [message] = await q.receive('temp')
    await call(`/v1/queues/temp/messages/${message?.receiptHandle}`, {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 0 },
    })
    await settle(partition(q.tenant, 'temp'))
    expect((await call('/v1/queues/temp', { method: 'DELETE', token: q.token })).status).toBe(200)

    const redriven = await call('/v1/queues/dlq/redrive', { token: q.token, body: {} })
    expect(redriven.body).toEqual({ moved: 0, failed: 1, pending: 0 })
    expect(await q.stats('dlq')).toMatchObject({ visible: 1 })

    await advance(partition(q.tenant, 'dlq'), 3600_000)
    expect(await q.stats('dlq')).toMatchObject({ visible: 0, expired: 1 })
  })
})

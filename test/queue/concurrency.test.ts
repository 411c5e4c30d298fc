import { describe, expect, it, vi } from 'vitest'
import { call } from '../helpers'
import { advance, partition, type QueueClient, queueClient, type Received } from './support'

async function produce(q: QueueClient, queue: string, producer: number, batches: number, batchSize: number) {
  const ids: string[] = []
  for (let batch = 0; batch < batches; batch++) {
    const sent = await q.sendBatch(
      queue,
      Array.from({ length: batchSize }, (_, i) => ({ body: `p${producer}-b${batch}-m${i}` })),
    )
    ids.push(...sent.map((message) => message.messageId))
  }
  return ids
}

/** Receives and acks until `expected` deliveries were seen in total by all consumers. */
async function consume(q: QueueClient, queue: string, seen: Received[], expected: number) {
  while (seen.length < expected) {
    const messages = await q.receive(queue, {
      maxMessages: 10,
      waitSeconds: 1,
      visibilityTimeoutSeconds: 600,
    })
    if (messages.length === 0) continue
    seen.push(...messages)
    const acked = await call<{ acked: number }>(`/v1/queues/${queue}/messages/ack`, {
      token: q.token,
      body: { receiptHandles: messages.map((message) => message.receiptHandle) },
    })
    expect(acked.body.acked).toBe(messages.length)
  }
}

describe('many producers and consumers', () => {
  it('delivers every message exactly once when nothing fails (partitioned queue)', async () => {
    const q = await queueClient()
    await q.create('firehose', { partitions: 4 })
    const producers = 10
    const batches = 10
    const batchSize = 10
    const total = producers * batches * batchSize
    const seen: Received[] = []
    const [sentIds] = await Promise.all([
      Promise.all(Array.from({ length: producers }, (_, p) => produce(q, 'firehose', p, batches, batchSize))),
      Promise.all(Array.from({ length: 8 }, () => consume(q, 'firehose', seen, total))),
    ])
    const sent = sentIds.flat()
    expect(new Set(sent).size).toBe(total)
    const receivedIds = seen.map((message) => message.messageId)
    expect(receivedIds).toHaveLength(total)
    expect(new Set(receivedIds)).toEqual(new Set(sent))
    expect(seen.every((message) => message.receiveCount === 1)).toBe(true)

    const shown = await call<{
      stats: Record<string, number>
      partitionStats: Array<Record<string, number>>
    }>('/v1/queues/firehose', { token: q.token })
    expect(shown.body.stats).toMatchObject({
      sent: total,
      received: total,
      acked: total,
      visible: 0,
      inFlight: 0,
    })
    expect(shown.body.partitionStats).toHaveLength(4)
    expect(shown.body.partitionStats.every((stats) => (stats.sent ?? 0) > 0)).toBe(true)
  })

  it('redelivers what a crashed consumer left in flight, so every message is received at least once', async () => {
    const q = await queueClient()
    await q.create('flaky', { visibilityTimeoutSeconds: 30 })
    const sent = (
      await q.sendBatch(
        'flaky',
        Array.from({ length: 50 }, (_, i) => ({ body: `m${i}` })),
      )
    ).map((message) => message.messageId)
    const abandoned = await q.receive('flaky', { maxMessages: 20 })
    expect(abandoned).toHaveLength(20)
    await advance(partition(q.tenant, 'flaky'), 30_000)
    const seen: Received[] = []
    await Promise.all(Array.from({ length: 4 }, () => consume(q, 'flaky', seen, 50)))
    expect(new Set(seen.map((message) => message.messageId))).toEqual(new Set(sent))
    const abandonedIds = new Set(abandoned.map((message) => message.messageId))
    for (const message of seen) expect(message.receiveCount).toBe(abandonedIds.has(message.messageId) ? 2 : 1)
  })
})

describe('partitioned long polling', () => {
  it('wakes a receiver waiting on all partitions when any partition gets a message', async () => {
    const q = await queueClient()
    await q.create('wide', { partitions: 3 })
    const waiting = q.receive('wide', { waitSeconds: 20 })
    await vi.waitFor(async () => expect(await q.stats('wide')).toMatchObject({ waitingReceivers: 3 }), {
      timeout: 10_000,
    })
    const { messageId } = await q.send('wide', 'anywhere')
    expect((await waiting).map((message) => message.messageId)).toEqual([messageId])
  })
})

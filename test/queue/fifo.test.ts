import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { advance, partition, type QueueClient, queueClient } from './support'

const GROUPS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']
const PER_GROUP = 30

async function sendGroup(q: QueueClient, queue: string, group: string) {
  for (let start = 0; start < PER_GROUP; start += 10) {
    await q.sendBatch(
      queue,
      Array.from({ length: 10 }, (_, i) => ({
        body: `${group}:${start + i}`,
        groupId: group,
        deduplicationId: `${group}-${start + i}`,
      })),
    )
  }
}

describe('FIFO queues', () => {
  it('serves each group in order, one consumer per group at a time, under concurrent consumers', async () => {
    const q = await queueClient()
    await q.create('ledger', { fifo: true })
    await Promise.all(GROUPS.map((group) => sendGroup(q, 'ledger', group)))

    const processed = new Map<string, number[]>(GROUPS.map((group) => [group, []]))
    const heldBy = new Map<string, number>()
    const violations: string[] = []
    let done = 0
    async function consumer(id: number) {
      while (done < GROUPS.length * PER_GROUP) {
        const messages = await q.receive('ledger', { maxMessages: 1 + (id % 4), waitSeconds: 1 })
        if (messages.length === 0) continue
        const groups = new Set(messages.map((message) => message.groupId ?? ''))
        for (const group of groups) {
          const holder = heldBy.get(group)
          if (holder !== undefined) violations.push(`${group} held by ${holder} and ${id}`)
          heldBy.set(group, id)
        }
        for (const message of messages) {
          const [group, index] = message.body.split(':') as [string, string]
          processed.get(group)?.push(Number(index))
        }
        done += messages.length
        for (const group of groups) heldBy.delete(group)
        const acked = await call<{ acked: number }>('/v1/queues/ledger/messages/ack', {
          token: q.token,
          body: { receiptHandles: messages.map((message) => message.receiptHandle) },
        })
        expect(acked.body.acked).toBe(messages.length)
      }
    }
    await Promise.all(Array.from({ length: 6 }, (_, id) => consumer(id)))
    expect(violations).toEqual([])
    for (const group of GROUPS) {
      expect(processed.get(group)).toEqual(Array.from({ length: PER_GROUP }, (_, i) => i))
    }
  })

  it('holds a group while one of its messages is in flight and redelivers it first', async () => {
    const q = await queueClient()
    await q.create('orders', { fifo: true, contentBasedDeduplication: true, visibilityTimeoutSeconds: 30 })
    await q.sendBatch('orders', [
      { body: 'a1', groupId: 'a' },
      { body: 'a2', groupId: 'a' },
      { body: 'b1', groupId: 'b' },
    ])
    const [first] = await q.receive('orders', { maxMessages: 1 })
    expect(first?.body).toBe('a1')
    expect((await q.receive('orders', { maxMessages: 10 })).map((m) => m.body)).toEqual(['b1'])
    expect(await q.receive('orders')).toEqual([])
    await advance(partition(q.tenant, 'orders'), 30_000)
    const again = await q.receive('orders', { maxMessages: 10 })
    expect(again.map((m) => m.body)).toEqual(['a1', 'a2', 'b1'])
    expect(again[0]?.receiveCount).toBe(2)
  })

  it('lets a delayed message hold back the rest of its group', async () => {
    const q = await queueClient()
    await q.create('steps', { fifo: true, contentBasedDeduplication: true })
    await q.send('steps', { body: 'first', groupId: 'g', delaySeconds: 60 })
    await q.send('steps', { body: 'second', groupId: 'g' })
    await q.send('steps', { body: 'other', groupId: 'h' })
    const [other] = await q.receive('steps')
    expect(other?.body).toBe('other')
    expect((await q.ack('steps', other?.receiptHandle ?? '')).status).toBe(200)
    await advance(partition(q.tenant, 'steps'), 60_000)
    expect((await q.receive('steps')).map((m) => m.body)).toEqual(['first', 'second'])
  })

  it('stores a send once within the 5-minute window, by deduplication id or by content', async () => {
    const q = await queueClient()
    await q.create('payments', { fifo: true })
    const first = await q.send('payments', { body: 'charge 10', groupId: 'c1', deduplicationId: 'charge-1' })
    const repeat = await q.send('payments', {
      body: 'charge 10 (retry)',
      groupId: 'c1',
      deduplicationId: 'charge-1',
    })
    expect(repeat).toMatchObject({ messageId: first.messageId, duplicate: true })
    expect(await q.stats('payments')).toMatchObject({ sent: 1, deduplicated: 1, visible: 1 })

    const stub = partition(q.tenant, 'payments')
    await advance(stub, 299_000)
    const stillDuplicate = await q.send('payments', { body: 'x', groupId: 'c1', deduplicationId: 'charge-1' })
    expect(stillDuplicate.duplicate).toBe(true)
    await advance(stub, 1_000)
    const afterWindow = await q.send('payments', { body: 'x', groupId: 'c1', deduplicationId: 'charge-1' })
    expect(afterWindow.duplicate).toBe(false)
    expect(afterWindow.messageId).not.toBe(first.messageId)

    await q.create('by-content', { fifo: true, contentBasedDeduplication: true })
    const [one, two, three] = await q.sendBatch('by-content', [
      { body: 'same', groupId: 'g' },
      { body: 'same', groupId: 'g' },
      { body: 'different', groupId: 'g' },
    ])
    expect(two?.messageId).toBe(one?.messageId)
    expect(three?.messageId).not.toBe(one?.messageId)
    expect((await q.receive('by-content')).map((m) => m.body)).toEqual(['same', 'different'])
  })
})

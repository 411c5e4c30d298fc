import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { keyPartition } from '../../workers/queue/idempotency'
import { call } from '../helpers'
import { advance, partition, problemCode, type QueueClient, queueClient } from './support'

const DAY_MS = 24 * 3600 * 1000

function send(q: QueueClient, queue: string, key: string, body: unknown, batch = false) {
  return call<Record<string, unknown>>(`/v1/queues/${queue}/messages${batch ? '/batch' : ''}`, {
    token: q.token,
    body,
    headers: { 'idempotency-key': key },
  })
}

async function storedKeys(q: QueueClient, queue: string, index: number): Promise<number> {
  return runInDurableObject(partition(q.tenant, queue, index), (_instance, state) =>
    Number(state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency').one().n),
  )
}

describe('Idempotency-Key on sends', () => {
  it('replays a retried send with the same ids and stores one copy (partitioned standard queue)', async () => {
    const q = await queueClient()
    await q.create('orders', { partitions: 4 })
    const first = await send(q, 'orders', 'order-17', { body: 'pay', attributes: { a: '1', b: '2' } })
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const retry = await send(q, 'orders', 'order-17', { attributes: { b: '2', a: '1' }, body: 'pay' })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.body).toEqual(first.body)
    expect(await q.stats('orders')).toMatchObject({ sent: 1, visible: 1 })
    expect(await storedKeys(q, 'orders', keyPartition('order-17', 4))).toBe(1)
    const received = await q.receive('orders')
    expect(received.map((m) => m.messageId)).toEqual([first.body.messageId])
  })

  it('replays a batch with the same ids, on a FIFO queue too', async () => {
    const q = await queueClient()
    await q.create('ledger', { fifo: true, contentBasedDeduplication: true })
    const batch = {
      messages: [
        { body: 'a', groupId: 'g' },
        { body: 'b', groupId: 'g' },
      ],
    }
    const first = await send(q, 'ledger', 'batch-1', batch, true)
    expect(first.status).toBe(201)
    const retry = await send(q, 'ledger', 'batch-1', batch, true)
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.body).toEqual(first.body)
    expect(await q.stats('ledger')).toMatchObject({ sent: 2, deduplicated: 0, visible: 2 })
  })

  it('stores exactly one message for 50 concurrent sends with one key', async () => {
    const q = await queueClient()
    await q.create('burst', { partitions: 3 })
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => send(q, 'burst', 'same-key', { body: 'once' })),
    )
    expect(responses.every((response) => response.status === 201)).toBe(true)
    expect(new Set(responses.map((response) => response.body.messageId)).size).toBe(1)
    const replays = responses.filter((response) => response.headers.get('idempotent-replayed') === 'true')
    expect(replays).toHaveLength(49)
    expect(await q.stats('burst')).toMatchObject({ sent: 1, visible: 1 })
  })

  it('refuses the same key with a different request (422) and stores nothing', async () => {
    const q = await queueClient()
    await q.create('jobs')
    const first = await send(q, 'jobs', 'k1', { body: 'one' })
    expect(first.status).toBe(201)
    const other = await send(q, 'jobs', 'k1', { body: 'two' })
    expect(other.status).toBe(422)
    expect(problemCode(other.body)).toBe('unprocessable')
    const asBatch = await send(q, 'jobs', 'k1', { messages: [{ body: 'one' }] }, true)
    expect(asBatch.status).toBe(422)
    expect(problemCode(asBatch.body)).toBe('unprocessable')
    expect(await q.stats('jobs')).toMatchObject({ sent: 1, visible: 1 })
    expect((await q.receive('jobs')).map((m) => m.body)).toEqual(['one'])
  })

  it('rejects a malformed header (400) and stores nothing', async () => {
    const q = await queueClient()
    await q.create('strict')
    for (const key of ['', 'x'.repeat(256), 'has space', 'caf\u00e9', 'tab\there']) {
      const response = await call(`/v1/queues/strict/messages`, {
        token: q.token,
        body: { body: 'nope' },
        headers: { 'idempotency-key': key },
      })
      expect(response.status, key).toBe(400)
      expect(problemCode(response.body)).toBe('validation_failed')
      expect(JSON.stringify(response.body)).toContain('header/idempotency-key')
    }
    const batch = await send(q, 'strict', 'y'.repeat(256), { messages: [{ body: 'nope' }] }, true)
    expect(batch.status).toBe(400)
    expect(await q.stats('strict')).toMatchObject({ sent: 0, visible: 0 })
    expect((await send(q, 'strict', 'z'.repeat(255), { body: 'ok' })).status).toBe(201)
  })

  it('keeps keys per tenant and per queue', async () => {
    const q = await queueClient()
    const other = await queueClient()
    await q.create('a')
    await q.create('b')
    await other.create('a')
    const inA = await send(q, 'a', 'shared', { body: 'x' })
    const inB = await send(q, 'b', 'shared', { body: 'y' })
    const otherTenant = await send(other, 'a', 'shared', { body: 'z' })
    for (const response of [inA, inB, otherTenant]) {
      expect(response.status).toBe(201)
      expect(response.headers.get('idempotent-replayed')).toBeNull()
    }
    expect(new Set([inA, inB, otherTenant].map((r) => r.body.messageId)).size).toBe(3)
    expect(await q.stats('a')).toMatchObject({ sent: 1 })
    expect(await q.stats('b')).toMatchObject({ sent: 1 })
    expect(await other.stats('a')).toMatchObject({ sent: 1 })
  })

  it('keeps finding a key after the queue grows its partitions', async () => {
    const q = await queueClient()
    await q.create('growing', { partitions: 2 })
    const keys = Array.from({ length: 8 }, (_, i) => `grow-${i}`)
    const first = await Promise.all(keys.map((key) => send(q, 'growing', key, { body: key })))
    const grown = await call('/v1/queues/growing', {
      method: 'PATCH',
      token: q.token,
      body: { partitions: 8 },
    })
    expect(grown.status).toBe(200)
    const retries = await Promise.all(keys.map((key) => send(q, 'growing', key, { body: key })))
    expect(retries.map((r) => r.body)).toEqual(first.map((r) => r.body))
    expect(retries.every((r) => r.headers.get('idempotent-replayed') === 'true')).toBe(true)
    expect(await q.stats('growing')).toMatchObject({ sent: 8 })
  })

  it('forgets a key after 24 hours: the alarm deletes it and the key is accepted as new', async () => {
    const q = await queueClient()
    await q.create('daily', { retentionSeconds: 14 * 24 * 3600 })
    const stub = partition(q.tenant, 'daily')
    const first = await send(q, 'daily', 'nightly-run', { body: 'report' })
    await advance(stub, DAY_MS - 1_000)
    const stillKnown = await send(q, 'daily', 'nightly-run', { body: 'report' })
    expect(stillKnown.headers.get('idempotent-replayed')).toBe('true')
    expect(stillKnown.body).toEqual(first.body)

    await advance(stub, 1_000)
    expect(await storedKeys(q, 'daily', 0)).toBe(0)
    const again = await send(q, 'daily', 'nightly-run', { body: 'different report' })
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBeNull()
    expect(again.body.messageId).not.toBe(first.body.messageId)
    expect(await q.stats('daily')).toMatchObject({ sent: 2, visible: 2 })
  })
})

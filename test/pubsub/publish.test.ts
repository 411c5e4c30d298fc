import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { publishToTopic } from '../../workers/pubsub/api'
import { call } from '../helpers'
import {
  b64,
  elapse,
  fireAlarm,
  fromB64,
  inParallel,
  publish,
  pull,
  subscribe,
  topicFixture,
  topicObject,
} from './helpers'

type Problem = { type: string; errors?: Array<{ path: string; message: string }> }

async function headSeq(fixture: { token: string; topic: string }) {
  const got = await call<{ stats: { headSeq: number; messages: number } }>(
    `/v1/pubsub/topics/${fixture.topic}`,
    {
      token: fixture.token,
    },
  )
  return got.body.stats
}

describe('publishing', () => {
  it('stores a batch in order with attributes and ordering keys', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'all', type: 'pull' })
    const results = await publish(fixture, [
      { data: 'first', attributes: { kind: 'a' } },
      { data: 'second', orderingKey: 'k' },
      { attributes: { only: 'attributes' } },
    ])
    expect(results).toEqual([
      { messageId: '1', seq: 1, duplicate: false },
      { messageId: '2', seq: 2, duplicate: false },
      { messageId: '3', seq: 3, duplicate: false },
    ])
    const received = await pull(fixture, 'all')
    expect(
      received.map((r) => [r.message?.seq, fromB64(r.message?.data ?? ''), r.message?.attributes]),
    ).toEqual([
      [1, 'first', { kind: 'a' }],
      [2, 'second', {}],
      [3, '', { only: 'attributes' }],
    ])
    expect(received[1]?.message?.orderingKey).toBe('k')
  })

  it('assigns 1,000 concurrent publishes distinct consecutive sequence numbers', async () => {
    const fixture = await topicFixture()
    const results = await inParallel(1000, 200, (i) =>
      publish(fixture, [{ data: `m${i}` }]).then((r) => r[0]?.seq),
    )
    expect(new Set(results).size).toBe(1000)
    expect(Math.min(...(results as number[]))).toBe(1)
    expect(Math.max(...(results as number[]))).toBe(1000)
    expect((await headSeq(fixture)).messages).toBe(1000)
  })

  it('deduplicates inside the window: acknowledged with the first seq, stored once', async () => {
    const fixture = await topicFixture({ deduplicationWindowSeconds: 60 })
    await subscribe(fixture, { name: 'all', type: 'pull' })
    const first = await publish(fixture, [{ data: 'pay', deduplicationId: 'order-1' }])
    const again = await publish(fixture, [
      { data: 'pay (retry)', deduplicationId: 'order-1' },
      { data: 'other', deduplicationId: 'order-2' },
      { data: 'other (same batch)', deduplicationId: 'order-2' },
    ])
    expect(first).toEqual([{ messageId: '1', seq: 1, duplicate: false }])
    expect(again).toEqual([
      { messageId: '1', seq: 1, duplicate: true },
      { messageId: '2', seq: 2, duplicate: false },
      { messageId: '2', seq: 2, duplicate: true },
    ])
    const concurrent = await Promise.all(
      Array.from({ length: 50 }, () => publish(fixture, [{ data: 'race', deduplicationId: 'order-3' }])),
    )
    expect(new Set(concurrent.map((r) => r[0]?.seq))).toEqual(new Set([3]))
    expect(concurrent.filter((r) => r[0]?.duplicate === false)).toHaveLength(1)
    expect((await headSeq(fixture)).messages).toBe(3)
    expect((await pull(fixture, 'all')).map((r) => fromB64(r.message?.data ?? ''))).toEqual([
      'pay',
      'other',
      'race',
    ])

    await elapse(fixture.tenant, fixture.topic, 61_000)
    await fireAlarm(fixture.tenant, fixture.topic)
    const afterWindow = await publish(fixture, [{ data: 'pay', deduplicationId: 'order-1' }])
    expect(afterWindow).toEqual([{ messageId: '4', seq: 4, duplicate: false }])
  })

  it('rejects bad messages with 400 (or 413 for the body) and stores nothing', async () => {
    const fixture = await topicFixture()
    const big = 'A'.repeat(4 * Math.ceil((256 * 1024 + 3) / 3))
    const cases: Array<[unknown, string]> = [
      [{ messages: [] }, 'body/messages'],
      [{ messages: Array.from({ length: 101 }, () => ({ data: b64('x') })) }, 'body/messages'],
      [{ messages: [{ data: 'not base64!' }] }, 'body/messages/0/data'],
      [{ messages: [{}] }, 'body/messages/0'],
      [{ messages: [{ data: b64('x'), attributes: { '': 'empty key' } }] }, 'body/messages/0/attributes/'],
      [
        { messages: [{ data: b64('x'), attributes: { k: 'v'.repeat(1025) } }] },
        'body/messages/0/attributes/k',
      ],
      [{ messages: [{ data: b64('x'), orderingKey: '' }] }, 'body/messages/0/orderingKey'],
      [
        { messages: [{ data: b64('x'), deduplicationId: 'd'.repeat(257) }] },
        'body/messages/0/deduplicationId',
      ],
      [{ messages: [{ data: b64('ok') }, { data: big }] }, 'body/messages/1/data'],
      [{ messages: [{ data: b64('x'), extra: 1 }] }, 'body/messages/0/extra'],
    ]
    for (const [body, path] of cases) {
      const response = await call<Problem>(`/v1/pubsub/topics/${fixture.topic}/messages`, {
        token: fixture.token,
        body,
      })
      expect(response.status, path).toBe(400)
      expect(response.body.type).toMatch(/validation_failed$/)
      expect(response.body.errors?.map((e) => e.path)).toContain(path)
    }
    const attributesOverSize = {
      messages: [
        { data: btoa('x'.repeat(200 * 1024)), attributes: { a: 'v'.repeat(1000), ...manyAttributes(60) } },
      ],
    }
    const overSize = await call<Problem>(`/v1/pubsub/topics/${fixture.topic}/messages`, {
      token: fixture.token,
      body: attributesOverSize,
    })
    expect(overSize.status).toBe(400)
    const malformed = await call<Problem>(`/v1/pubsub/topics/${fixture.topic}/messages`, {
      token: fixture.token,
      body: '{"messages": [',
    })
    expect(malformed.status).toBe(400)
    const tooLarge = await call<Problem>(`/v1/pubsub/topics/${fixture.topic}/messages`, {
      token: fixture.token,
      body: 'x'.repeat(37 * 1024 * 1024),
    })
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.body.type).toMatch(/payload_too_large$/)
    expect(await headSeq(fixture)).toMatchObject({ headSeq: 0, messages: 0 })
  })

  it('accepts a full batch of 100 messages of 256 KiB', async () => {
    const fixture = await topicFixture()
    const full = btoa('z'.repeat(256 * 1024))
    const results = await call<{ messages: unknown[] }>(`/v1/pubsub/topics/${fixture.topic}/messages`, {
      token: fixture.token,
      body: { messages: Array.from({ length: 100 }, () => ({ data: full })) },
    })
    expect(results.status).toBe(200)
    expect(results.body.messages).toHaveLength(100)
    expect(await headSeq(fixture)).toMatchObject({ headSeq: 100, messages: 100 })
  })

  it('trims by age and by size from the alarm; subscribers lose only what retention removed', async () => {
    const fixture = await topicFixture({ retention: { maxAgeSeconds: 3600, maxBytes: 1024 * 1024 } })
    await subscribe(fixture, { name: 'late', type: 'pull' })
    await publish(fixture, [{ data: 'old-1' }, { data: 'old-2' }])
    await elapse(fixture.tenant, fixture.topic, 3_601_000)
    await publish(fixture, [{ data: 'new-1' }])
    await fireAlarm(fixture.tenant, fixture.topic)
    const afterAge = await call<{ stats: { oldestSeq: number; messages: number } }>(
      `/v1/pubsub/topics/${fixture.topic}`,
      { token: fixture.token },
    )
    expect(afterAge.body.stats).toMatchObject({ oldestSeq: 3, messages: 1 })
    expect((await pull(fixture, 'late')).map((r) => fromB64(r.message?.data ?? ''))).toEqual(['new-1'])

    const quarter = 'q'.repeat(256 * 1024)
    await publish(fixture, [{ data: quarter }, { data: quarter }, { data: quarter }, { data: quarter }])
    await publish(fixture, [{ data: quarter }])
    await fireAlarm(fixture.tenant, fixture.topic)
    const afterSize = await call<{ stats: { oldestSeq: number; messages: number; bytes: number } }>(
      `/v1/pubsub/topics/${fixture.topic}`,
      { token: fixture.token },
    )
    expect(afterSize.body.stats.bytes).toBeLessThanOrEqual(1024 * 1024)
    expect(afterSize.body.stats).toMatchObject({ oldestSeq: 5, messages: 4 })
    const stored = await runInDurableObject(topicObject(fixture.tenant, fixture.topic), (_, state) =>
      state.storage.sql.exec<{ seq: number }>('SELECT seq FROM messages ORDER BY seq').toArray(),
    )
    expect(stored.map((row) => row.seq)).toEqual([5, 6, 7, 8])
  })

  it('publishToTopic publishes for another block, with the same bounds', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'jobs', type: 'pull' })
    const { env } = await import('cloudflare:test')
    const result = await publishToTopic(env, fixture.tenant, fixture.topic, {
      data: '{"job":"nightly"}',
      attributes: { source: 'scheduler' },
      deduplicationId: 'run-1',
    })
    expect(result).toEqual({ messageId: '1', seq: 1, duplicate: false })
    const again = await publishToTopic(env, fixture.tenant, fixture.topic, {
      data: new TextEncoder().encode('{"job":"nightly"}'),
      deduplicationId: 'run-1',
    })
    expect(again.duplicate).toBe(true)
    const [received] = await pull(fixture, 'jobs')
    expect(fromB64(received?.message?.data ?? '')).toBe('{"job":"nightly"}')
    await expect(publishToTopic(env, fixture.tenant, 'missing-topic', { data: 'x' })).rejects.toThrow(
      /not_found/,
    )
    await expect(
      publishToTopic(env, fixture.tenant, fixture.topic, { data: 'x'.repeat(256 * 1024 + 1) }),
    ).rejects.toThrow(/validation_failed/)
  })
})

function manyAttributes(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v'.repeat(1024)]))
}

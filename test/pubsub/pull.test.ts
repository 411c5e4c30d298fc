import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import {
  ack,
  createTopic,
  elapse,
  type Fixture,
  fireAlarm,
  fromB64,
  inParallel,
  publish,
  pull,
  type Received,
  subscribe,
  topicFixture,
} from './helpers'

type Problem = { type: string; errors?: Array<{ path: string; message: string }> }

const text = (received: Received) => fromB64(received.message?.data ?? '')

/** Pulls and acks until `expected` messages arrived or a pull comes back empty. */
async function drain(fixture: Fixture, subscription: string, expected: number): Promise<Received[]> {
  const all: Received[] = []
  while (all.length < expected) {
    const batch = await pull(fixture, subscription, { maxMessages: 100 })
    if (batch.length === 0) break
    all.push(...batch)
    await ack(
      fixture,
      subscription,
      batch.map((r) => r.ackId),
    )
  }
  return all
}

describe('pull subscriptions', () => {
  it('three pull subscriptions each receive every message exactly once', async () => {
    const fixture = await topicFixture()
    const names = ['pull-a', 'pull-b', 'pull-c']
    for (const name of names) await subscribe(fixture, { name, type: 'pull' })
    await inParallel(30, 10, (i) =>
      publish(
        fixture,
        Array.from({ length: 10 }, (_, j) => ({ data: `m${i * 10 + j}` })),
      ),
    )
    for (const name of names) {
      const received = await drain(fixture, name, 300)
      const seqs = received.map((r) => r.message?.seq ?? 0)
      expect(received).toHaveLength(300)
      expect(new Set(seqs).size).toBe(300)
      expect(received.every((r) => r.deliveryAttempt === 1)).toBe(true)
      expect(await pull(fixture, name)).toEqual([])
      const stats = await call<{ stats: { backlog: number; outstanding: number } }>(
        `/v1/pubsub/topics/${fixture.topic}/subscriptions/${name}`,
        { token: fixture.token },
      )
      expect(stats.body.stats).toMatchObject({ backlog: 0, outstanding: 0 })
    }
  })

  it('a new subscription sees only messages published after it was created', async () => {
    const fixture = await topicFixture()
    await publish(fixture, [{ data: 'before' }])
    await subscribe(fixture, { name: 'late', type: 'pull' })
    await publish(fixture, [{ data: 'after' }])
    expect((await pull(fixture, 'late')).map(text)).toEqual(['after'])
  })

  it('acks, nacks and extends deadlines only under the current lease', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'work', type: 'pull', ackDeadlineSeconds: 30 })
    await publish(fixture, [{ data: 'a' }, { data: 'b' }, { data: 'c' }])
    const [a, b, c] = await pull(fixture, 'work')
    if (!a || !b || !c) throw new Error('expected three messages')
    expect(await pull(fixture, 'work')).toEqual([])

    const nacked = await call<{ count: number }>(
      `/v1/pubsub/topics/${fixture.topic}/subscriptions/work/nack`,
      {
        token: fixture.token,
        body: { ackIds: [b.ackId] },
      },
    )
    expect(nacked.body.count).toBe(1)
    const extended = await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/work/modify-deadline`, {
      token: fixture.token,
      body: { ackIds: [c.ackId], ackDeadlineSeconds: 600 },
    })
    expect(extended.body).toEqual({ count: 1, invalidAckIds: [] })
    const again = await pull(fixture, 'work')
    expect(again.map((r) => [text(r), r.deliveryAttempt])).toEqual([['b', 2]])

    expect((await ack(fixture, 'work', [a.ackId, b.ackId])).body).toEqual({
      count: 1,
      invalidAckIds: [b.ackId],
    })
    expect((await ack(fixture, 'work', [a.ackId])).body).toEqual({ count: 0, invalidAckIds: [a.ackId] })

    await elapse(fixture.tenant, fixture.topic, 31_000)
    const expired = await pull(fixture, 'work')
    expect(expired.map((r) => [text(r), r.deliveryAttempt])).toEqual([['b', 3]])
    await ack(
      fixture,
      'work',
      expired.map((r) => r.ackId),
    )
    await elapse(fixture.tenant, fixture.topic, 600_000)
    const redelivered = await pull(fixture, 'work')
    expect(redelivered.map((r) => [text(r), r.deliveryAttempt])).toEqual([['c', 2]])
    expect((await ack(fixture, 'work', [c.ackId])).body.invalidAckIds).toEqual([c.ackId])
    expect(
      (
        await ack(
          fixture,
          'work',
          redelivered.map((r) => r.ackId),
        )
      ).body.count,
    ).toBe(1)
    expect(await pull(fixture, 'work')).toEqual([])
  })

  it('redelivers after the ack deadline and dead-letters after maxDeliveries', async () => {
    const fixture = await topicFixture()
    await createTopic(fixture, `${fixture.topic}-dlq`)
    const dlq = { ...fixture, topic: `${fixture.topic}-dlq` }
    await subscribe(dlq, { name: 'dead', type: 'pull' })
    await subscribe(fixture, {
      name: 'flaky',
      type: 'pull',
      ackDeadlineSeconds: 10,
      deadLetter: { topic: dlq.topic, maxDeliveries: 2 },
    })
    await publish(fixture, [{ data: 'poison', attributes: { kind: 'bad' } }, { data: 'fine' }])

    const first = await pull(fixture, 'flaky')
    expect(first.map((r) => [text(r), r.deliveryAttempt])).toEqual([
      ['poison', 1],
      ['fine', 1],
    ])
    await ack(
      fixture,
      'flaky',
      first.filter((r) => text(r) === 'fine').map((r) => r.ackId),
    )
    expect(await pull(fixture, 'flaky')).toEqual([])
    await elapse(fixture.tenant, fixture.topic, 11_000)
    const second = await pull(fixture, 'flaky')
    expect(second.map((r) => [text(r), r.deliveryAttempt])).toEqual([['poison', 2]])

    await elapse(fixture.tenant, fixture.topic, 11_000)
    expect(await pull(fixture, 'flaky')).toEqual([])
    expect(await fireAlarm(fixture.tenant, fixture.topic)).toBe(true)

    const dead = await pull(dlq, 'dead')
    expect(dead).toHaveLength(1)
    expect(text(dead[0] as Received)).toBe('poison')
    expect(dead[0]?.message?.attributes).toEqual({
      kind: 'bad',
      'dead-letter-source-topic': fixture.topic,
      'dead-letter-source-subscription': 'flaky',
      'dead-letter-source-seq': '1',
      'dead-letter-delivery-attempts': '2',
    })
    const stats = await call<{ stats: { backlog: number } }>(
      `/v1/pubsub/topics/${fixture.topic}/subscriptions/flaky`,
      { token: fixture.token },
    )
    expect(stats.body.stats.backlog).toBe(0)
    await elapse(fixture.tenant, fixture.topic, 60_000)
    await fireAlarm(fixture.tenant, fixture.topic)
    expect(await pull(dlq, 'dead')).toEqual([])
  })

  it('keeps exhausted messages while the dead-letter topic is missing', async () => {
    const fixture = await topicFixture()
    await createTopic(fixture, `${fixture.topic}-dlq`)
    await subscribe(fixture, {
      name: 'once',
      type: 'pull',
      ackDeadlineSeconds: 10,
      deadLetter: { topic: `${fixture.topic}-dlq`, maxDeliveries: 1 },
    })
    await call(`/v1/pubsub/topics/${fixture.topic}-dlq`, { token: fixture.token, method: 'DELETE' })
    await publish(fixture, [{ data: 'stuck' }])
    await pull(fixture, 'once')
    await elapse(fixture.tenant, fixture.topic, 11_000)
    await fireAlarm(fixture.tenant, fixture.topic)
    const stats = await call<{ stats: { backlog: number } }>(
      `/v1/pubsub/topics/${fixture.topic}/subscriptions/once`,
      { token: fixture.token },
    )
    expect(stats.body.stats.backlog).toBe(1)
  })

  it('delivers each ordering key in publish order under concurrent publishers, one outstanding per key', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'ordered', type: 'pull' })
    const publishers = 10
    const perPublisher = 20
    await Promise.all(
      Array.from({ length: publishers }, async (_, p) => {
        for (let i = 0; i < perPublisher; i++) {
          await publish(fixture, [{ data: `${p}:${i}`, orderingKey: `key-${p % 3}` }])
        }
      }),
    )
    const delivered: Received[] = []
    for (let round = 0; delivered.length < publishers * perPublisher && round < 500; round++) {
      const batch = await pull(fixture, 'ordered', { maxMessages: 100 })
      const keys = batch.map((r) => r.message?.orderingKey)
      expect(new Set(keys).size).toBe(keys.length)
      delivered.push(...batch)
      await ack(
        fixture,
        'ordered',
        batch.map((r) => r.ackId),
      )
    }
    expect(delivered).toHaveLength(publishers * perPublisher)
    for (const key of ['key-0', 'key-1', 'key-2']) {
      const seqs = delivered.filter((r) => r.message?.orderingKey === key).map((r) => r.message?.seq ?? 0)
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
    }
    for (let p = 0; p < publishers; p++) {
      const own = delivered.map(text).filter((t) => t.startsWith(`${p}:`))
      expect(own).toEqual(Array.from({ length: perPublisher }, (_, i) => `${p}:${i}`))
    }
  })

  it('a key waits for its outstanding message; other keys and unkeyed messages flow', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'ordered', type: 'pull', ackDeadlineSeconds: 60 })
    await publish(fixture, [
      { data: 'a1', orderingKey: 'a' },
      { data: 'a2', orderingKey: 'a' },
      { data: 'b1', orderingKey: 'b' },
      { data: 'free' },
    ])
    const first = await pull(fixture, 'ordered')
    expect(first.map(text)).toEqual(['a1', 'b1', 'free'])
    expect(await pull(fixture, 'ordered')).toEqual([])
    const a1 = first[0] as Received
    await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/ordered/nack`, {
      token: fixture.token,
      body: { ackIds: [a1.ackId] },
    })
    const redelivered = await pull(fixture, 'ordered')
    expect(redelivered.map(text)).toEqual(['a1'])
    await ack(
      fixture,
      'ordered',
      redelivered.map((r) => r.ackId),
    )
    expect((await pull(fixture, 'ordered')).map(text)).toEqual(['a2'])
  })

  it('filters on attributes before delivery', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'eu-orders',
      type: 'pull',
      filter: {
        and: [
          { attribute: 'type', prefix: 'order.' },
          {
            or: [
              { attribute: 'region', equals: 'eu' },
              { attribute: 'priority', exists: true },
            ],
          },
          { not: { attribute: 'test', exists: true } },
        ],
      },
    })
    await publish(fixture, [
      { data: '1', attributes: { type: 'order.created', region: 'eu' } },
      { data: '2', attributes: { type: 'order.created', region: 'us' } },
      { data: '3', attributes: { type: 'order.paid', region: 'us', priority: 'high' } },
      { data: '4', attributes: { type: 'user.created', region: 'eu' } },
      { data: '5', attributes: { type: 'order.created', region: 'eu', test: 'yes' } },
      { data: '6' },
    ])
    expect((await pull(fixture, 'eu-orders')).map(text)).toEqual(['1', '3'])
  })

  it('seeks to a sequence number and to a time', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'replay', type: 'pull' })
    await publish(fixture, [{ data: 'one' }, { data: 'two' }])
    await elapse(fixture.tenant, fixture.topic, 60_000)
    const middle = new Date(Date.now() - 30_000).toISOString()
    await publish(fixture, [{ data: 'three' }, { data: 'four' }])
    expect(await drain(fixture, 'replay', 4)).toHaveLength(4)

    const toSeq = await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/replay/seek`, {
      token: fixture.token,
      body: { seq: 2 },
    })
    expect(toSeq.body).toEqual({ cursor: 1 })
    expect((await drain(fixture, 'replay', 3)).map(text)).toEqual(['two', 'three', 'four'])

    const toTime = await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/replay/seek`, {
      token: fixture.token,
      body: { time: middle },
    })
    expect(toTime.body).toEqual({ cursor: 2 })
    const leased = await pull(fixture, 'replay', { maxMessages: 1 })
    expect(leased.map(text)).toEqual(['three'])
    await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/replay/seek`, {
      token: fixture.token,
      body: { time: new Date(Date.now() + 60_000).toISOString() },
    })
    expect((await ack(fixture, 'replay', [leased[0]?.ackId ?? ''])).body.count).toBe(0)
    expect(await pull(fixture, 'replay')).toEqual([])
    await publish(fixture, [{ data: 'five' }])
    expect((await pull(fixture, 'replay')).map(text)).toEqual(['five'])
  })

  it('rejects bad subscription requests with the right 4xx and changes nothing', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'ok', type: 'pull' })
    const base = `/v1/pubsub/topics/${fixture.topic}/subscriptions`
    const bad: Array<[unknown, number, string]> = [
      [{ name: 'x', type: 'carrier-pigeon' }, 400, 'body/type'],
      [{ name: 'x', type: 'push' }, 400, 'body/push'],
      [{ name: 'x', type: 'pull', push: { endpoint: 'https://push.test/' } }, 400, 'body/push'],
      [{ name: 'x', type: 'push', push: { endpoint: 'http://plain.test/' } }, 400, 'body/push/endpoint'],
      [{ name: 'x', type: 'pull', ackDeadlineSeconds: 601 }, 400, 'body/ackDeadlineSeconds'],
      [{ name: 'x', type: 'pull', format: 'xml' }, 400, 'body/format'],
      [{ name: 'x', type: 'streaming', deadLetter: { topic: 'other' } }, 400, 'body/deadLetter'],
      [{ name: 'x', type: 'pull', filter: { attribute: 'a', equals: 'b', prefix: 'c' } }, 400, 'body/filter'],
      [{ name: 'x', type: 'pull', filter: deepFilter(6) }, 400, 'body/filter'],
      [{ name: 'x', type: 'pull', deadLetter: { topic: 'missing' } }, 422, ''],
      [{ name: 'x', type: 'pull', deadLetter: { topic: fixture.topic } }, 422, ''],
      [{ name: 'ok', type: 'pull' }, 409, ''],
    ]
    for (const [body, status, path] of bad) {
      const response = await call<Problem>(base, { token: fixture.token, body })
      expect(response.status, JSON.stringify(body)).toBe(status)
      if (path) expect(response.body.errors?.map((e) => e.path)).toContain(path)
    }
    const list = await call<{ items: Array<{ name: string }> }>(base, { token: fixture.token })
    expect(list.body.items.map((s) => s.name)).toEqual(['ok'])

    const missingTopic = await call<Problem>('/v1/pubsub/topics/nope/subscriptions', {
      token: fixture.token,
      body: { name: 'x', type: 'pull' },
    })
    expect(missingTopic.status).toBe(404)
    expect((await call(`${base}/missing/pull`, { token: fixture.token, body: {} })).status).toBe(404)
    expect((await call(`${base}/ok/pull`, { token: fixture.token, body: { maxMessages: 0 } })).status).toBe(
      400,
    )
    expect((await call(`${base}/ok/ack`, { token: fixture.token, body: { ackIds: ['x'] } })).status).toBe(400)
    expect(
      (await call(`${base}/ok/seek`, { token: fixture.token, body: { time: 'yesterday' } })).status,
    ).toBe(400)
    await subscribe(fixture, { name: 'streamer', type: 'streaming' })
    const wrongType = await call<Problem>(`${base}/streamer/pull`, { token: fixture.token, body: {} })
    expect(wrongType.status).toBe(409)
    expect(wrongType.body.type).toMatch(/conflict$/)
  })

  it('lists subscriptions with a cursor and deletes them', async () => {
    const fixture = await topicFixture()
    for (const name of ['s1', 's2', 's3']) await subscribe(fixture, { name, type: 'pull' })
    const base = `/v1/pubsub/topics/${fixture.topic}/subscriptions`
    const first = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(`${base}?limit=2`, {
      token: fixture.token,
    })
    expect(first.body.items.map((s) => s.name)).toEqual(['s1', 's2'])
    const second = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(
      `${base}?limit=2&cursor=${first.body.nextCursor}`,
      { token: fixture.token },
    )
    expect(second.body.items.map((s) => s.name)).toEqual(['s3'])
    expect(second.body.nextCursor).toBeUndefined()
    expect((await call(`${base}/s2`, { token: fixture.token, method: 'DELETE' })).status).toBe(200)
    expect((await call(`${base}/s2`, { token: fixture.token })).status).toBe(404)
    expect((await call(`${base}/s2`, { token: fixture.token, method: 'DELETE' })).status).toBe(404)
  })
})

function deepFilter(depth: number): unknown {
  return depth <= 1 ? { attribute: 'a', exists: true } : { not: deepFilter(depth - 1) }
}

import { runInDurableObject } from 'cloudflare:test'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createTopic,
  elapse,
  fireAlarm,
  fromB64,
  mockPushEndpoints,
  type PushRequest,
  publish,
  pull,
  settle,
  subscribe,
  topicFixture,
  topicObject,
} from './helpers'

let restore: (() => void) | undefined
afterEach(() => {
  restore?.()
  restore = undefined
})

function endpoints(respond: (request: PushRequest) => Response | Promise<Response>) {
  const mock = mockPushEndpoints(respond)
  restore = mock.restore
  return mock.received
}

const pushed = (request: PushRequest) =>
  JSON.parse(request.body) as {
    message: { seq: number; data: string; orderingKey?: string }
    subscription: string
  }

describe('push subscriptions', () => {
  it('three push subscriptions each receive every message exactly once, signed per Standard Webhooks', async () => {
    const received = endpoints(() => new Response(null, { status: 204 }))
    const fixture = await topicFixture()
    const secrets = new Map<string, string>()
    for (const name of ['push-a', 'push-b', 'push-c']) {
      const created = (await subscribe(fixture, {
        name,
        type: 'push',
        push: { endpoint: `https://push.test/${name}` },
      })) as { push: { secret: string } }
      expect(created.push.secret).toMatch(/^whsec_/)
      secrets.set(name, created.push.secret)
    }
    for (let batch = 0; batch < 5; batch++) {
      await publish(
        fixture,
        Array.from({ length: 10 }, (_, i) => ({ data: `m${batch * 10 + i}` })),
      )
    }
    await settle(fixture.tenant, fixture.topic)

    for (const [name, secret] of secrets) {
      const mine = received.filter((request) => request.url === `https://push.test/${name}`)
      expect(mine).toHaveLength(50)
      const seqs = mine.map((request) => pushed(request).message.seq)
      expect(new Set(seqs)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => i + 1)))
      for (const request of mine) {
        const verified = new Webhook(secret).verify(request.body, request.headers) as { subscription: string }
        expect(verified.subscription).toBe(name)
        expect(request.headers['webhook-id']).toMatch(
          new RegExp(`^${fixture.topic}/${name}/${pushed(request).message.seq}/\\d+$`),
        )
        expect(request.headers['content-type']).toBe('application/json')
      }
      const wrongSecret = new Webhook(secrets.get(name === 'push-a' ? 'push-b' : 'push-a') ?? '')
      expect(() => wrongSecret.verify(mine[0]?.body ?? '', mine[0]?.headers ?? {})).toThrow()
    }
    const got = await fetchSubscription(fixture, 'push-a')
    expect(got.push.secret).toBeUndefined()
    expect(got.stats).toMatchObject({ backlog: 0, outstanding: 0 })
  })

  it('retries a failing endpoint with the same webhook id until it succeeds', async () => {
    let calls = 0
    const received = endpoints(() => new Response(null, { status: ++calls <= 2 ? 503 : 200 }))
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'retry',
      type: 'push',
      push: { endpoint: 'https://push.test/retry', retry: { baseDelaySeconds: 0 } },
    })
    await publish(fixture, [{ data: 'eventually' }])
    await settle(fixture.tenant, fixture.topic)
    expect(received).toHaveLength(3)
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1)
    expect(received.map((r) => r.headers['x-pubsub-delivery-attempt'])).toEqual(['1', '2', '3'])
    expect(new Set(received.map((r) => r.body)).size).toBe(1)
    await fireAlarm(fixture.tenant, fixture.topic)
    expect(received).toHaveLength(3)
  })

  it('backs off with full jitter between attempts, driven by the alarm', async () => {
    let healthy = false
    const received = endpoints(() => new Response(null, { status: healthy ? 200 : 500 }))
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'slow-retry',
      type: 'push',
      push: { endpoint: 'https://push.test/slow', retry: { baseDelaySeconds: 60, maxDelaySeconds: 600 } },
    })
    const before = Date.now()
    await publish(fixture, [{ data: 'later' }])
    await settle(fixture.tenant, fixture.topic)
    const attemptsSoFar = received.length
    expect(attemptsSoFar).toBeGreaterThanOrEqual(1)
    const stored = await runInDurableObject(topicObject(fixture.tenant, fixture.topic), (_, state) => ({
      row: state.storage.sql
        .exec<{ visible_at: number; attempts: number; last_error: string }>(
          'SELECT visible_at, attempts, last_error FROM deliveries',
        )
        .one(),
      timer: state.storage.sql
        .exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = 'subscription:slow-retry'")
        .one(),
    }))
    expect(stored.row.attempts).toBe(attemptsSoFar)
    expect(stored.row.last_error).toBe('HTTP 500')
    expect(stored.row.visible_at).toBeLessThanOrEqual(Date.now() + 60_000 * 2 ** (attemptsSoFar - 1))
    expect(stored.row.visible_at).toBeGreaterThanOrEqual(before)
    expect(stored.timer.due_at).toBe(stored.row.visible_at)

    healthy = true
    await elapse(fixture.tenant, fixture.topic, 3_600_000)
    await fireAlarm(fixture.tenant, fixture.topic)
    expect(received.length).toBe(attemptsSoFar + 1)
    expect((await fetchSubscription(fixture, 'slow-retry')).stats.backlog).toBe(0)
  })

  it('dead-letters a message once its push attempts are exhausted', async () => {
    const received = endpoints(() => new Response('nope', { status: 500 }))
    const fixture = await topicFixture()
    await createTopic(fixture, `${fixture.topic}-dlq`)
    const dlq = { ...fixture, topic: `${fixture.topic}-dlq` }
    await subscribe(dlq, { name: 'dead', type: 'pull' })
    await subscribe(fixture, {
      name: 'doomed',
      type: 'push',
      push: { endpoint: 'https://push.test/doomed', retry: { baseDelaySeconds: 0 } },
      deadLetter: { topic: dlq.topic, maxDeliveries: 3 },
    })
    await publish(fixture, [{ data: 'undeliverable', attributes: { a: '1' } }])
    await settle(fixture.tenant, fixture.topic)
    expect(received).toHaveLength(3)
    const dead = await pull(dlq, 'dead')
    expect(dead.map((r) => fromB64(r.message?.data ?? ''))).toEqual(['undeliverable'])
    expect(dead[0]?.message?.attributes).toMatchObject({
      a: '1',
      'dead-letter-source-subscription': 'doomed',
      'dead-letter-delivery-attempts': '3',
      'dead-letter-last-error': 'HTTP 500',
    })
    expect((await fetchSubscription(fixture, 'doomed')).stats.backlog).toBe(0)
  })

  it('pushes each ordering key in order, one in flight per key', async () => {
    const inFlight = new Map<string, number>()
    let overlapped = false
    const received = endpoints(async (request) => {
      const key = pushed(request).message.orderingKey ?? ''
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1)
      if ((inFlight.get(key) ?? 0) > 1) overlapped = true
      await new Promise((resolve) => setTimeout(resolve, 1))
      inFlight.set(key, (inFlight.get(key) ?? 0) - 1)
      return new Response(null, { status: 200 })
    })
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'ordered',
      type: 'push',
      push: { endpoint: 'https://push.test/ordered' },
    })
    await Promise.all(
      Array.from({ length: 4 }, async (_, p) => {
        for (let i = 0; i < 15; i++)
          await publish(fixture, [{ data: `${p}:${i}`, orderingKey: `key-${p % 2}` }])
      }),
    )
    await settle(fixture.tenant, fixture.topic)
    expect(received).toHaveLength(60)
    expect(overlapped).toBe(false)
    for (const key of ['key-0', 'key-1']) {
      const seqs = received.map(pushed).filter((body) => body.message.orderingKey === key)
      expect(seqs.map((body) => body.message.seq)).toEqual(
        seqs.map((body) => body.message.seq).sort((a, b) => a - b),
      )
    }
  })

  it('a hanging endpoint delays neither other push subscriptions nor pull subscribers', async () => {
    let release: (() => void) | undefined
    const hung = new Promise<void>((resolve) => {
      release = resolve
    })
    const received = endpoints(async (request) => {
      if (request.url.endsWith('/stuck')) await hung
      return new Response(null, { status: 200 })
    })
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'stuck',
      type: 'push',
      push: { endpoint: 'https://push.test/stuck', timeoutSeconds: 30 },
    })
    await subscribe(fixture, {
      name: 'healthy',
      type: 'push',
      push: { endpoint: 'https://push.test/healthy' },
    })
    await subscribe(fixture, { name: 'puller', type: 'pull' })
    await publish(fixture, [{ data: 'one' }, { data: 'two' }, { data: 'three' }])

    expect((await pull(fixture, 'puller')).map((r) => fromB64(r.message?.data ?? ''))).toEqual([
      'one',
      'two',
      'three',
    ])
    await vi.waitFor(() => expect(received.filter((r) => r.url.endsWith('/healthy'))).toHaveLength(3), {
      timeout: 10_000,
    })
    await publish(fixture, [{ data: 'four' }])
    expect((await pull(fixture, 'puller')).map((r) => fromB64(r.message?.data ?? ''))).toEqual(['four'])
    await vi.waitFor(() => expect(received.filter((r) => r.url.endsWith('/healthy'))).toHaveLength(4), {
      timeout: 10_000,
    })
    expect(received.filter((r) => r.url.endsWith('/stuck')).length).toBeGreaterThan(0)
    expect((await fetchSubscription(fixture, 'stuck')).stats.outstanding).toBeGreaterThan(0)

    release?.()
    await settle(fixture.tenant, fixture.topic)
    expect(received.filter((r) => r.url.endsWith('/stuck'))).toHaveLength(4)
  })

  it('a seek replays to the endpoint under new webhook ids', async () => {
    const received = endpoints(() => new Response(null, { status: 200 }))
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'replay', type: 'push', push: { endpoint: 'https://push.test/replay' } })
    await publish(fixture, [{ data: 'one' }, { data: 'two' }])
    await settle(fixture.tenant, fixture.topic)
    const { call } = await import('../helpers')
    const seek = await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/replay/seek`, {
      token: fixture.token,
      body: { seq: 2 },
    })
    expect(seek.body).toEqual({ cursor: 1 })
    await settle(fixture.tenant, fixture.topic)
    expect(received.map((request) => pushed(request).message.seq)).toEqual([1, 2, 2])
    expect(new Set(received.map((request) => request.headers['webhook-id'])).size).toBe(3)
  })

  it('pushes in CloudEvents structured and binary modes', async () => {
    const received = endpoints(() => new Response(null, { status: 200 }))
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'structured',
      type: 'push',
      format: 'cloudevents-structured',
      push: { endpoint: 'https://push.test/structured' },
    })
    await subscribe(fixture, {
      name: 'binary',
      type: 'push',
      format: 'cloudevents-binary',
      push: { endpoint: 'https://push.test/binary' },
    })
    await publish(fixture, [{ data: 'plain', attributes: { k: 'v' } }])
    await settle(fixture.tenant, fixture.topic)
    const structured = received.find((r) => r.url.endsWith('/structured'))
    const binary = received.find((r) => r.url.endsWith('/binary'))
    expect(structured?.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8')
    expect(JSON.parse(structured?.body ?? '{}')).toMatchObject({
      specversion: '1.0',
      id: '1',
      source: `/v1/pubsub/topics/${fixture.topic}`,
      type: 'edgeblocks.pubsub.v1.messagePublished',
      datacontenttype: 'application/json',
      data: { message: { seq: 1, data: btoa('plain'), attributes: { k: 'v' } }, subscription: 'structured' },
    })
    expect(binary?.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-id': '1',
      'ce-type': 'edgeblocks.pubsub.v1.messagePublished',
      'content-type': 'application/json',
    })
    expect(JSON.parse(binary?.body ?? '{}')).toMatchObject({
      message: { data: btoa('plain') },
      subscription: 'binary',
    })
  })
})

async function fetchSubscription(fixture: { token: string; topic: string }, name: string) {
  const { call } = await import('../helpers')
  const response = await call<{
    push: { secret?: string }
    stats: { backlog: number; outstanding: number }
  }>(`/v1/pubsub/topics/${fixture.topic}/subscriptions/${name}`, { token: fixture.token })
  return response.body
}

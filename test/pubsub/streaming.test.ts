import { evictDurableObject } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { call } from '../helpers'
import {
  type Fixture,
  fromB64,
  mockPushEndpoints,
  publish,
  settle,
  subscribe,
  topicFixture,
  topicObject,
} from './helpers'
import { type Frame, openEventStream, openWebSocket, type StreamClient } from './stream-clients'

const clients: StreamClient[] = []
let restoreFetch: (() => void) | undefined
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  restoreFetch?.()
  restoreFetch = undefined
})

async function track<T extends StreamClient>(client: Promise<T>): Promise<T> {
  const opened = await client
  clients.push(opened)
  return opened
}

const texts = (frames: Frame[]) => frames.map((frame) => fromB64(frame.message?.data ?? ''))

async function waitForFrames(client: StreamClient, count: number) {
  await vi.waitFor(() => expect(client.frames.length).toBeGreaterThanOrEqual(count), { timeout: 10_000 })
}

/** Waits for the expected frames, lets everything in flight land, and checks nothing more came. */
async function expectExactly(fixture: Fixture, client: StreamClient, count: number) {
  await waitForFrames(client, count)
  await settle(fixture.tenant, fixture.topic)
  await call('/healthz')
  expect(client.frames).toHaveLength(count)
}

describe('streaming subscriptions', () => {
  it('three streaming subscriptions deliver every message exactly once over WebSocket and SSE', async () => {
    const fixture = await topicFixture()
    const streams: StreamClient[] = []
    for (const name of ['live-a', 'live-b', 'live-c']) {
      await subscribe(fixture, { name, type: 'streaming' })
      streams.push(await track(openWebSocket(fixture, name)), await track(openEventStream(fixture, name)))
    }
    for (let batch = 0; batch < 5; batch++) {
      await publish(
        fixture,
        Array.from({ length: 20 }, (_, i) => ({ data: `m${batch * 20 + i}`, orderingKey: `k${i % 3}` })),
      )
    }
    for (const stream of streams) {
      await expectExactly(fixture, stream, 100)
      expect(stream.frames.map((frame) => frame.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      expect(texts(stream.frames)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`))
    }
    const sse = streams[1] as StreamClient
    expect(sse.ids).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)))
    const stats = await call<{ stats: { streams: number } }>(`/v1/pubsub/topics/${fixture.topic}`, {
      token: fixture.token,
    })
    expect(stats.body.stats.streams).toBe(6)
  })

  it('a WebSocket resumes after a sequence number with what it missed', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    const first = await track(openWebSocket(fixture, 'live'))
    await publish(fixture, [{ data: 'a' }, { data: 'b' }, { data: 'c' }])
    await expectExactly(fixture, first, 3)
    const lastSeen = first.frames[1]?.seq ?? 0
    await first.close()
    await publish(fixture, [{ data: 'd' }, { data: 'e' }])
    const resumed = await track(openWebSocket(fixture, 'live', lastSeen))
    await expectExactly(fixture, resumed, 3)
    await publish(fixture, [{ data: 'f' }])
    await expectExactly(fixture, resumed, 4)
    expect(texts(resumed.frames)).toEqual(['c', 'd', 'e', 'f'])
    const fresh = await track(openWebSocket(fixture, 'live'))
    await publish(fixture, [{ data: 'g' }])
    await expectExactly(fixture, fresh, 1)
    expect(texts(fresh.frames)).toEqual(['g'])
  })

  it('an SSE client resumes from Last-Event-ID (or ?after=)', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    await publish(fixture, [{ data: 'one' }, { data: 'two' }, { data: 'three' }, { data: 'four' }])
    const byHeader = await track(openEventStream(fixture, 'live', { lastEventId: '2' }))
    await expectExactly(fixture, byHeader, 2)
    expect(byHeader.ids).toEqual(['3', '4'])
    expect(texts(byHeader.frames)).toEqual(['three', 'four'])
    expect(byHeader.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const byQuery = await track(openEventStream(fixture, 'live', { after: 0 }))
    await expectExactly(fixture, byQuery, 4)
  })

  it('keeps WebSocket cursors across hibernation', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    const client = await track(openWebSocket(fixture, 'live'))
    await publish(fixture, [{ data: 'before' }])
    await expectExactly(fixture, client, 1)
    await evictDurableObject(topicObject(fixture.tenant, fixture.topic))
    await publish(fixture, [{ data: 'after' }])
    await expectExactly(fixture, client, 2)
    expect(texts(client.frames)).toEqual(['before', 'after'])
  })

  it('applies filters and formats to streams, and a seek replays to open streams', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'errors',
      type: 'streaming',
      format: 'cloudevents-structured',
      filter: { attribute: 'level', equals: 'error' },
    })
    const client = await track(openWebSocket(fixture, 'errors'))
    await publish(fixture, [
      { data: '{"n":1}', attributes: { level: 'info' } },
      { data: '{"n":2}', attributes: { level: 'error' } },
      { data: '{"n":3}', attributes: { level: 'error' } },
    ])
    await expectExactly(fixture, client, 2)
    expect(client.frames.map((frame) => frame.seq)).toEqual([2, 3])
    expect(client.frames[0]?.event).toMatchObject({
      specversion: '1.0',
      id: '2',
      type: 'edgeblocks.pubsub.v1.messagePublished',
      data: { message: { seq: 2, attributes: { level: 'error' } }, subscription: 'errors' },
    })
    const seek = await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/errors/seek`, {
      token: fixture.token,
      body: { seq: 3 },
    })
    expect(seek.body).toEqual({ cursor: 2 })
    await expectExactly(fixture, client, 3)
    expect(client.frames.map((frame) => frame.seq)).toEqual([2, 3, 3])
  })

  it('a failing push endpoint does not delay streaming subscribers', async () => {
    const hung = new Promise<Response>(() => {})
    const mock = mockPushEndpoints(() => hung)
    restoreFetch = mock.restore
    const fixture = await topicFixture()
    await subscribe(fixture, {
      name: 'stuck',
      type: 'push',
      push: { endpoint: 'https://push.test/never', timeoutSeconds: 30 },
    })
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    const client = await track(openWebSocket(fixture, 'live'))
    await publish(fixture, [{ data: 'x' }, { data: 'y' }])
    await waitForFrames(client, 2)
    expect(texts(client.frames)).toEqual(['x', 'y'])
    expect(mock.received.length).toBeGreaterThan(0)
  })

  it('answers 404, 409 and 400 for bad stream requests', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'puller', type: 'pull' })
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    const base = `/v1/pubsub/topics/${fixture.topic}/subscriptions`
    expect((await call(`${base}/missing/stream`, { token: fixture.token })).status).toBe(404)
    expect((await call(`${base}/puller/stream`, { token: fixture.token })).status).toBe(409)
    expect((await call(`${base}/live/stream?after=-1`, { token: fixture.token })).status).toBe(400)
    const badHeader = await call(`${base}/live/stream`, {
      token: fixture.token,
      headers: { 'last-event-id': 'abc' },
    })
    expect(badHeader.status).toBe(400)
    expect((await call(`${base}/live/stream`)).status).toBe(401)
  })

  it('closes streams of a deleted subscription', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'live', type: 'streaming' })
    const sse = await track(openEventStream(fixture, 'live'))
    await call(`/v1/pubsub/topics/${fixture.topic}/subscriptions/live`, {
      token: fixture.token,
      method: 'DELETE',
    })
    await sse.ended
    const stats = await call<{ stats: { streams: number } }>(`/v1/pubsub/topics/${fixture.topic}`, {
      token: fixture.token,
    })
    expect(stats.body.stats.streams).toBe(0)
  })
})

import { SELF } from 'cloudflare:test'
import { afterEach, describe, expect, it } from 'vitest'
import { call } from '../helpers'
import {
  type Fixture,
  fromB64,
  mockPushEndpoints,
  type PushRequest,
  pull,
  settle,
  subscribe,
  topicFixture,
} from './helpers'

type Problem = { type: string; errors?: Array<{ path: string; message: string }> }

let restore: (() => void) | undefined
afterEach(() => {
  restore?.()
  restore = undefined
})

async function postEvents(fixture: Fixture, body: string | Uint8Array, headers: Record<string, string>) {
  const response = await SELF.fetch(`http://edge.test/v1/pubsub/topics/${fixture.topic}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fixture.token}`, ...headers },
    body,
  })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> }
}

const orderCreated = {
  specversion: '1.0',
  id: 'evt-1',
  source: 'https://shop.example/orders',
  type: 'com.example.order.created',
  subject: 'order/42',
  time: '2026-11-01T10:00:00Z',
  datacontenttype: 'application/json',
  traceparent: '00-abc-def-01',
  partitionkey: 'customer-7',
  data: { orderId: 42, total: 9.5 },
}

describe('CloudEvents', () => {
  it('accepts structured, batched and binary events and stores them as messages with ce-* attributes', async () => {
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'raw', type: 'pull' })
    const structured = await postEvents(fixture, JSON.stringify(orderCreated), {
      'content-type': 'application/cloudevents+json; charset=utf-8',
    })
    expect(structured).toEqual({
      status: 200,
      body: { messages: [{ messageId: '1', seq: 1, duplicate: false }] },
    })
    const batch = await postEvents(
      fixture,
      JSON.stringify([
        { specversion: '1.0', id: 'b1', source: '/batch', type: 'batch.item', data: 'just text' },
        { specversion: '1.0', id: 'b2', source: '/batch', type: 'batch.item', data_base64: btoa('\x00\x01') },
      ]),
      { 'content-type': 'application/cloudevents-batch+json' },
    )
    expect((batch.body.messages as unknown[]).length).toBe(2)
    const binary = await postEvents(fixture, 'hello binary', {
      'content-type': 'text/plain',
      'ce-specversion': '1.0',
      'ce-id': 'bin-1',
      'ce-source': '/sensors/7',
      'ce-type': 'com.example.reading',
      'ce-subject': 'caf%C3%A9 %22quoted%22',
      'ce-partitionkey': 'sensor-7',
    })
    expect(binary.status).toBe(200)

    const received = await pull(fixture, 'raw')
    expect(received).toHaveLength(4)
    const [first, textItem, bytesItem, binaryItem] = received
    expect(first?.message?.attributes).toEqual({
      'ce-specversion': '1.0',
      'ce-id': 'evt-1',
      'ce-source': 'https://shop.example/orders',
      'ce-type': 'com.example.order.created',
      'ce-subject': 'order/42',
      'ce-time': '2026-11-01T10:00:00Z',
      'ce-traceparent': '00-abc-def-01',
      'ce-partitionkey': 'customer-7',
      'content-type': 'application/json',
    })
    expect(first?.message?.orderingKey).toBe('customer-7')
    expect(JSON.parse(fromB64(first?.message?.data ?? ''))).toEqual({ orderId: 42, total: 9.5 })
    expect(fromB64(textItem?.message?.data ?? '')).toBe('"just text"')
    expect(textItem?.message?.attributes['content-type']).toBe('application/json')
    expect(fromB64(bytesItem?.message?.data ?? '')).toBe('\x00\x01')
    expect(binaryItem?.message?.attributes).toMatchObject({
      'ce-subject': 'café "quoted"',
      'content-type': 'text/plain',
    })
    expect(binaryItem?.message?.orderingKey).toBe('sensor-7')
  })

  it('deduplicates events by source and id', async () => {
    const fixture = await topicFixture()
    const headers = { 'content-type': 'application/cloudevents+json' }
    await postEvents(fixture, JSON.stringify(orderCreated), headers)
    const again = await postEvents(
      fixture,
      JSON.stringify({ ...orderCreated, data: { changed: true } }),
      headers,
    )
    expect(again.body).toEqual({ messages: [{ messageId: '1', seq: 1, duplicate: true }] })
    const otherSource = await postEvents(
      fixture,
      JSON.stringify({ ...orderCreated, source: '/elsewhere' }),
      headers,
    )
    expect(otherSource.body).toEqual({ messages: [{ messageId: '2', seq: 2, duplicate: false }] })
  })

  it('delivers in the mode each subscription asked for', async () => {
    const received: PushRequest[] = []
    const mock = mockPushEndpoints((request) => {
      received.push(request)
      return new Response(null, { status: 200 })
    })
    restore = mock.restore
    const fixture = await topicFixture()
    await subscribe(fixture, { name: 'structured', type: 'pull', format: 'cloudevents-structured' })
    await subscribe(fixture, { name: 'binding', type: 'pull', format: 'cloudevents-binary' })
    await subscribe(fixture, {
      name: 'binary-push',
      type: 'push',
      format: 'cloudevents-binary',
      push: { endpoint: 'https://push.test/binary' },
    })
    await subscribe(fixture, {
      name: 'structured-push',
      type: 'push',
      format: 'cloudevents-structured',
      push: { endpoint: 'https://push.test/structured' },
    })
    await postEvents(fixture, JSON.stringify(orderCreated), {
      'content-type': 'application/cloudevents+json',
    })
    await postEvents(fixture, new Uint8Array([0xff, 0xfe, 0x00]), {
      'content-type': 'application/octet-stream',
      'ce-specversion': '1.0',
      'ce-id': 'blob-1',
      'ce-source': '/blobs',
      'ce-type': 'com.example.blob',
    })
    await settle(fixture.tenant, fixture.topic)

    const [structured, blob] = await pull(fixture, 'structured')
    expect(structured?.event).toEqual(orderCreated)
    expect(blob?.event).toEqual({
      specversion: '1.0',
      id: 'blob-1',
      source: '/blobs',
      type: 'com.example.blob',
      datacontenttype: 'application/octet-stream',
      data_base64: btoa('\xff\xfe\x00'),
    })
    const [binding] = await pull(fixture, 'binding')
    expect(binding?.message?.attributes['ce-type']).toBe('com.example.order.created')

    const binaryPush = received.filter((request) => request.url.endsWith('/binary'))
    expect(binaryPush[0]?.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-id': 'evt-1',
      'ce-source': 'https://shop.example/orders',
      'ce-type': 'com.example.order.created',
      'ce-subject': 'order/42',
      'ce-time': '2026-11-01T10:00:00Z',
      'ce-partitionkey': 'customer-7',
      'content-type': 'application/json',
    })
    expect(JSON.parse(binaryPush[0]?.body ?? '')).toEqual(orderCreated.data)
    // Not UTF-8: pushed in structured mode, because Standard Webhooks signs text.
    expect(binaryPush[1]?.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8')
    expect(JSON.parse(binaryPush[1]?.body ?? '{}')).toMatchObject({
      id: 'blob-1',
      data_base64: btoa('\xff\xfe\x00'),
    })
    const structuredPush = received.find((request) => request.url.endsWith('/structured'))
    expect(JSON.parse(structuredPush?.body ?? '{}')).toEqual(orderCreated)
  })

  it('rejects invalid events with 400 or 415 and stores nothing', async () => {
    const fixture = await topicFixture()
    const structured = { 'content-type': 'application/cloudevents+json' }
    const cases: Array<[string | Uint8Array, Record<string, string>, number, string?]> = [
      [JSON.stringify({ ...orderCreated, specversion: '0.3' }), structured, 400, 'body/specversion'],
      [JSON.stringify({ ...orderCreated, id: '' }), structured, 400, 'body/id'],
      [JSON.stringify({ ...orderCreated, time: 'yesterday' }), structured, 400, 'body/time'],
      [JSON.stringify({ ...orderCreated, data_base64: 'AA==' }), structured, 400, 'body'],
      [JSON.stringify({ ...orderCreated, 'Bad-Name': 1 }), structured, 400, 'body'],
      [JSON.stringify([]), { 'content-type': 'application/cloudevents-batch+json' }, 400, 'body'],
      ['{"specversion":', structured, 400],
      [
        'data',
        { 'content-type': 'text/plain', 'ce-specversion': '1.0', 'ce-source': '/x', 'ce-type': 't' },
        400,
        'header/ce-id',
      ],
      [
        'data',
        {
          'content-type': 'text/plain',
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-source': '/x',
          'ce-type': 't',
          'ce-Bad_Name': 'x',
        },
        400,
      ],
      [
        'data',
        {
          'content-type': 'text/plain',
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-source': '/x',
          'ce-type': 't',
          'ce-subject': '%E0%A4%A',
        },
        400,
        'header/ce-subject',
      ],
      [
        new Uint8Array(256 * 1024 + 1),
        { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/x', 'ce-type': 't' },
        400,
        'body',
      ],
      [JSON.stringify(orderCreated), { 'content-type': 'application/json' }, 415],
    ]
    for (const [body, headers, status, path] of cases) {
      const response = await postEvents(fixture, body, headers)
      expect(response.status, JSON.stringify(headers)).toBe(status)
      if (path) expect((response.body as Problem).errors?.map((e) => e.path)).toContain(path)
    }
    const topic = await call<{ stats: { headSeq: number } }>(`/v1/pubsub/topics/${fixture.topic}`, {
      token: fixture.token,
    })
    expect(topic.body.stats.headSeq).toBe(0)
  })
})

import { describe, expect, it } from 'vitest'
import { bytesToBase64, base64ToBytes as decodeBase64 } from '../../workers/platform/encoding'
import {
  binaryHeaders,
  carriesEvent,
  eventFromBinary,
  eventFromStructured,
  eventOfMessage,
  eventToDraft,
  MESSAGE_PUBLISHED_TYPE,
  percentDecode,
  percentEncode,
  type StructuredEventInput,
  toBindingMessage,
  toStructured,
} from '../../workers/pubsub/cloudevents'
import { renderForClient, renderForPush } from '../../workers/pubsub/formats'
import { messageSize, type StoredMessage, textBytes, toPubsubMessage } from '../../workers/pubsub/messages'

const origin = { topic: 'orders', subscription: 'audit' }

function stored(draft: ReturnType<typeof eventToDraft>, seq = 7): StoredMessage {
  return {
    seq,
    publishedAt: Date.UTC(2026, 10, 1),
    data: draft.data,
    attributes: draft.attributes,
    orderingKey: draft.orderingKey ?? null,
  }
}

const base: StructuredEventInput = { specversion: '1.0', id: 'e1', source: '/s', type: 't' }

describe('base64 and sizes', () => {
  it('round-trips every byte value and rejects non-canonical input', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    for (const length of [0, 1, 2, 3, 4, 255, 256]) {
      const bytes = all.slice(0, length)
      expect(decodeBase64(bytesToBase64(bytes))).toEqual(bytes)
    }
    expect(bytesToBase64(textBytes('hi'))).toBe('aGk=')
    expect(decodeBase64('aGk')).toBeUndefined()
    expect(decodeBase64('a-k=')).toBeUndefined()
    expect(decodeBase64('aGk=\n')).toBeUndefined()
  })

  it('counts data, attribute names and values and the ordering key in UTF-8 bytes', () => {
    expect(messageSize({ data: new Uint8Array(10), attributes: { ké: 'vé' }, orderingKey: 'k' })).toBe(
      10 + 3 + 3 + 1,
    )
  })
})

describe('CloudEvents in', () => {
  it('stores structured JSON data as JSON with content type, keeping every attribute', () => {
    const draft = eventToDraft(
      eventFromStructured({ ...base, subject: 'x', partitionkey: 'p', count: 3, flag: true, data: { a: 1 } }),
    )
    expect(draft.attributes).toEqual({
      'ce-specversion': '1.0',
      'ce-id': 'e1',
      'ce-source': '/s',
      'ce-type': 't',
      'ce-subject': 'x',
      'ce-partitionkey': 'p',
      'ce-count': '3',
      'ce-flag': 'true',
      'content-type': 'application/json',
    })
    expect(new TextDecoder().decode(draft.data)).toBe('{"a":1}')
    expect(draft.orderingKey).toBe('p')
    expect(draft.deduplicationId).toBe('ce:/s#e1')
  })

  it('stores string data of a non-JSON type as text, data_base64 as bytes, no data as empty', () => {
    const text = eventFromStructured({ ...base, datacontenttype: 'text/plain', data: 'héllo' })
    expect(new TextDecoder().decode(text.data)).toBe('héllo')
    const bytes = eventFromStructured({ ...base, data_base64: 'AAH/' })
    expect(bytes.data).toEqual(new Uint8Array([0, 1, 255]))
    expect(eventFromStructured(base).data).toBeUndefined()
  })

  it('reads binary mode headers, percent-decoding values', () => {
    const decoded = eventFromBinary(
      {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': '/s',
        'ce-type': 't',
        'ce-subject': '%E2%82%AC 5',
        'content-type': 'text/plain',
        'x-other': 'ignored',
      },
      textBytes('body'),
    )
    expect(decoded).toEqual({
      event: {
        attributes: {
          specversion: '1.0',
          id: '1',
          source: '/s',
          type: 't',
          subject: '€ 5',
          datacontenttype: 'text/plain',
        },
        data: textBytes('body'),
      },
    })
  })

  it('reports missing, malformed and forbidden binary headers', () => {
    const result = eventFromBinary(
      { 'ce-specversion': '0.3', 'ce-id': '1', 'ce-type': 't', 'ce-datacontenttype': 'x', 'ce-time': 'noon' },
      new Uint8Array(),
    )
    expect('problems' in result && result.problems.map((p) => p.path).sort()).toEqual(
      ['header/ce-datacontenttype', 'header/ce-source', 'header/ce-specversion', 'header/ce-time'].sort(),
    )
  })

  it('percent-encodes exactly space, quote, percent and non-printable-ASCII, and decodes back', () => {
    expect(percentEncode('a b"c%d€é!~')).toBe('a%20b%22c%25d%E2%82%AC%C3%A9!~')
    for (const value of ['plain', 'a b"c%d€é', '\u0001\u007f', '日本']) {
      expect(percentDecode(percentEncode(value))).toBe(value)
    }
    expect(percentDecode('%E0%A4%A')).toBeUndefined()
  })
})

describe('CloudEvents out', () => {
  it('gives back the same structured event it was given', () => {
    const events: StructuredEventInput[] = [
      { ...base, datacontenttype: 'application/json', data: { nested: [1, 'two', null] } },
      { ...base, datacontenttype: 'text/plain', data: 'text' },
      { ...base, datacontenttype: 'application/octet-stream', data_base64: 'AAH/' },
      { ...base, time: '2026-11-01T10:00:00Z', dataschema: 'https://x/s', ext1: 'v' },
    ]
    for (const event of events) {
      const message = stored(eventToDraft(eventFromStructured(event)))
      expect(carriesEvent(message.attributes)).toBe(true)
      expect(toStructured(eventOfMessage(message, origin))).toEqual(event)
    }
  })

  it('writes bytes declared as JSON but not JSON as data_base64', () => {
    const event = {
      attributes: {
        specversion: '1.0',
        id: 'e1',
        source: '/s',
        type: 't',
        datacontenttype: 'application/json',
      },
      data: textBytes('{oops'),
    }
    expect(toStructured(event)).toMatchObject({ data_base64: bytesToBase64(textBytes('{oops')) })
  })

  it('wraps a plain message in a messagePublished event', () => {
    const message: StoredMessage = {
      seq: 9,
      publishedAt: Date.UTC(2026, 0, 2),
      data: textBytes('plain'),
      attributes: { k: 'v' },
      orderingKey: null,
    }
    const event = eventOfMessage(message, origin)
    expect(toStructured(event)).toEqual({
      specversion: '1.0',
      id: '9',
      source: '/v1/pubsub/topics/orders',
      type: MESSAGE_PUBLISHED_TYPE,
      time: '2026-01-02T00:00:00.000Z',
      datacontenttype: 'application/json',
      data: { message: toPubsubMessage(message), subscription: 'audit' },
    })
    expect(binaryHeaders(event)).toMatchObject({ 'ce-id': '9', 'content-type': 'application/json' })
    expect(toBindingMessage(event, message).attributes).toMatchObject({ 'ce-type': MESSAGE_PUBLISHED_TYPE })
  })

  it('renders each delivery format', () => {
    const message = stored(
      eventToDraft(eventFromStructured({ ...base, datacontenttype: 'text/plain', data: 'hi' })),
    )
    expect(renderForClient('raw', message, origin)).toEqual({ message: toPubsubMessage(message) })
    expect(renderForClient('cloudevents-structured', message, origin)).toEqual({
      event: { ...base, datacontenttype: 'text/plain', data: 'hi' },
    })
    const push = renderForPush('cloudevents-binary', message, origin)
    expect(push.body).toBe('hi')
    expect(push.headers).toMatchObject({ 'ce-id': 'e1', 'content-type': 'text/plain' })
    expect(JSON.parse(renderForPush('raw', message, origin).body)).toEqual({
      message: toPubsubMessage(message),
      subscription: 'audit',
    })
  })
})

import { describe, expect, it } from 'vitest'
import {
  ackIdOf,
  afterFailedAttempt,
  deadLetterDraft,
  parseAckId,
  parseResumePoint,
  sseEvent,
} from '../../workers/pubsub/delivery-rules'
import { textBytes } from '../../workers/pubsub/messages'

const retry = { baseDelaySeconds: 10, maxDelaySeconds: 600 }

describe('ack ids', () => {
  it('name a message and its lease, and nothing else parses', () => {
    expect(ackIdOf(12, 345)).toBe('12-345')
    expect(parseAckId('12-345')).toEqual({ seq: 12, lease: 345 })
    for (const bad of ['', '12', '12-', '-1', '0-1', '1-0', '01-2', '1-2-3', 'a-b', `${'9'.repeat(17)}-1`]) {
      expect(parseAckId(bad), bad).toBeUndefined()
    }
  })
})

describe('after a failed attempt', () => {
  it('retries with full jitter inside the doubling ceiling', () => {
    const now = 1_000_000
    expect(afterFailedAttempt({ attempts: 1, maxDeliveries: null, retry, now, random: 0 })).toEqual({
      kind: 'retry',
      at: now,
    })
    expect(afterFailedAttempt({ attempts: 1, maxDeliveries: null, retry, now, random: 0.5 })).toEqual({
      kind: 'retry',
      at: now + 5_000,
    })
    expect(afterFailedAttempt({ attempts: 3, maxDeliveries: 5, retry, now, random: 0.999 })).toEqual({
      kind: 'retry',
      at: now + Math.floor(0.999 * 40_000),
    })
    expect(afterFailedAttempt({ attempts: 30, maxDeliveries: null, retry, now, random: 0.5 })).toEqual({
      kind: 'retry',
      at: now + 300_000,
    })
  })

  it('dead-letters once the attempts reach maxDeliveries, never without a dead-letter topic', () => {
    expect(afterFailedAttempt({ attempts: 5, maxDeliveries: 5, retry, now: 0, random: 0.5 }).kind).toBe(
      'dead-letter',
    )
    expect(afterFailedAttempt({ attempts: 4, maxDeliveries: 5, retry, now: 0, random: 0.5 }).kind).toBe(
      'retry',
    )
    expect(afterFailedAttempt({ attempts: 1000, maxDeliveries: null, retry, now: 0, random: 0.5 }).kind).toBe(
      'retry',
    )
  })
})

describe('dead-letter drafts', () => {
  it('keep the message and say where it came from, with a deduplication id per lease', () => {
    const draft = deadLetterDraft({
      topic: 'orders',
      subscription: 'billing',
      seq: 4,
      lease: 9,
      attempts: 5,
      lastError: 'HTTP 500',
      message: { seq: 4, publishedAt: 0, data: textBytes('x'), attributes: { a: '1' }, orderingKey: 'k' },
    })
    expect(draft).toEqual({
      data: textBytes('x'),
      attributes: {
        a: '1',
        'dead-letter-source-topic': 'orders',
        'dead-letter-source-subscription': 'billing',
        'dead-letter-source-seq': '4',
        'dead-letter-delivery-attempts': '5',
        'dead-letter-last-error': 'HTTP 500',
      },
      orderingKey: 'k',
      deduplicationId: 'dead-letter:orders/billing/4/9',
    })
  })
})

describe('server-sent events', () => {
  it('frames id, event and multi-line data', () => {
    expect(sseEvent({ id: '7', data: '{"a":1}' })).toBe('id: 7\ndata: {"a":1}\n\n')
    expect(sseEvent({ event: 'gap', data: 'a\nb\r\nc' })).toBe('event: gap\ndata: a\ndata: b\ndata: c\n\n')
  })

  it('parses resume points', () => {
    expect(parseResumePoint('42')).toBe(42)
    expect(parseResumePoint(' 42 ')).toBe(42)
    expect(parseResumePoint('0')).toBe(0)
    for (const bad of [null, undefined, '', '-1', '1.5', 'abc', '1'.repeat(17)]) {
      expect(parseResumePoint(bad)).toBeUndefined()
    }
  })
})

import { describe, expect, it } from 'vitest'
import { AppError } from '../../workers/platform/errors'
import {
  checkMessagesForQueue,
  checkSizes,
  contentHash,
  decodeReceipt,
  encodeReceipt,
  messageBytes,
  messagesForSizing,
  nonceFrom,
  receiveOrder,
  sendPartition,
} from '../../workers/queue/messages'
import type { QueueConfig } from '../../workers/queue/settings'

const standard: QueueConfig = {
  fifo: false,
  contentBasedDeduplication: false,
  visibilityTimeoutSeconds: 30,
  retentionSeconds: 3600,
  delaySeconds: 0,
  partitions: 1,
  deadLetter: null,
  push: null,
}
const fifo: QueueConfig = { ...standard, fifo: true }

function failure(run: () => unknown): AppError {
  try {
    run()
  } catch (error) {
    if (error instanceof AppError) return error
    throw error
  }
  throw new Error('expected an AppError')
}

describe('message sizes', () => {
  it('counts UTF-8 bytes of the body and the attributes', () => {
    expect(messageBytes({ body: 'héllo' })).toBe(6)
    expect(messageBytes({ body: 'x', attributes: { kind: 'é' } })).toBe(1 + 4 + 2)
  })

  it('allows exactly 256 KiB per message and 1 MiB per batch', () => {
    const max = 'a'.repeat(256 * 1024)
    expect(() => checkSizes([{ body: max }], 'body')).not.toThrow()
    expect(failure(() => checkSizes([{ body: `${max}a` }], 'body')).code).toBe('payload_too_large')
    expect(() =>
      checkSizes([{ body: max }, { body: max }, { body: max }, { body: max }], 'body/messages'),
    ).not.toThrow()
    const over = failure(() =>
      checkSizes(
        [{ body: max }, { body: max }, { body: max }, { body: max }, { body: 'a' }],
        'body/messages',
      ),
    )
    expect(over.code).toBe('payload_too_large')
    expect(
      failure(() => checkSizes([{ body: 'a' }, { body: `${max}a` }], 'body/messages')).errors?.[0]?.path,
    ).toBe('body/messages/1')
  })
})

describe('sizing unvalidated bodies', () => {
  it('keeps only what counts for the size, whatever shape the body has', () => {
    expect(messagesForSizing({ body: 'abc', attributes: { a: 'x', n: 1 } }, false)).toEqual([
      { body: 'abc', attributes: { a: 'x' } },
    ])
    expect(messagesForSizing({ messages: [{ body: 'a' }, null, { body: 7 }] }, true)).toEqual([
      { body: 'a', attributes: {} },
      { body: '', attributes: {} },
      { body: '', attributes: {} },
    ])
    expect(messagesForSizing({ messages: 'nope' }, true)).toEqual([])
    expect(messagesForSizing(undefined, true)).toEqual([])
  })
})

describe('messages for a queue type', () => {
  it('needs group and deduplication on FIFO, forbids them on standard, bounds the delay', () => {
    expect(() =>
      checkMessagesForQueue(fifo, [{ body: 'a', groupId: 'g', deduplicationId: 'd' }], 'body'),
    ).not.toThrow()
    expect(() =>
      checkMessagesForQueue(
        { ...fifo, contentBasedDeduplication: true },
        [{ body: 'a', groupId: 'g' }],
        'body',
      ),
    ).not.toThrow()
    expect(
      failure(() => checkMessagesForQueue(fifo, [{ body: 'a' }], 'body')).errors?.map((e) => e.path),
    ).toEqual(['body/groupId', 'body/deduplicationId'])
    expect(
      failure(() =>
        checkMessagesForQueue(standard, [{ body: 'a' }, { body: 'b', groupId: 'g' }], 'body/messages'),
      ).errors?.[0]?.path,
    ).toBe('body/messages/1/groupId')
    expect(() => checkMessagesForQueue(standard, [{ body: 'a', delaySeconds: 3600 }], 'body')).not.toThrow()
    expect(
      failure(() => checkMessagesForQueue(standard, [{ body: 'a', delaySeconds: 3601 }], 'body')).code,
    ).toBe('validation_failed')
  })

  it('hashes content with SHA-256', async () => {
    expect(await contentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})

describe('receipt handles', () => {
  const nonce = nonceFrom(new Uint8Array(16).fill(7))
  const receipt = { partition: 3, messageId: '0b7f1c3e-8a9d-4f21-9c1e-3b5a7d9e1f20', receiveCount: 2, nonce }

  it('round-trips and is opaque base64url', () => {
    const handle = encodeReceipt(receipt)
    expect(handle).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeReceipt(handle)).toEqual(receipt)
  })

  it('rejects anything it did not issue', () => {
    const encode = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    for (const handle of [
      '',
      'not base64!',
      encode(`3.2.not-a-uuid.${nonce}`),
      encode(`16.1.${receipt.messageId}.${nonce}`),
      encode(`0.0.${receipt.messageId}.${nonce}`),
      encode(`0.1.${receipt.messageId}.short`),
      encode(`0.1.${receipt.messageId}.${nonce}.extra`),
    ]) {
      expect(decodeReceipt(handle), handle).toBeUndefined()
    }
  })
})

describe('partition choice', () => {
  it('spreads sends uniformly and visits every partition once per receive', () => {
    expect([0, 0.24, 0.25, 0.99].map((r) => sendPartition(4, r))).toEqual([0, 0, 1, 3])
    expect(receiveOrder(4, 0.5)).toEqual([2, 3, 0, 1])
    expect(receiveOrder(1, 0.7)).toEqual([0])
  })
})

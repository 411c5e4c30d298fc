/**
 * `/v1/queues/{queue}/messages`: send (one or a batch), receive (with long polling), ack,
 * and change visibility / nack by receipt handle.
 */

import { Hono, type MiddlewareHandler } from 'hono'
import { IdempotencyHeaders } from '../../schemas/common'
import {
  AckBatchRequest,
  AckBatchResult,
  Acked,
  ChangeVisibilityRequest,
  QueueParam,
  ReceiptParam,
  ReceivedBatch,
  ReceiveRequest,
  SendBatchRequest,
  SentBatch,
  SentMessage,
  OutgoingMessage as SingleMessageRequest,
  VisibilityChanged,
} from '../../schemas/queue'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { ackMessages, changeVisibility, receiveMessages, sendMessages } from './client'
import { checkSizes, messagesForSizing } from './messages'

const tags = ['queue messages']

/**
 * Idempotency-Key on sends: the key picks a fixed partition of the queue (hash over the
 * partition count at creation, so growing the queue never moves a key), which checks and
 * records it in the same transaction as the send (workers/queue/idempotency.ts). For 24 h a
 * retry with the same key and request replays the first response with `Idempotent-Replayed:
 * true` and stores nothing; the same key with another request is 422 and stores nothing.
 */
const IDEMPOTENCY_DESCRIPTION =
  ' With `Idempotency-Key` (1–255 visible ASCII characters; per tenant and queue), a retry within 24 h ' +
  'returns the first response (same message ids, header `Idempotent-Replayed: true`) and stores nothing; ' +
  'the same key with a different request is 422.'

/**
 * Answers 413 for a message over 256 KiB or a batch over 1 MiB before the schema sees the
 * body (the schema states the same bounds, but its failures are 400s).
 */
function rejectOversizeMessages(fieldBase: 'body' | 'body/messages'): MiddlewareHandler<AuthEnv> {
  return async function rejectOversizeMessagesMiddleware(c, next) {
    const parsed: unknown = await c.req.json().catch(() => undefined)
    const messages = messagesForSizing(parsed, fieldBase === 'body/messages')
    checkSizes(messages, fieldBase)
    await next()
  }
}

export const messageRoutes = new Hono<AuthEnv>()
  .post(
    '/:queue/messages',
    describe({
      tags,
      summary: 'Send a message',
      description:
        'FIFO queues need `groupId`, and `deduplicationId` unless content-based deduplication is on; a duplicate ' +
        'inside the 5-minute window returns the first message id with `duplicate: true` and stores nothing.' +
        IDEMPOTENCY_DESCRIPTION,
      scope: 'queue:write',
      responses: { 201: { description: 'Stored (or a duplicate, or a replay)', schema: SentMessage } },
      problems: [404, 413, 422],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('header', IdempotencyHeaders),
    rejectOversizeMessages('body'),
    validate('json', SingleMessageRequest),
    async function sendMessageRoute(c) {
      const { queue } = c.req.valid('param')
      const key = c.req.valid('header')['idempotency-key']
      const sent = await sendMessages(c.env, tenantOf(c), queue, [c.req.valid('json')], 'body', key)
      if (sent.replayed) c.header('Idempotent-Replayed', 'true')
      return c.json(sent.results[0], 201)
    },
  )
  .post(
    '/:queue/messages/batch',
    describe({
      tags,
      summary: 'Send up to 100 messages',
      description:
        'At most 256 KiB per message and 1 MiB per batch (413). The batch is stored atomically.' +
        IDEMPOTENCY_DESCRIPTION,
      scope: 'queue:write',
      responses: { 201: { description: 'One result per message, in order', schema: SentBatch } },
      problems: [404, 413, 422],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('header', IdempotencyHeaders),
    rejectOversizeMessages('body/messages'),
    validate('json', SendBatchRequest),
    async function sendBatchRoute(c) {
      const { queue } = c.req.valid('param')
      const { messages } = c.req.valid('json')
      const key = c.req.valid('header')['idempotency-key']
      const sent = await sendMessages(c.env, tenantOf(c), queue, messages, 'body/messages', key)
      if (sent.replayed) c.header('Idempotent-Replayed', 'true')
      return c.json({ messages: sent.results }, 201)
    },
  )
  .post(
    '/:queue/messages/receive',
    describe({
      tags,
      summary: 'Receive up to 100 messages',
      description:
        'Received messages stay invisible for the visibility timeout; ack them before it ends or they are ' +
        'delivered again. With `waitSeconds` (≤ 20) the call is held until a message is visible.',
      scope: 'queue:read',
      responses: { 200: { description: 'Zero or more messages', schema: ReceivedBatch } },
      problems: [404],
    }),
    requireScope('queue:read'),
    validate('param', QueueParam),
    validate('json', ReceiveRequest),
    async function receiveRoute(c) {
      const { queue } = c.req.valid('param')
      return c.json({ messages: await receiveMessages(c.env, tenantOf(c), queue, c.req.valid('json')) })
    },
  )
  .post(
    '/:queue/messages/ack',
    describe({
      tags,
      summary: 'Acknowledge (delete) up to 100 messages by receipt handle',
      description:
        'Each handle gets 200 (acked), 409 (stale: the message was delivered again since) or 410 (gone). ' +
        'A malformed handle rejects the whole request (400) and acks nothing.',
      scope: 'queue:write',
      responses: { 200: { description: 'One result per handle, in order', schema: AckBatchResult } },
      problems: [404],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('json', AckBatchRequest),
    async function ackBatchRoute(c) {
      const { queue } = c.req.valid('param')
      const { receiptHandles } = c.req.valid('json')
      const results = await ackMessages(
        c.env,
        tenantOf(c),
        queue,
        receiptHandles,
        (index) => `body/receiptHandles/${index}`,
      )
      return c.json({
        acked: results.filter((result) => result.status === 200).length,
        results: results.map(({ receiptHandle, status }) => ({ receiptHandle, status })),
      })
    },
  )
  .delete(
    '/:queue/messages/:receiptHandle',
    describe({
      tags,
      summary: 'Acknowledge (delete) one message',
      description:
        '409 when the handle is stale (the message was delivered again since), 410 when it is gone.',
      scope: 'queue:write',
      responses: { 200: { description: 'Acked', schema: Acked } },
      problems: [404, 409, 410],
    }),
    requireScope('queue:write'),
    validate('param', ReceiptParam),
    async function ackRoute(c) {
      const { queue, receiptHandle } = c.req.valid('param')
      const results = await ackMessages(
        c.env,
        tenantOf(c),
        queue,
        [receiptHandle],
        () => 'param/receiptHandle',
      )
      const { status, messageId } = results[0] as (typeof results)[number]
      if (status === 409) {
        throw new AppError('conflict', 'The receipt handle is stale: the message was delivered again since.')
      }
      if (status === 410) {
        throw new AppError('gone', 'The message is no longer in the queue (acknowledged, expired or moved).')
      }
      return c.json({ messageId, acked: true as const })
    },
  )
  .patch(
    '/:queue/messages/:receiptHandle',
    describe({
      tags,
      summary: "Change an in-flight message's visibility timeout (0 = nack)",
      description:
        'The new timeout counts from now (≤ 12 h). 0 makes the message visible at once, or moves it to the ' +
        'dead-letter queue when it has used its deliveries. 409 when stale or no longer in flight, 410 when gone.',
      scope: 'queue:write',
      responses: { 200: { description: 'The new visibility', schema: VisibilityChanged } },
      problems: [404, 409, 410],
    }),
    requireScope('queue:write'),
    validate('param', ReceiptParam),
    validate('json', ChangeVisibilityRequest),
    async function changeVisibilityRoute(c) {
      const { queue, receiptHandle } = c.req.valid('param')
      const { visibilityTimeoutSeconds } = c.req.valid('json')
      return c.json(
        await changeVisibility(c.env, tenantOf(c), queue, receiptHandle, visibilityTimeoutSeconds),
      )
    },
  )

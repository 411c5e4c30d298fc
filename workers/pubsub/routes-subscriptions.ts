/**
 * `/v1/pubsub/topics/{topic}/subscriptions…`: create, list, get and delete subscriptions;
 * pull, ack, nack and modify deadlines; seek; open a stream (WebSocket when the request
 * asks to upgrade, else Server-Sent Events). Consuming (pull, ack, seek) needs
 * `pubsub:write` because it changes delivery state; streaming and reads need `pubsub:read`.
 */
import { Hono } from 'hono'
import { Deleted, PageQuery } from '../../schemas/common'
import { TopicParam } from '../../schemas/pubsub'
import {
  AckRequest,
  AckResponse,
  CreateSubscriptionRequest,
  ModifyDeadlineRequest,
  PullRequest,
  PullResponse,
  SeekRequest,
  SeekResponse,
  StreamHeaders,
  StreamQuery,
  Subscription,
  SubscriptionList,
  SubscriptionParam,
} from '../../schemas/pubsub-subscriptions'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { newWebhookSecret } from '../platform/delivery'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { decodeCursor, encodeCursor, findResource } from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { topicStub } from './route-helpers'
import type { SubscriptionConfig } from './subscriptions'

const TAGS = ['pubsub']
const ONE = '/topics/:topic/subscriptions/:subscription'

export const subscriptionRoutes = new Hono<AuthEnv>()
  .post(
    '/topics/:topic/subscriptions',
    describe({
      tags: TAGS,
      summary: 'Create a pull, push or streaming subscription',
      description:
        'Receives messages published after its creation (seek to replay older ones). A push ' +
        'subscription’s Standard Webhooks secret is returned only here.',
      scope: 'pubsub:write',
      responses: { 201: { description: 'The subscription', schema: Subscription } },
      problems: [404, 409, 422],
    }),
    requireScope('pubsub:write'),
    validate('param', TopicParam),
    validate('json', CreateSubscriptionRequest),
    async function createSubscription(c) {
      const { topic } = c.req.valid('param')
      const input = c.req.valid('json')
      if (input.deadLetter) {
        if (input.deadLetter.topic === topic) {
          throw new AppError('unprocessable', 'A topic cannot be its own dead-letter topic.')
        }
        if (!(await findResource(c.env, tenantOf(c), 'topic', input.deadLetter.topic))) {
          throw new AppError(
            'unprocessable',
            `The dead-letter topic "${input.deadLetter.topic}" does not exist.`,
          )
        }
      }
      const config: SubscriptionConfig = {
        type: input.type,
        format: input.format,
        filter: input.filter,
        ackDeadlineSeconds: input.ackDeadlineSeconds,
        deadLetter: input.deadLetter,
        push: input.push
          ? {
              endpoint: input.push.endpoint,
              secret: input.push.secret ?? newWebhookSecret(),
              timeoutSeconds: input.push.timeoutSeconds,
              retry: input.push.retry,
            }
          : null,
      }
      return c.json(await topicStub(c, topic).createSubscription(input.name, config), 201)
    },
  )
  .get(
    '/topics/:topic/subscriptions',
    describe({
      tags: TAGS,
      summary: 'List a topic’s subscriptions (by name, paginated)',
      scope: 'pubsub:read',
      responses: { 200: { description: 'A page of subscriptions', schema: SubscriptionList } },
      problems: [404],
    }),
    requireScope('pubsub:read'),
    validate('param', TopicParam),
    validate('query', PageQuery),
    async function listSubscriptions(c) {
      const { topic } = c.req.valid('param')
      const { limit, cursor } = c.req.valid('query')
      const page = await topicStub(c, topic).listSubscriptions(
        limit,
        cursor ? decodeCursor(cursor) : undefined,
      )
      return c.json({ items: page.items, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) })
    },
  )
  .get(
    ONE,
    describe({
      tags: TAGS,
      summary: 'Get a subscription with its backlog',
      scope: 'pubsub:read',
      responses: { 200: { description: 'The subscription', schema: Subscription } },
      problems: [404],
    }),
    requireScope('pubsub:read'),
    validate('param', SubscriptionParam),
    async function getSubscription(c) {
      const { topic, subscription } = c.req.valid('param')
      return c.json(await topicStub(c, topic).getSubscription(subscription))
    },
  )
  .delete(
    ONE,
    describe({
      tags: TAGS,
      summary: 'Delete a subscription (its undelivered messages and open streams go with it)',
      scope: 'pubsub:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    async function deleteSubscription(c) {
      const { topic, subscription } = c.req.valid('param')
      await topicStub(c, topic).deleteSubscription(subscription)
      return c.json({ deleted: true })
    },
  )
  .post(
    `${ONE}/pull`,
    describe({
      tags: TAGS,
      summary: 'Receive messages (pull subscriptions)',
      description:
        'Each message is leased until its ack deadline; unacknowledged, it is delivered again. At most one ' +
        'message per ordering key is outstanding.',
      scope: 'pubsub:write',
      responses: { 200: { description: 'Received messages (maybe none)', schema: PullResponse } },
      problems: [404, 409],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    validate('json', PullRequest),
    async function pull(c) {
      const { topic, subscription } = c.req.valid('param')
      const { maxMessages, ackDeadlineSeconds } = c.req.valid('json')
      const received = await topicStub(c, topic).pull(subscription, maxMessages, ackDeadlineSeconds)
      return c.json({ receivedMessages: received })
    },
  )
  .post(
    `${ONE}/ack`,
    describe({
      tags: TAGS,
      summary: 'Acknowledge received messages',
      scope: 'pubsub:write',
      responses: { 200: { description: 'How many leases were settled', schema: AckResponse } },
      problems: [404, 409],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    validate('json', AckRequest),
    async function acknowledge(c) {
      const { topic, subscription } = c.req.valid('param')
      return c.json(await topicStub(c, topic).acknowledge(subscription, c.req.valid('json').ackIds))
    },
  )
  .post(
    `${ONE}/nack`,
    describe({
      tags: TAGS,
      summary: 'Negatively acknowledge: deliver these messages again now',
      scope: 'pubsub:write',
      responses: { 200: { description: 'How many leases were settled', schema: AckResponse } },
      problems: [404, 409],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    validate('json', AckRequest),
    async function nack(c) {
      const { topic, subscription } = c.req.valid('param')
      return c.json(await topicStub(c, topic).modifyAckDeadline(subscription, c.req.valid('json').ackIds, 0))
    },
  )
  .post(
    `${ONE}/modify-deadline`,
    describe({
      tags: TAGS,
      summary: 'Extend (or end, with 0) the ack deadline of received messages',
      scope: 'pubsub:write',
      responses: { 200: { description: 'How many leases were changed', schema: AckResponse } },
      problems: [404, 409],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    validate('json', ModifyDeadlineRequest),
    async function modifyDeadline(c) {
      const { topic, subscription } = c.req.valid('param')
      const { ackIds, ackDeadlineSeconds } = c.req.valid('json')
      return c.json(await topicStub(c, topic).modifyAckDeadline(subscription, ackIds, ackDeadlineSeconds))
    },
  )
  .post(
    `${ONE}/seek`,
    describe({
      tags: TAGS,
      summary: 'Replay: seek to a sequence number or a time',
      description:
        '`{ "seq": n }` delivers messages from seq n on (again); `{ "time": "…" }` from the first message ' +
        'published at or after that time. Outstanding ack ids become invalid; open streams replay.',
      scope: 'pubsub:write',
      responses: { 200: { description: 'The new cursor', schema: SeekResponse } },
      problems: [404],
    }),
    requireScope('pubsub:write'),
    validate('param', SubscriptionParam),
    validate('json', SeekRequest),
    async function seek(c) {
      const { topic, subscription } = c.req.valid('param')
      const target = c.req.valid('json')
      const to = 'seq' in target ? { seq: target.seq } : { time: Date.parse(target.time) }
      return c.json(await topicStub(c, topic).seek(subscription, to))
    },
  )
  .get(
    `${ONE}/stream`,
    describe({
      tags: TAGS,
      summary: 'Stream a streaming subscription (WebSocket or Server-Sent Events)',
      description:
        'With `Upgrade: websocket`, a WebSocket whose text frames are `{ seq, message }` or `{ seq, event }`; ' +
        'otherwise `text/event-stream` with `id: <seq>`. Resume with `?after=<seq>` or `Last-Event-ID`.',
      scope: 'pubsub:read',
      responses: {
        101: { description: 'WebSocket' },
        200: { description: 'Server-Sent Events', mediaType: 'text/event-stream' },
      },
      problems: [404, 409],
    }),
    requireScope('pubsub:read'),
    validate('param', SubscriptionParam),
    validate('query', StreamQuery),
    validate('header', StreamHeaders),
    async function openStream(c) {
      const { topic, subscription } = c.req.valid('param')
      const resumeAfter = c.req.valid('query').after ?? c.req.valid('header')['last-event-id']?.trim()
      const stub = topicStub(c, topic)
      await stub.checkStream(subscription)
      const websocket = c.req.header('upgrade')?.toLowerCase() === 'websocket'
      const url = new URL('https://pubsub-topic.internal/stream')
      url.searchParams.set('subscription', subscription)
      url.searchParams.set('transport', websocket ? 'websocket' : 'sse')
      if (resumeAfter !== undefined) url.searchParams.set('after', resumeAfter)
      return stub.fetch(new Request(url, { headers: c.req.raw.headers }))
    },
  )

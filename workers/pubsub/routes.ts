/**
 * `/v1/pubsub`: topics (registry in libSQL, one Durable Object each) and publishing, as
 * Pub/Sub JSON (`…/messages`) or CloudEvents (`…/events`, structured, batched or binary).
 * Subscription routes are in routes-subscriptions.ts and mounted here.
 */
import { Hono } from 'hono'
import type * as v from 'valibot'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  CloudEventBatch,
  CloudEventHeaders,
  CreateTopicRequest,
  PUBSUB_LIMITS,
  PublishRequest,
  PublishResponse,
  StructuredCloudEvent,
  Topic,
  TopicList,
  TopicParam,
} from '../../schemas/pubsub'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { base64ToBytes } from '../platform/encoding'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  type Resource,
} from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import {
  BATCH_MEDIA_TYPE,
  type CloudEvent,
  eventFromBinary,
  eventFromStructured,
  eventToDraft,
  STRUCTURED_MEDIA_TYPE,
  type StructuredEventInput,
} from './cloudevents'
import { type MessageDraft, messageSize } from './messages'
import { parseInput, topicStub } from './route-helpers'
import { subscriptionRoutes } from './routes-subscriptions'
import type { TopicConfig } from './topic-log'
import type { TopicStats } from './views'

const TAGS = ['pubsub']
const KIND = 'topic'

function topicView(resource: Resource<TopicConfig>, stats?: TopicStats) {
  return {
    name: resource.name,
    retention: resource.config.retention,
    deduplicationWindowSeconds: resource.config.deduplicationWindowSeconds,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    ...(stats ? { stats } : {}),
  }
}

/** Every message within the size bound (CloudEvents are measured after mapping to messages). */
function assertMessageSizes(drafts: MessageDraft[]): void {
  const errors = drafts
    .map((draft, index) => ({ index, size: messageSize(draft) }))
    .filter(({ size }) => size > PUBSUB_LIMITS.maxMessageBytes)
    .map(({ index }) => ({
      path: drafts.length === 1 ? 'body' : `body/${index}`,
      message: 'A message is at most 256 KiB (data, attributes and ordering key)',
    }))
  if (errors.length > 0) throw new AppError('validation_failed', 'A message is too large.', { errors })
}

async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json()
  } catch {
    throw new AppError('bad_request', 'Malformed JSON in request body')
  }
}

export const pubsubRoutes = new Hono<AuthEnv>()
  .post(
    '/topics',
    describe({
      tags: TAGS,
      summary: 'Create a topic',
      scope: 'pubsub:write',
      responses: { 201: { description: 'The topic', schema: Topic } },
      problems: [409],
    }),
    requireScope('pubsub:write'),
    validate('json', CreateTopicRequest),
    async function createTopic(c) {
      const tenant = tenantOf(c)
      const { name, retention, deduplicationWindowSeconds } = c.req.valid('json')
      const config: TopicConfig = { retention, deduplicationWindowSeconds }
      const resource = await createResource(c.env, tenant, KIND, name, config)
      try {
        const stats = await topicStub(c, name).initialize({ tenant, name }, config)
        return c.json(topicView(resource, stats), 201)
      } catch (error) {
        await deleteResource(c.env, tenant, KIND, name).catch(() => {})
        throw error
      }
    },
  )
  .get(
    '/topics',
    describe({
      tags: TAGS,
      summary: 'List topics (by name, paginated)',
      scope: 'pubsub:read',
      responses: { 200: { description: 'A page of topics', schema: TopicList } },
    }),
    requireScope('pubsub:read'),
    validate('query', PageQuery),
    async function listTopics(c) {
      const { limit, cursor } = c.req.valid('query')
      const page = await listResources<TopicConfig>(c.env, tenantOf(c), KIND, { limit, cursor })
      return c.json({
        items: page.items.map((resource) => topicView(resource)),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .get(
    '/topics/:topic',
    describe({
      tags: TAGS,
      summary: 'Get a topic with its log statistics',
      scope: 'pubsub:read',
      responses: { 200: { description: 'The topic', schema: Topic } },
      problems: [404],
    }),
    requireScope('pubsub:read'),
    validate('param', TopicParam),
    async function getTopic(c) {
      const { topic } = c.req.valid('param')
      const resource = await getResource<TopicConfig>(c.env, tenantOf(c), KIND, topic)
      return c.json(topicView(resource, await topicStub(c, topic).describe()))
    },
  )
  .delete(
    '/topics/:topic',
    describe({
      tags: TAGS,
      summary: 'Delete a topic with its messages and subscriptions',
      scope: 'pubsub:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('pubsub:write'),
    validate('param', TopicParam),
    async function deleteTopic(c) {
      const { topic } = c.req.valid('param')
      await deleteResource(c.env, tenantOf(c), KIND, topic)
      await topicStub(c, topic).destroy()
      return c.json({ deleted: true })
    },
  )
  .post(
    '/topics/:topic/messages',
    describe({
      tags: TAGS,
      summary: 'Publish up to 100 messages (Pub/Sub JSON; data in base64)',
      description:
        'Acknowledged once stored. A `deduplicationId` seen inside the topic window returns the first ' +
        'message’s seq with `duplicate: true` and stores nothing.',
      scope: 'pubsub:write',
      responses: { 200: { description: 'Sequence numbers, in request order', schema: PublishResponse } },
      problems: [404, 413],
    }),
    requireScope('pubsub:write'),
    validate('param', TopicParam),
    validate('json', PublishRequest),
    async function publishMessages(c) {
      const { topic } = c.req.valid('param')
      const drafts: MessageDraft[] = c.req.valid('json').messages.map((message) => ({
        data: base64ToBytes(message.data) ?? new Uint8Array(),
        attributes: message.attributes,
        orderingKey: message.orderingKey,
        deduplicationId: message.deduplicationId,
      }))
      return c.json({ messages: await topicStub(c, topic).publish(drafts) })
    },
  )
  .post(
    '/topics/:topic/events',
    describe({
      tags: TAGS,
      summary: 'Publish CloudEvents 1.0 (structured, batch or binary mode)',
      description:
        '`application/cloudevents+json` (one event), `application/cloudevents-batch+json` (up to 100), or ' +
        'binary mode (`ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers; the body is the data). ' +
        'The `partitionkey` extension is the ordering key; `source` + `id` deduplicate.',
      scope: 'pubsub:write',
      responses: { 200: { description: 'Sequence numbers, in request order', schema: PublishResponse } },
      problems: [404, 413, 415],
    }),
    requireScope('pubsub:write'),
    validate('param', TopicParam),
    validate('header', CloudEventHeaders),
    async function publishEvents(c) {
      const { topic } = c.req.valid('param')
      const headers = c.req.valid('header') as Record<string, string>
      const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
      let events: CloudEvent[]
      if (mediaType === STRUCTURED_MEDIA_TYPE) {
        const event = parseInput(StructuredCloudEvent, await jsonBody(c.req.raw), 'body')
        events = [eventFromStructured(event as StructuredEventInput)]
      } else if (mediaType === BATCH_MEDIA_TYPE) {
        const batch: v.InferOutput<typeof CloudEventBatch> = parseInput(
          CloudEventBatch,
          await jsonBody(c.req.raw),
          'body',
        )
        events = batch.map((event) => eventFromStructured(event as StructuredEventInput))
      } else if (headers['ce-specversion'] !== undefined) {
        const decoded = eventFromBinary(headers, new Uint8Array(await c.req.arrayBuffer()))
        if ('problems' in decoded) {
          throw new AppError('validation_failed', 'The CloudEvent headers are invalid.', {
            errors: decoded.problems,
          })
        }
        events = [decoded.event]
      } else {
        throw new AppError(
          'unsupported_media_type',
          `Send a CloudEvent: ${STRUCTURED_MEDIA_TYPE}, ${BATCH_MEDIA_TYPE}, or binary mode with ce-* headers.`,
        )
      }
      const drafts = events.map(eventToDraft)
      assertMessageSizes(drafts)
      return c.json({ messages: await topicStub(c, topic).publish(drafts) })
    },
  )
  .route('/', subscriptionRoutes)

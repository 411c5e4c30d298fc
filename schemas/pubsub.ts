/**
 * Schemas of the publish-subscribe block (`/v1/pubsub`): topics, messages, CloudEvents,
 * subscriptions (pull, push, streaming), filters, acks and seeks. Every bound a client can
 * hit is here, so it shows in the OpenAPI document.
 */
import * as v from 'valibot'
import { isWebhookSecret } from '../workers/platform/delivery'
import { isBase64 } from '../workers/platform/encoding'
import { ATTRIBUTE_NAME } from '../workers/pubsub/cloudevents'
import type { AttributeFilter } from '../workers/pubsub/filter'
import { FORMATS } from '../workers/pubsub/formats'
import { utf8Length } from '../workers/pubsub/messages'
import { ResourceName } from './common'

const KiB = 1024
const MiB = 1024 * KiB

export const PUBSUB_LIMITS = {
  maxBatchMessages: 100,
  /** Bytes of one message: data + attribute names and values + ordering key (UTF-8). */
  maxMessageBytes: 256 * KiB,
  maxAttributes: 100,
  maxAttributeKeyLength: 256,
  maxAttributeValueLength: 1024,
  maxOrderingKeyLength: 1024,
  maxDeduplicationIdLength: 256,
  minRetentionSeconds: 60,
  maxRetentionSeconds: 31 * 24 * 3600,
  minRetentionBytes: 1 * MiB,
  maxRetentionBytes: 1024 * MiB,
  maxDeduplicationWindowSeconds: 24 * 3600,
  maxSubscriptionsPerTopic: 100,
  /** Open WebSocket + SSE connections per topic. */
  maxStreamsPerTopic: 1000,
  maxPullMessages: 1000,
  maxAckIds: 1000,
  maxAckDeadlineSeconds: 600,
  maxDeliveries: 100,
  maxPushTimeoutSeconds: 30,
  maxFilterDepth: 5,
  maxFilterNodes: 50,
  maxEventExtensions: 64,
} as const

/** Base64 characters of the largest message's data. */
const MAX_DATA_BASE64_LENGTH = 4 * Math.ceil(PUBSUB_LIMITS.maxMessageBytes / 3)
/** A publish body: the largest batch in base64 plus room for attributes and JSON. */
export const PUBSUB_MAX_BODY_BYTES = PUBSUB_LIMITS.maxBatchMessages * 360 * KiB

const integer = (min: number, max: number, what: string) =>
  v.pipe(
    v.number(),
    v.integer(`${what}: a whole number`),
    v.minValue(min, `${what}: at least ${min}`),
    v.maxValue(max, `${what}: at most ${max}`),
  )

const text = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.minLength(min, `At least ${min} characters`),
    v.maxLength(max, `At most ${max} characters`),
  )

// ---- Topics

export const TopicParam = v.object({ topic: ResourceName })

export const RetentionInput = v.strictObject({
  /** Messages older than this are removed from the log. */
  maxAgeSeconds: v.optional(
    integer(PUBSUB_LIMITS.minRetentionSeconds, PUBSUB_LIMITS.maxRetentionSeconds, 'maxAgeSeconds'),
    7 * 24 * 3600,
  ),
  /** The oldest messages are removed while the log holds more bytes than this. */
  maxBytes: v.optional(
    integer(PUBSUB_LIMITS.minRetentionBytes, PUBSUB_LIMITS.maxRetentionBytes, 'maxBytes'),
    256 * MiB,
  ),
})

export const CreateTopicRequest = v.strictObject({
  name: ResourceName,
  retention: v.optional(RetentionInput, {}),
  /** Publishes with a seen `deduplicationId` inside this window store nothing new (0 = off). */
  deduplicationWindowSeconds: v.optional(
    integer(0, PUBSUB_LIMITS.maxDeduplicationWindowSeconds, 'deduplicationWindowSeconds'),
    600,
  ),
})

export const TopicConfigSchema = v.object({
  retention: v.object({ maxAgeSeconds: v.number(), maxBytes: v.number() }),
  deduplicationWindowSeconds: v.number(),
})

export const TopicStatsSchema = v.object({
  /** The last sequence number given to a message (0 before the first). */
  headSeq: v.number(),
  /** The oldest retained message's sequence number (headSeq + 1 when the log is empty). */
  oldestSeq: v.number(),
  messages: v.number(),
  bytes: v.number(),
  subscriptions: v.number(),
  streams: v.number(),
})

export const Topic = v.object({
  name: v.string(),
  ...TopicConfigSchema.entries,
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
  stats: v.optional(TopicStatsSchema),
})

export const TopicList = v.object({ items: v.array(Topic), nextCursor: v.optional(v.string()) })

// ---- Messages

const AttributeKey = text(1, PUBSUB_LIMITS.maxAttributeKeyLength)
const AttributeValue = v.pipe(v.string(), v.maxLength(PUBSUB_LIMITS.maxAttributeValueLength))

export const Attributes = v.pipe(
  v.record(AttributeKey, AttributeValue),
  v.check(
    (attributes) => Object.keys(attributes).length <= PUBSUB_LIMITS.maxAttributes,
    `At most ${PUBSUB_LIMITS.maxAttributes} attributes`,
  ),
)

export const Base64Data = v.pipe(
  v.string(),
  v.maxLength(MAX_DATA_BASE64_LENGTH, 'At most 256 KiB of data'),
  v.check(isBase64, 'Standard (padded) base64'),
)

function base64ByteLength(base64: string): number {
  return (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0)
}

export const PublishMessage = v.pipe(
  v.strictObject({
    /** The payload in standard base64 (as Google Cloud Pub/Sub). */
    data: v.optional(Base64Data, ''),
    attributes: v.optional(Attributes, {}),
    /** Messages with the same key are delivered in publish order. */
    orderingKey: v.optional(text(1, PUBSUB_LIMITS.maxOrderingKeyLength)),
    deduplicationId: v.optional(text(1, PUBSUB_LIMITS.maxDeduplicationIdLength)),
  }),
  v.check(
    (message) => message.data.length > 0 || Object.keys(message.attributes).length > 0,
    'A message needs data or at least one attribute',
  ),
  v.check((message) => {
    let size = base64ByteLength(message.data) + (message.orderingKey ? utf8Length(message.orderingKey) : 0)
    for (const [key, value] of Object.entries(message.attributes)) size += utf8Length(key) + utf8Length(value)
    return size <= PUBSUB_LIMITS.maxMessageBytes
  }, 'A message is at most 256 KiB (data, attributes and ordering key)'),
)

export const PublishRequest = v.strictObject({
  messages: v.pipe(
    v.array(PublishMessage),
    v.minLength(1, 'At least one message'),
    v.maxLength(PUBSUB_LIMITS.maxBatchMessages, `At most ${PUBSUB_LIMITS.maxBatchMessages} messages`),
  ),
})

export const PublishResponse = v.object({
  messages: v.array(v.object({ messageId: v.string(), seq: v.number(), duplicate: v.boolean() })),
})

export const PubsubMessageSchema = v.object({
  messageId: v.string(),
  seq: v.number(),
  data: v.string(),
  attributes: v.record(v.string(), v.string()),
  orderingKey: v.optional(v.string()),
  publishTime: v.string(),
})

// ---- CloudEvents

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i
const Timestamp = v.pipe(
  v.string(),
  v.regex(RFC3339, 'An RFC 3339 timestamp'),
  v.check((value) => !Number.isNaN(Date.parse(value)), 'A real date and time'),
)

const CONTEXT_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
  'data',
  'data_base64',
])

export const StructuredCloudEvent = v.pipe(
  v.objectWithRest(
    {
      specversion: v.literal('1.0', 'Only CloudEvents 1.0 is accepted'),
      id: text(1, 256),
      source: text(1, 1024),
      type: text(1, 256),
      datacontenttype: v.optional(text(1, 256)),
      dataschema: v.optional(text(1, 1024)),
      subject: v.optional(text(1, 1024)),
      time: v.optional(Timestamp),
      data: v.optional(v.unknown()),
      data_base64: v.optional(Base64Data),
    },
    v.union([v.pipe(v.string(), v.maxLength(1024)), v.pipe(v.number(), v.integer()), v.boolean()]),
  ),
  v.check(
    (event) => !('data' in event && 'data_base64' in event),
    'An event has `data` or `data_base64`, not both',
  ),
  v.check((event) => {
    const extensions = Object.keys(event).filter((name) => !CONTEXT_ATTRIBUTES.has(name))
    return (
      extensions.length <= PUBSUB_LIMITS.maxEventExtensions &&
      extensions.every((name) => ATTRIBUTE_NAME.test(name))
    )
  }, `Extension names are 1–64 lowercase letters or digits; at most ${PUBSUB_LIMITS.maxEventExtensions}`),
)

export const CloudEventBatch = v.pipe(
  v.array(StructuredCloudEvent),
  v.minLength(1, 'At least one event'),
  v.maxLength(PUBSUB_LIMITS.maxBatchMessages, `At most ${PUBSUB_LIMITS.maxBatchMessages} events`),
)

/** Headers of `POST …/events`; binary mode carries the context in `ce-*` headers. */
export const CloudEventHeaders = v.pipe(
  v.looseObject({
    'content-type': v.optional(v.pipe(v.string(), v.maxLength(256))),
    'ce-specversion': v.optional(v.pipe(v.string(), v.maxLength(16))),
    'ce-id': v.optional(text(1, 256)),
    'ce-source': v.optional(text(1, 1024)),
    'ce-type': v.optional(text(1, 256)),
  }),
  v.check((headers) => {
    const context = Object.entries(headers).filter(([name]) => name.startsWith('ce-'))
    return (
      context.length <= PUBSUB_LIMITS.maxEventExtensions + 8 &&
      context.every(([, value]) => typeof value === 'string' && value.length <= 3 * 1024)
    )
  }, 'Too many or too long ce-* headers'),
)

// ---- Filters

const AttributeName = text(1, PUBSUB_LIMITS.maxAttributeKeyLength)
const leafFilters = [
  v.strictObject({ attribute: AttributeName, equals: AttributeValue }),
  v.strictObject({ attribute: AttributeName, prefix: AttributeValue }),
  v.strictObject({ attribute: AttributeName, exists: v.boolean() }),
] as const

/** A filter nested at most `depth` levels, built level by level (no unbounded recursion). */
function filterOfDepth(depth: number): v.GenericSchema<AttributeFilter> {
  if (depth <= 1) return v.union([...leafFilters]) as v.GenericSchema<AttributeFilter>
  const child = filterOfDepth(depth - 1)
  const children = v.pipe(v.array(child), v.maxLength(PUBSUB_LIMITS.maxFilterNodes))
  return v.union([
    ...leafFilters,
    v.strictObject({ and: children }),
    v.strictObject({ or: children }),
    v.strictObject({ not: child }),
  ]) as v.GenericSchema<AttributeFilter>
}

function countNodes(filter: AttributeFilter): number {
  if ('and' in filter) return 1 + filter.and.reduce((sum, child) => sum + countNodes(child), 0)
  if ('or' in filter) return 1 + filter.or.reduce((sum, child) => sum + countNodes(child), 0)
  if ('not' in filter) return 1 + countNodes(filter.not)
  return 1
}

export const Filter = v.pipe(
  filterOfDepth(PUBSUB_LIMITS.maxFilterDepth),
  v.check(
    (filter) => countNodes(filter) <= PUBSUB_LIMITS.maxFilterNodes,
    `At most ${PUBSUB_LIMITS.maxFilterNodes} filter nodes`,
  ),
)

// ---- Subscriptions

export const SubscriptionParam = v.object({ topic: ResourceName, subscription: ResourceName })

const HttpsUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.startsWith('https://', 'Push endpoints must use https'),
)

export const PushConfigInput = v.pipe(
  v.strictObject({
    endpoint: HttpsUrl,
    /** A Standard Webhooks secret (`whsec_…`); one is generated when absent. */
    secret: v.optional(
      v.pipe(v.string(), v.maxLength(256), v.check(isWebhookSecret, 'A whsec_ secret of at least 16 bytes')),
    ),
    timeoutSeconds: v.optional(integer(1, PUBSUB_LIMITS.maxPushTimeoutSeconds, 'timeoutSeconds'), 10),
    retry: v.optional(
      v.strictObject({
        baseDelaySeconds: v.optional(integer(0, 600, 'baseDelaySeconds'), 1),
        maxDelaySeconds: v.optional(integer(1, 3600, 'maxDelaySeconds'), 600),
      }),
      {},
    ),
  }),
  v.check(
    (push) => push.retry.baseDelaySeconds <= push.retry.maxDelaySeconds,
    'retry.baseDelaySeconds is at most retry.maxDelaySeconds',
  ),
)

export const DeadLetterInput = v.strictObject({
  /** A topic of the same tenant, not this one. */
  topic: ResourceName,
  /** Delivery attempts after which a message moves to the dead-letter topic. */
  maxDeliveries: v.optional(integer(1, PUBSUB_LIMITS.maxDeliveries, 'maxDeliveries'), 5),
})

export const CreateSubscriptionRequest = v.pipe(
  v.strictObject({
    name: ResourceName,
    type: v.picklist(['pull', 'push', 'streaming'], 'pull, push or streaming'),
    format: v.optional(v.picklist(FORMATS, FORMATS.join(', ')), 'raw'),
    filter: v.optional(v.nullable(Filter), null),
    /** Pull: how long a received message stays leased before it is delivered again. */
    ackDeadlineSeconds: v.optional(integer(1, PUBSUB_LIMITS.maxAckDeadlineSeconds, 'ackDeadlineSeconds'), 10),
    deadLetter: v.optional(v.nullable(DeadLetterInput), null),
    push: v.optional(v.nullable(PushConfigInput), null),
  }),
  v.forward(
    v.check(
      (input) => (input.type === 'push') === (input.push !== null),
      'Push subscriptions need `push`, others must not have it',
    ),
    ['push'],
  ),
  v.forward(
    v.check(
      (input) => input.type !== 'streaming' || input.deadLetter === null,
      'Streaming subscriptions have no dead-letter topic',
    ),
    ['deadLetter'],
  ),
)

const SubscriptionStats = v.object({
  /** The last sequence number this subscription has taken from the log. */
  cursor: v.number(),
  /** Messages not yet acknowledged (including not yet taken from the log; before filtering). */
  backlog: v.number(),
  /** Messages delivered and not yet settled: awaiting an ack (or its deadline), or a push retry. */
  outstanding: v.number(),
  /** Open WebSocket / SSE connections. */
  streams: v.number(),
})

export const Subscription = v.object({
  name: v.string(),
  topic: v.string(),
  type: v.picklist(['pull', 'push', 'streaming']),
  format: v.picklist(FORMATS),
  filter: v.nullable(v.unknown()),
  ackDeadlineSeconds: v.number(),
  deadLetter: v.nullable(v.object({ topic: v.string(), maxDeliveries: v.number() })),
  push: v.nullable(
    v.object({
      endpoint: v.string(),
      /** Only in the response that created the subscription. */
      secret: v.optional(v.string()),
      timeoutSeconds: v.number(),
      retry: v.object({ baseDelaySeconds: v.number(), maxDelaySeconds: v.number() }),
    }),
  ),
  createdAt: v.number(),
  stats: SubscriptionStats,
})

export const SubscriptionList = v.object({ items: v.array(Subscription), nextCursor: v.optional(v.string()) })

export const PullRequest = v.strictObject({
  maxMessages: v.optional(integer(1, PUBSUB_LIMITS.maxPullMessages, 'maxMessages'), 100),
  /** Overrides the subscription's ack deadline for these messages. */
  ackDeadlineSeconds: v.optional(integer(1, PUBSUB_LIMITS.maxAckDeadlineSeconds, 'ackDeadlineSeconds')),
})

export const ReceivedMessage = v.object({
  ackId: v.string(),
  deliveryAttempt: v.number(),
  message: v.optional(PubsubMessageSchema),
  event: v.optional(v.record(v.string(), v.unknown())),
})

export const PullResponse = v.object({ receivedMessages: v.array(ReceivedMessage) })

const AckId = v.pipe(v.string(), v.regex(/^[1-9]\d{0,15}-[1-9]\d{0,15}$/, 'An ack id from a pull'))
const AckIds = v.pipe(
  v.array(AckId),
  v.minLength(1, 'At least one ack id'),
  v.maxLength(PUBSUB_LIMITS.maxAckIds, `At most ${PUBSUB_LIMITS.maxAckIds} ack ids`),
)

export const AckRequest = v.strictObject({ ackIds: AckIds })
export const ModifyDeadlineRequest = v.strictObject({
  ackIds: AckIds,
  /** 0 makes the messages available again at once (a nack). */
  ackDeadlineSeconds: integer(0, PUBSUB_LIMITS.maxAckDeadlineSeconds, 'ackDeadlineSeconds'),
})

export const AckResponse = v.object({
  /** Leases that were current and are now settled. */
  count: v.number(),
  /** Ack ids that are not (or no longer) a current lease: already acked, expired and redelivered, or reset by a seek. */
  invalidAckIds: v.array(v.string()),
})

export const SeekRequest = v.union([
  v.strictObject({ seq: integer(0, Number.MAX_SAFE_INTEGER, 'seq') }),
  v.strictObject({ time: Timestamp }),
])

export const SeekResponse = v.object({
  /** Messages after this sequence number are delivered (again). */
  cursor: v.number(),
})

export const StreamQuery = v.strictObject({
  /** Resume after this sequence number (WebSocket; SSE may use `Last-Event-ID`). */
  after: v.optional(v.pipe(v.string(), v.regex(/^\d{1,16}$/, 'A sequence number'))),
})

export const StreamHeaders = v.looseObject({
  'last-event-id': v.optional(v.pipe(v.string(), v.regex(/^\s*\d{1,16}\s*$/, 'A sequence number'))),
})

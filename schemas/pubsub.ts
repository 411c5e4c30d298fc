/**
 * Schemas of the publish-subscribe block (`/v1/pubsub`): its limits, topics, publishing as
 * Pub/Sub messages or CloudEvents. Subscriptions, filters, pulls, acks, seeks and streams are
 * in pubsub-subscriptions.ts. Every bound a client can hit is in one of the two, so it shows
 * in the OpenAPI document.
 */
import * as v from 'valibot'
import { isBase64 } from './base64'
import { integer, ResourceName } from './common'
import { HeaderSafeText, headerSafe, utf8Length } from './text'

/** A CloudEvents context attribute name: lowercase letters and digits. */
export const ATTRIBUTE_NAME = /^[a-z0-9]{1,64}$/

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

/** Keys, ids and CloudEvents context values: each may become a header or a log field. */
export const text = HeaderSafeText

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
/** An attribute value becomes a `ce-*` header in CloudEvents binary mode: header-safe. */
export const AttributeValue = v.pipe(
  v.string(),
  v.maxLength(PUBSUB_LIMITS.maxAttributeValueLength),
  headerSafe(),
)

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
export const Timestamp = v.pipe(
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

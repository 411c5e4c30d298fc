/**
 * Schemas of the publish-subscribe block's subscriptions (`/v1/pubsub/topics/{topic}/subscriptions…`):
 * creating pull, push and streaming subscriptions with their attribute filters, pulling,
 * acking, modifying deadlines, seeking and opening streams. Every bound a client can hit
 * is here (limits in PUBSUB_LIMITS of pubsub.ts), so it shows in the OpenAPI document.
 */
import * as v from 'valibot'
import { integer, ResourceName } from './common'
import { StreamTicketQuery } from './platform'
import { AttributeValue, PUBSUB_LIMITS, PubsubMessageSchema, Timestamp, text } from './pubsub'
import { isWebhookSecret } from './webhook-secret'

// ---- Filters

/** An attribute filter: leaves test one attribute, `and`/`or`/`not` combine them. */
export type AttributeFilter =
  | { attribute: string; equals: string }
  | { attribute: string; prefix: string }
  | { attribute: string; exists: boolean }
  | { and: AttributeFilter[] }
  | { or: AttributeFilter[] }
  | { not: AttributeFilter }

/** What a subscriber receives: the Pub/Sub message, or its CloudEvent in structured or binary mode. */
export const FORMATS = ['raw', 'cloudevents-structured', 'cloudevents-binary'] as const
export type DeliveryFormat = (typeof FORMATS)[number]

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
  ...StreamTicketQuery.entries,
})

export const StreamHeaders = v.looseObject({
  'last-event-id': v.optional(v.pipe(v.string(), v.regex(/^\s*\d{1,16}\s*$/, 'A sequence number'))),
})

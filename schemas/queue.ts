/**
 * Schemas of the message queue block (`/v1/queues`): queue settings, messages, receipts.
 * Every bound a client can hit is here, so it shows in the OpenAPI document; the queue's
 * own limits (delay ≤ its retention, FIFO-only fields) are checked by the queue itself.
 */
import * as v from 'valibot'
import { ResourceName } from './common'
import { wellFormed } from './text'

export const QUEUE_LIMITS = {
  /** Longest visibility timeout (SQS: 12 hours). */
  maxVisibilityTimeoutSeconds: 12 * 3600,
  minRetentionSeconds: 60,
  maxRetentionSeconds: 14 * 24 * 3600,
  /** Bytes of one message: its body plus its attribute names and values (UTF-8). */
  maxMessageBytes: 256 * 1024,
  /** Bytes of one batch: the sum of its messages' sizes. */
  maxBatchBytes: 1024 * 1024,
  maxBatchMessages: 100,
  maxReceiveMessages: 100,
  maxWaitSeconds: 20,
  maxAttributes: 10,
  maxAttributeValueLength: 1024,
  maxPartitions: 16,
  maxReceiveCount: 1000,
  /** FIFO deduplication window (SQS: 5 minutes). */
  deduplicationWindowSeconds: 300,
  maxRedriveMessages: 100_000,
  /** How long a send's Idempotency-Key is remembered. */
  idempotencyKeySeconds: 24 * 3600,
} as const

const seconds = (min: number, max: number, what: string) =>
  v.pipe(
    v.number(),
    v.integer('Whole seconds'),
    v.minValue(min, `${what}: at least ${min}`),
    v.maxValue(max, `${what}: at most ${max}`),
  )

export const VisibilityTimeoutSeconds = seconds(
  0,
  QUEUE_LIMITS.maxVisibilityTimeoutSeconds,
  'Visibility timeout',
)
export const RetentionSeconds = seconds(
  QUEUE_LIMITS.minRetentionSeconds,
  QUEUE_LIMITS.maxRetentionSeconds,
  'Retention',
)
/** A delay is also at most the queue's retention; the queue checks that. */
export const DelaySeconds = seconds(0, QUEUE_LIMITS.maxRetentionSeconds, 'Delay')

export const DeadLetterSettings = v.object({
  /** A queue of the same tenant and type (FIFO or standard), not this one. */
  queue: ResourceName,
  /** Deliveries after which an unacknowledged message moves to the dead-letter queue. */
  maxReceiveCount: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(QUEUE_LIMITS.maxReceiveCount)),
})

const HttpsUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.startsWith('https://', 'Push endpoints must use https'),
)

export const PushSettingsInput = v.object({
  url: HttpsUrl,
  /** Messages per POST. */
  batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)), 10),
  /** How long one POST may take before it counts as failed. */
  timeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(60)), 10),
  /** Attempts per message before it is dead-lettered (needs `deadLetter`). */
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)), 5),
})

/** Settings accepted when a queue is created; every field has a default. */
export const CreateQueueRequest = v.strictObject({
  fifo: v.optional(v.boolean(), false),
  contentBasedDeduplication: v.optional(v.boolean(), false),
  visibilityTimeoutSeconds: v.optional(VisibilityTimeoutSeconds, 30),
  retentionSeconds: v.optional(RetentionSeconds, 4 * 24 * 3600),
  delaySeconds: v.optional(DelaySeconds, 0),
  partitions: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(QUEUE_LIMITS.maxPartitions)),
    1,
  ),
  deadLetter: v.optional(v.nullable(DeadLetterSettings), null),
  push: v.optional(v.nullable(PushSettingsInput), null),
})

/** A partial update: omitted fields keep their value, `null` removes `deadLetter` / `push`. */
export const UpdateQueueRequest = v.strictObject({
  fifo: v.optional(v.boolean()),
  contentBasedDeduplication: v.optional(v.boolean()),
  visibilityTimeoutSeconds: v.optional(VisibilityTimeoutSeconds),
  retentionSeconds: v.optional(RetentionSeconds),
  delaySeconds: v.optional(DelaySeconds),
  partitions: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(QUEUE_LIMITS.maxPartitions)),
  ),
  deadLetter: v.optional(v.nullable(DeadLetterSettings)),
  push: v.optional(v.nullable(PushSettingsInput)),
})

export const QueueParam = v.object({ queue: ResourceName })

const PushSettingsView = v.object({
  url: v.string(),
  batchSize: v.number(),
  timeoutSeconds: v.number(),
  maxAttempts: v.number(),
  /** The signing secret (`whsec_…`); present only in the response that set a new endpoint. */
  secret: v.optional(v.string()),
})

export const QueueSettingsView = v.object({
  fifo: v.boolean(),
  contentBasedDeduplication: v.boolean(),
  visibilityTimeoutSeconds: v.number(),
  retentionSeconds: v.number(),
  delaySeconds: v.number(),
  partitions: v.number(),
  deadLetter: v.nullable(v.object({ queue: v.string(), maxReceiveCount: v.number() })),
  push: v.nullable(PushSettingsView),
})

export const QueueCounters = v.object({
  visible: v.number(),
  inFlight: v.number(),
  delayed: v.number(),
  /** Messages on their way to another queue (dead-lettering, redrive). */
  moving: v.number(),
  oldestMessageAgeSeconds: v.nullable(v.number()),
  sent: v.number(),
  deduplicated: v.number(),
  received: v.number(),
  acked: v.number(),
  deadLettered: v.number(),
  redriven: v.number(),
  expired: v.number(),
  purged: v.number(),
  pushed: v.number(),
  pushFailures: v.number(),
  /** Long-polling receives held open right now. */
  waitingReceivers: v.number(),
})

export const QueueView = v.object({
  name: v.string(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
  settings: QueueSettingsView,
})

export const QueueWithStats = v.object({
  ...QueueView.entries,
  stats: QueueCounters,
  partitionStats: v.array(v.object({ partition: v.number(), ...QueueCounters.entries })),
})

export const QueueList = v.object({ items: v.array(QueueView), nextCursor: v.optional(v.string()) })

const AttributeName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(256),
  v.regex(/^[A-Za-z0-9_.-]+$/, 'Letters, digits, "_", "." and "-"'),
)

export const MessageAttributes = v.pipe(
  v.record(
    AttributeName,
    v.pipe(v.string(), v.maxLength(QUEUE_LIMITS.maxAttributeValueLength), wellFormed()),
  ),
  v.check(
    (attributes) => Object.keys(attributes).length <= QUEUE_LIMITS.maxAttributes,
    `At most ${QUEUE_LIMITS.maxAttributes} attributes`,
  ),
)

const GroupId = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(128),
  v.regex(/^[\x21-\x7e]+$/, 'Printable ASCII without spaces'),
)

export const OutgoingMessage = v.strictObject({
  /** The payload, any text (send JSON as a string); ≤ 256 KiB with its attributes. */
  body: v.pipe(v.string(), v.maxBytes(QUEUE_LIMITS.maxMessageBytes, 'At most 256 KiB'), wellFormed()),
  attributes: v.optional(MessageAttributes),
  /** Seconds before the message becomes visible; at most the queue's retention. */
  delaySeconds: v.optional(DelaySeconds),
  /** FIFO queues only: the message group; order is strict within a group. */
  groupId: v.optional(GroupId),
  /** FIFO queues only: sends with the same id within 5 minutes are stored once. */
  deduplicationId: v.optional(GroupId),
})

export const SendBatchRequest = v.strictObject({
  messages: v.pipe(
    v.array(OutgoingMessage),
    v.minLength(1, 'At least one message'),
    v.maxLength(QUEUE_LIMITS.maxBatchMessages, `At most ${QUEUE_LIMITS.maxBatchMessages} messages`),
  ),
})

export const SentMessage = v.object({
  messageId: v.string(),
  /** True when this send was a duplicate within the deduplication window: nothing was stored. */
  duplicate: v.boolean(),
  /** The message's position in its partition (FIFO: the order of delivery in its group). */
  sequenceNumber: v.number(),
})

export const SentBatch = v.object({ messages: v.array(SentMessage) })

export const ReceiveRequest = v.strictObject({
  maxMessages: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(QUEUE_LIMITS.maxReceiveMessages)),
    1,
  ),
  /** Defaults to the queue's visibility timeout. */
  visibilityTimeoutSeconds: v.optional(VisibilityTimeoutSeconds),
  /** Long polling: wait up to this long for a message when none is visible. */
  waitSeconds: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(QUEUE_LIMITS.maxWaitSeconds)),
    0,
  ),
})

export const DeadLetterHistory = v.object({
  sourceQueue: v.string(),
  sourcePartition: v.number(),
  reason: v.picklist(['max-receives', 'push-exhausted']),
  receiveCount: v.number(),
  firstReceivedAt: v.nullable(v.number()),
  lastReceivedAt: v.nullable(v.number()),
  deadLetteredAt: v.number(),
})

export const ReceivedMessage = v.object({
  messageId: v.string(),
  receiptHandle: v.string(),
  body: v.string(),
  attributes: v.record(v.string(), v.string()),
  sentAt: v.number(),
  receiveCount: v.number(),
  firstReceivedAt: v.number(),
  sequenceNumber: v.number(),
  groupId: v.optional(v.string()),
  deadLetter: v.optional(DeadLetterHistory),
})

export const ReceivedBatch = v.object({ messages: v.array(ReceivedMessage) })

export const ReceiptHandle = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(512),
  v.regex(/^[A-Za-z0-9_-]+$/, 'A receipt handle from a receive'),
)

export const ReceiptParam = v.object({ queue: ResourceName, receiptHandle: ReceiptHandle })

export const AckBatchRequest = v.strictObject({
  receiptHandles: v.pipe(
    v.array(ReceiptHandle),
    v.minLength(1),
    v.maxLength(QUEUE_LIMITS.maxReceiveMessages, `At most ${QUEUE_LIMITS.maxReceiveMessages} handles`),
  ),
})

export const AckOutcome = v.object({
  receiptHandle: v.string(),
  /** 200 acked; 409 stale (delivered again since); 410 gone (acked, expired or moved). */
  status: v.picklist([200, 409, 410]),
})

export const AckBatchResult = v.object({ acked: v.number(), results: v.array(AckOutcome) })

export const Acked = v.object({ messageId: v.string(), acked: v.literal(true) })

export const ChangeVisibilityRequest = v.strictObject({
  /** From now; 0 makes the message visible again at once (a nack). */
  visibilityTimeoutSeconds: VisibilityTimeoutSeconds,
})

export const VisibilityChanged = v.object({ messageId: v.string(), visibleAt: v.number() })

export const Purged = v.object({ purged: v.number() })

export const RedriveRequest = v.strictObject({
  maxMessages: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(QUEUE_LIMITS.maxRedriveMessages)),
    QUEUE_LIMITS.maxRedriveMessages,
  ),
})

export const Redriven = v.object({
  /** Messages moved back to their source queues. */
  moved: v.number(),
  /** Messages left in this queue because their source queue no longer exists. */
  failed: v.number(),
  /** Messages whose move failed for now; the queue retries them with backoff. */
  pending: v.number(),
})

export type CreateQueueInput = v.InferOutput<typeof CreateQueueRequest>
export type UpdateQueueInput = v.InferOutput<typeof UpdateQueueRequest>
export type OutgoingMessageInput = v.InferOutput<typeof OutgoingMessage>
export type ReceiveInput = v.InferOutput<typeof ReceiveRequest>
export type QueueCountersOutput = v.InferOutput<typeof QueueCounters>
export type ReceivedMessageOutput = v.InferOutput<typeof ReceivedMessage>
export type DeadLetterHistoryOutput = v.InferOutput<typeof DeadLetterHistory>

/**
 * Schemas of the task scheduler block's inputs (`/v1/scheduler`): one-off tasks, recurring
 * schedules, tenant limits. Every bound is here so it shows in the OpenAPI document; a
 * time zone is checked with `Intl`, and a cron expression's length here while the route
 * runs the scheduler's own parser on it (same 400 problem, path `body/cron`).
 * The response shapes are in scheduler-responses.ts.
 */
import * as v from 'valibot'
import { integer, limitQuery, ResourceName } from './common'
import { HeaderSafeText, headerSafe } from './text'

/** Interval schedules: 1 s (one alarm a second is cheap; finer is a loop) to 366 days. */
export const MIN_INTERVAL_SECONDS = 1
export const MAX_INTERVAL_SECONDS = 366 * 24 * 3600

export const CRON_MAX_LENGTH = 256

/**
 * The canonical name of an IANA time zone (`Intl`'s spelling), or undefined when the
 * runtime does not know it. Offsets like `+05:00` are not time zones here.
 */
export function canonicalTimeZone(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return undefined
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

export const SCHEDULER_LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxHeaders: 32,
  maxHeaderValueLength: 2048,
  maxAttributes: 16,
  /** A one-off task runs at most this far ahead. */
  maxDelaySeconds: 366 * 24 * 3600,
  maxAttempts: 25,
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
  minCatchupWindowSeconds: 10,
  maxCatchupWindowSeconds: 7 * 24 * 3600,
  maxJitterSeconds: 3600,
  /** Clock skew tolerated for a `runAt` slightly in the past. */
  pastToleranceMs: 1_000,
} as const

/** RFC 3339 date-time, e.g. `2030-01-01T09:00:00Z` or with an offset. */
export const Timestamp = v.pipe(
  v.string(),
  v.isoTimestamp('An RFC 3339 date-time, e.g. 2030-01-01T09:00:00Z'),
)

const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-scheduler-attempt',
])

const HeaderName = v.pipe(
  v.string(),
  v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'An HTTP header name'),
  v.check((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'This header is set by the scheduler'),
)
const HeaderValue = v.pipe(
  v.string(),
  v.maxLength(SCHEDULER_LIMITS.maxHeaderValueLength),
  v.regex(/^[^\r\n\0]*$/, 'No line breaks'),
)
const Body = v.pipe(v.string(), v.maxBytes(SCHEDULER_LIMITS.maxBodyBytes, 'At most 64 KiB'))
// Attributes and ordering keys travel on to a queue or topic, whose push may send them as headers.
const Attributes = v.pipe(
  v.record(HeaderSafeText(1, 128), v.pipe(v.string(), v.maxLength(1024), headerSafe())),
  v.check((value) => Object.keys(value).length <= SCHEDULER_LIMITS.maxAttributes, 'At most 16 attributes'),
)

export const HttpTarget = v.pipe(
  v.strictObject({
    type: v.literal('http'),
    /** https; plain http only to 127.0.0.1 / localhost when SCHEDULER_ALLOW_INSECURE_LOOPBACK=true. */
    url: v.pipe(
      v.string(),
      v.maxLength(2048),
      v.url('An absolute URL'),
      v.regex(/^https?:\/\//i, 'An http(s) URL'),
    ),
    method: v.optional(v.picklist(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']), 'POST'),
    headers: v.optional(
      v.pipe(
        v.record(HeaderName, HeaderValue),
        v.check((value) => Object.keys(value).length <= SCHEDULER_LIMITS.maxHeaders, 'At most 32 headers'),
      ),
    ),
    body: v.optional(Body),
  }),
  v.check((target) => !(target.method === 'GET' && target.body !== undefined), 'A GET request has no body'),
)

export const QueueTarget = v.strictObject({
  type: v.literal('queue'),
  queue: ResourceName,
  body: Body,
  attributes: v.optional(Attributes),
  /** FIFO queues: the message group (the task id is the deduplication id). */
  groupId: v.optional(HeaderSafeText(1, 128)),
})

export const TopicTarget = v.strictObject({
  type: v.literal('topic'),
  topic: ResourceName,
  data: Body,
  attributes: v.optional(Attributes),
  orderingKey: v.optional(HeaderSafeText(1, 1024)),
})

export const Target = v.variant('type', [HttpTarget, QueueTarget, TopicTarget])

export const Priority = v.optional(v.picklist(['high', 'normal', 'low']), 'normal')

export const RetryPolicy = v.optional(
  v.pipe(
    v.strictObject({
      maxAttempts: v.optional(integer(1, SCHEDULER_LIMITS.maxAttempts, 'maxAttempts'), 5),
      initialDelayMs: v.optional(integer(100, 3_600_000, 'initialDelayMs'), 1_000),
      maxDelayMs: v.optional(integer(100, 24 * 3_600_000, 'maxDelayMs'), 15 * 60_000),
    }),
    v.check(
      (retry) => retry.maxDelayMs >= retry.initialDelayMs,
      'maxDelayMs must be at least initialDelayMs',
    ),
  ),
  {},
)

const TimeoutMs = v.optional(
  integer(SCHEDULER_LIMITS.minTimeoutMs, SCHEDULER_LIMITS.maxTimeoutMs, 'timeoutMs'),
  10_000,
)

export const CreateTaskRequest = v.pipe(
  v.strictObject({
    target: Target,
    /** When to run (RFC 3339, not in the past); or `delaySeconds`; neither = now. */
    runAt: v.optional(Timestamp),
    delaySeconds: v.optional(integer(0, SCHEDULER_LIMITS.maxDelaySeconds, 'delaySeconds')),
    priority: Priority,
    retry: RetryPolicy,
    /** How long one attempt may take before it counts as failed. */
    timeoutMs: TimeoutMs,
  }),
  v.check(
    (task) => task.runAt === undefined || task.delaySeconds === undefined,
    'Give runAt or delaySeconds, not both',
  ),
)

/** A cron expression's shape; the route parses it (`checkCron` in the scheduler's route helpers). */
export const CronExpressionText = v.pipe(v.string(), v.maxLength(CRON_MAX_LENGTH))

export const TimeZone = v.pipe(
  v.string(),
  v.maxLength(64),
  v.check((zone) => canonicalTimeZone(zone) !== undefined, 'An IANA time zone, e.g. Europe/Berlin'),
)

export const CreateScheduleRequest = v.pipe(
  v.strictObject({
    name: ResourceName,
    /** 5 fields, or 6 with seconds first; see the block's README for the dialect. */
    cron: v.optional(CronExpressionText),
    /** The cron expression's time zone (IANA); default UTC. */
    timeZone: v.optional(TimeZone),
    intervalSeconds: v.optional(integer(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, 'intervalSeconds')),
    /** The first run of an interval schedule (default: one interval after creation). */
    startAt: v.optional(Timestamp),
    target: Target,
    priority: Priority,
    retry: RetryPolicy,
    timeoutMs: TimeoutMs,
    overlap: v.optional(v.picklist(['skip', 'buffer_one', 'allow_all']), 'skip'),
    catchup: v.optional(v.picklist(['all', 'last']), 'last'),
    catchupWindowSeconds: v.optional(
      integer(
        SCHEDULER_LIMITS.minCatchupWindowSeconds,
        SCHEDULER_LIMITS.maxCatchupWindowSeconds,
        'catchupWindowSeconds',
      ),
      3600,
    ),
    jitterSeconds: v.optional(integer(0, SCHEDULER_LIMITS.maxJitterSeconds, 'jitterSeconds'), 0),
    paused: v.optional(v.boolean(), false),
  }),
  v.check(
    (spec) => (spec.cron === undefined) !== (spec.intervalSeconds === undefined),
    'Give exactly one of cron or intervalSeconds',
  ),
  v.check(
    (spec) => spec.cron !== undefined || spec.timeZone === undefined,
    'timeZone applies to cron schedules',
  ),
  v.check(
    (spec) => spec.intervalSeconds !== undefined || spec.startAt === undefined,
    'startAt applies to interval schedules',
  ),
)

export const PauseRequest = v.optional(
  // The note shows in listings and logs: one line of well-formed text.
  v.strictObject({ note: v.optional(HeaderSafeText(0, 512)) }),
  {},
)

export const LimitsRequest = v.strictObject({
  concurrency: integer(1, 10_000, 'concurrency'),
  ratePerSecond: v.pipe(v.number(), v.minValue(0.01), v.maxValue(10_000)),
  burst: integer(1, 10_000, 'burst'),
})

export const TaskIdParam = v.object({ id: v.pipe(v.string(), v.uuid('A task id')) })

export const TaskListQuery = v.object({
  status: v.optional(v.picklist(['scheduled', 'running', 'succeeded', 'failed', 'cancelled'])),
  limit: limitQuery(100, '50'),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(512))),
})

export const RunListQuery = v.object({
  limit: limitQuery(100, '100'),
})

export type CreateTaskInput = v.InferOutput<typeof CreateTaskRequest>
export type CreateScheduleInput = v.InferOutput<typeof CreateScheduleRequest>
export type TargetInput = v.InferOutput<typeof Target>

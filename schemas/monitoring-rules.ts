/**
 * Schemas and bounds of the monitoring block's rules half: rule files (Prometheus rule-file
 * YAML, validated by workers/monitoring/rules/rule-file.ts), webhook receivers (Alertmanager
 * webhook format, signed per Standard Webhooks) and silences (Alertmanager's matcher shape).
 */
import * as v from 'valibot'
import { integer } from './common'
import { isWebhookSecret } from './webhook-secret'

export const RULES_LIMITS = {
  /** Largest rule file (YAML text). */
  maxFileBytes: 256 * 1024,
  maxFiles: 50,
  maxGroupsPerFile: 50,
  maxRulesPerGroup: 100,
  /** Shortest and longest group evaluation interval. */
  minIntervalMs: 1_000,
  maxIntervalMs: 24 * 3_600_000,
  defaultIntervalMs: 60_000,
  maxReceivers: 20,
  maxSilences: 1_000,
  maxMatchers: 20,
  /** Webhook attempts before a notification goes to the dead letters. */
  maxAttempts: 8,
  /** Resolved alerts stay listed (and can still be notified) this long, as in Prometheus. */
  resolvedRetentionMs: 15 * 60_000,
} as const

const LabelName = v.pipe(v.string(), v.regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'A Prometheus label name'))

/** One Alertmanager matcher: `name` equal (or not) to `value`, or matching it as a regex. */
export const SilenceMatcher = v.strictObject({
  name: LabelName,
  value: v.pipe(v.string(), v.maxLength(1024)),
  isRegex: v.optional(v.boolean(), false),
  isEqual: v.optional(v.boolean(), true),
})
export type SilenceMatcher = v.InferOutput<typeof SilenceMatcher>

const Matchers = v.pipe(
  v.array(SilenceMatcher),
  v.maxLength(RULES_LIMITS.maxMatchers, `At most ${RULES_LIMITS.maxMatchers} matchers`),
)

const WebhookUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.regex(/^https?:\/\//, 'An http or https URL'),
)

export const ReceiverInput = v.strictObject({
  url: WebhookUrl,
  /** A Standard Webhooks secret (`whsec_…`); one is generated when absent. */
  secret: v.optional(
    v.pipe(v.string(), v.maxLength(256), v.check(isWebhookSecret, 'A whsec_ secret of at least 16 bytes')),
  ),
  /** Only alerts matching every matcher go to this receiver (all alerts when empty). */
  matchers: v.optional(Matchers, []),
  /** A still-firing alert is notified again after this long (Alertmanager's repeat_interval). */
  repeatIntervalSeconds: v.optional(integer(60, 7 * 86_400, 'repeatIntervalSeconds'), 4 * 3_600),
  timeoutSeconds: v.optional(integer(1, 30, 'timeoutSeconds'), 10),
})
export type ReceiverInput = v.InferOutput<typeof ReceiverInput>

export const ReceiverView = v.object({
  name: v.string(),
  url: v.string(),
  /** Returned once, when the receiver is created or its secret is replaced. */
  secret: v.optional(v.string()),
  matchers: v.array(SilenceMatcher),
  repeatIntervalSeconds: v.number(),
  timeoutSeconds: v.number(),
  /** Notifications waiting for an attempt, and given up after the last attempt. */
  pending: v.number(),
  deadLettered: v.number(),
  lastError: v.nullable(v.string()),
})

export const DeadLetter = v.object({
  id: v.number(),
  webhookId: v.string(),
  attempts: v.number(),
  lastError: v.string(),
  failedAt: v.number(),
  payload: v.unknown(),
})

export const SilenceInput = v.pipe(
  v.strictObject({
    matchers: v.pipe(Matchers, v.minLength(1, 'At least one matcher')),
    /** RFC 3339; defaults to now. */
    startsAt: v.optional(v.pipe(v.string(), v.isoTimestamp('An RFC 3339 timestamp'))),
    endsAt: v.pipe(v.string(), v.isoTimestamp('An RFC 3339 timestamp')),
    createdBy: v.optional(v.pipe(v.string(), v.maxLength(256)), ''),
    comment: v.optional(v.pipe(v.string(), v.maxLength(1024)), ''),
  }),
  v.check(
    (s) => Date.parse(s.endsAt) > (s.startsAt ? Date.parse(s.startsAt) : Number.NEGATIVE_INFINITY),
    'endsAt must be after startsAt',
  ),
)
export type SilenceInput = v.InferOutput<typeof SilenceInput>

export const SilenceView = v.object({
  id: v.string(),
  matchers: v.array(SilenceMatcher),
  startsAt: v.string(),
  endsAt: v.string(),
  createdBy: v.string(),
  comment: v.string(),
  status: v.object({ state: v.picklist(['pending', 'active', 'expired']) }),
})

export const SilenceParam = v.object({ silence: v.pipe(v.string(), v.uuid('A silence id')) })

export const RuleFileView = v.object({
  name: v.string(),
  groups: v.array(v.object({ name: v.string(), intervalSeconds: v.number(), rules: v.number() })),
  updatedAt: v.number(),
})

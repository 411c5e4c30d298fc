/** Schemas of the rate limiter's routes: policies, checks, key resets. Every input is bounded here. */
import * as v from 'valibot'
import { DURATION_PATTERN, parseDurationMs, ResourceName } from './common'

/**
 * The rate-limiting algorithms and the bounds that keep their whole-number arithmetic exact
 * (every state stays under 2^50; see workers/ratelimit/decision.ts).
 */
export const ALGORITHMS = [
  'token-bucket',
  'leaky-bucket',
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
  'gcra',
] as const

export type Algorithm = (typeof ALGORITHMS)[number]

/** The algorithms that admit bursts up to a bucket size (`burst`) and refill at `limit / period`. */
export const BUCKET_ALGORITHMS: ReadonlySet<Algorithm> = new Set(['token-bucket', 'leaky-bucket', 'gcra'])

export const POLICY_BOUNDS = {
  /** Largest `limit` and `burst`, in cost units. */
  maxLimit: 1_000_000,
  /** The sliding log stores one entry per admitted request, so its limit is smaller. */
  maxLogLimit: 1_000,
  /** Shortest and longest period, in ms (1 ms to 7 days). */
  minPeriodMs: 1,
  maxPeriodMs: 7 * 24 * 3600 * 1000,
} as const

export const MAX_KEYS_PER_CHECK = 16

const units = (what: string) =>
  v.pipe(
    v.number(),
    v.integer(`${what} must be a whole number`),
    v.minValue(1, `${what} must be at least 1`),
    v.maxValue(POLICY_BOUNDS.maxLimit, `${what} must be at most ${POLICY_BOUNDS.maxLimit}`),
  )

/** A period: whole milliseconds (`60000`) or a duration string (`"60s"`, `"500ms"`, `"1h"`, `"1d"`); 1 ms–7 days. */
export const Period = v.pipe(
  v.union(
    [
      v.pipe(v.number(), v.integer('The period in ms must be a whole number')),
      v.pipe(
        v.string(),
        v.regex(DURATION_PATTERN, 'A duration: a whole number and ms, s, m, h or d, e.g. "60s"'),
      ),
    ],
    'A period: milliseconds, or a duration string such as "60s"',
  ),
  v.transform((period) => (typeof period === 'number' ? period : (parseDurationMs(period) ?? 0))),
  v.minValue(POLICY_BOUNDS.minPeriodMs, 'The period must be at least 1 ms'),
  v.maxValue(POLICY_BOUNDS.maxPeriodMs, 'The period must be at most 7 days'),
  v.description('Milliseconds, or a duration string ("500ms", "60s", "5m", "1h", "1d"); 1 ms to 7 days'),
)

export const Algorithm = v.picklist(ALGORITHMS, `One of ${ALGORITHMS.join(', ')}`)

export const PolicyBody = v.pipe(
  v.strictObject({
    algorithm: Algorithm,
    /** Cost units per period: the window limit, or the refill per period for the bucket algorithms. */
    limit: units('The limit'),
    period: Period,
    /** Bucket algorithms only: the largest burst, in cost units (default: `limit`). */
    burst: v.optional(units('The burst')),
    /** Shadow mode: count and report, never deny. */
    shadow: v.optional(v.boolean(), false),
  }),
  v.forward(
    v.partialCheck(
      [['algorithm'], ['burst']],
      ({ algorithm, burst }) => burst === undefined || BUCKET_ALGORITHMS.has(algorithm),
      'burst applies only to token-bucket, leaky-bucket and gcra',
    ),
    ['burst'],
  ),
  v.forward(
    v.partialCheck(
      [['algorithm'], ['limit']],
      ({ algorithm, limit }) => algorithm !== 'sliding-window-log' || limit <= POLICY_BOUNDS.maxLogLimit,
      `sliding-window-log keeps one entry per request: its limit is at most ${POLICY_BOUNDS.maxLogLimit}`,
    ),
    ['limit'],
  ),
)

export const Policy = v.object({
  name: v.string(),
  algorithm: Algorithm,
  limit: v.number(),
  /** Milliseconds. */
  period: v.number(),
  /** The bucket size in cost units (bucket algorithms; `limit` when not set). */
  burst: v.optional(v.number()),
  shadow: v.boolean(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
})

export const PolicyList = v.object({ items: v.array(Policy), nextCursor: v.optional(v.string()) })

/** A key: 1–256 characters, no control characters (user ids, IPs, emails, `user:42`...). */
export const Key = v.pipe(
  v.string(),
  v.minLength(1, 'A key must not be empty'),
  v.maxLength(256, 'A key has at most 256 characters'),
  v.check((key) => !/\p{Cc}/u.test(key), 'A key must not contain control characters'),
)

export const KeyParam = v.object({ name: ResourceName, key: Key })

export const CheckRequest = v.pipe(
  v.strictObject({
    policy: ResourceName,
    key: v.optional(Key),
    /** Several keys are all-or-nothing: admitted only if every key admits, and then all spend. */
    keys: v.optional(
      v.pipe(
        v.array(Key),
        v.minLength(1, 'At least one key'),
        v.maxLength(MAX_KEYS_PER_CHECK, `At most ${MAX_KEYS_PER_CHECK} keys`),
        v.check((keys) => new Set(keys).size === keys.length, 'Keys must be distinct'),
      ),
    ),
    /** Cost units to spend; 0 peeks without spending. */
    cost: v.optional(
      v.pipe(
        v.number(),
        v.integer('The cost must be a whole number'),
        v.minValue(0, 'The cost must not be negative'),
        v.maxValue(POLICY_BOUNDS.maxLimit),
      ),
      1,
    ),
  }),
  v.check((body) => (body.key === undefined) !== (body.keys === undefined), 'Give either key or keys'),
)

export const Reason = v.picklist(['within_limit', 'over_limit', 'cached_denial', 'peek'])

export const CheckResult = v.object({
  policy: v.string(),
  /** Whether to go ahead (always true in shadow mode). */
  allowed: v.boolean(),
  /** The most cost units a key can spend at once (window limit or bucket size). */
  limit: v.number(),
  /** Cost units left now (the smallest over the keys). */
  remaining: v.number(),
  /** Milliseconds until every key is back to its full limit if nothing more is spent. */
  resetAfterMs: v.number(),
  /** 0 when admitted; else milliseconds until the same check could be admitted. */
  retryAfterMs: v.number(),
  /** Leaky bucket: milliseconds to wait before acting on an admitted request; else 0. */
  delayMs: v.number(),
  reason: Reason,
  /** The keys that did not admit the cost (for shadow mode: would not have). */
  deniedKeys: v.array(v.string()),
  shadow: v.boolean(),
  /** Shadow mode: true when enforcing would have denied this check. */
  shadowDenied: v.boolean(),
})

export const KeyReset = v.object({ policy: v.string(), key: v.string(), reset: v.literal(true) })

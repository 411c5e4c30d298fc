/**
 * Schemas of the sharded counters block (`/v1/counters`). Every input is bounded here.
 *
 * Integers: a counter holds a signed 64-bit integer. Inputs (`by`) are a JSON number when it
 * is a safe integer (|n| ≤ 2^53 − 1), or a decimal string for any int64 (needed beyond
 * 2^53). Outputs follow one rule: a JSON number when |n| ≤ 2^53 − 1, else a decimal string.
 */
import * as v from 'valibot'
import { ResourceName } from './common'

export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n
/** Shards a counter may have at most (the shard count only grows). */
export const MAX_SHARDS = 64
/** Shards of a counter created implicitly by its first increment or like. */
export const DEFAULT_SHARDS = 4

const DECIMAL_INTEGER = /^-?(?:0|[1-9][0-9]{0,18})$/

/** `by`: a safe-integer JSON number or a decimal string, within int64; parsed to a BigInt. */
export const Int64Input = v.pipe(
  v.union(
    [v.pipe(v.number(), v.safeInteger()), v.pipe(v.string(), v.maxLength(20), v.regex(DECIMAL_INTEGER))],
    'An integer: a JSON number with |n| ≤ 2^53 − 1, or a decimal string such as "-9007199254740993"',
  ),
  v.transform((value) => BigInt(value)),
  v.check((value) => value >= INT64_MIN && value <= INT64_MAX, 'Within int64: [-2^63, 2^63 − 1]'),
)

/** An integer in a response: a JSON number when |n| ≤ 2^53 − 1, else a decimal string. */
export const JsonInteger = v.pipe(
  v.union([v.number(), v.string()]),
  v.description('A JSON number when |n| ≤ 2^53 − 1, else a decimal string (int64)'),
)

/** A member of a distinct count (a user id, an email…): 1–256 URL-safe characters. */
export const MemberName = v.pipe(
  v.string(),
  v.minLength(1, 'Must not be empty'),
  v.maxLength(256, 'At most 256 characters'),
  v.regex(/^[A-Za-z0-9._~:@!$&'()*+,;=-]+$/, "Letters, digits and ._~:@!$&'()*+,;=-"),
)

export const CounterParam = v.object({ name: ResourceName })
export const MemberParam = v.object({ name: ResourceName, member: MemberName })

export const IncrementRequest = v.strictObject({ by: Int64Input })

export const ShardCount = v.pipe(
  v.number(),
  v.integer('A whole number'),
  v.minValue(1),
  v.maxValue(MAX_SHARDS, `At most ${MAX_SHARDS}`),
)

export const PutCounterRequest = v.strictObject({ shards: ShardCount })

export const ReadQuery = v.object({
  consistency: v.optional(v.picklist(['eventual', 'strong']), 'eventual'),
})

export const LiveHeaders = v.object({
  upgrade: v.pipe(
    v.string('This endpoint needs `Upgrade: websocket`'),
    v.regex(/^websocket$/i, 'Must be "websocket"'),
  ),
})

export const IncrementResult = v.object({
  name: v.string(),
  by: JsonInteger,
  /** The shard the increment landed on. */
  shard: v.number(),
  /** That shard's value after the increment: not the counter's total. */
  shardValue: JsonInteger,
})

export const CounterTotal = v.object({
  name: v.string(),
  /** The sum of every increment. */
  value: JsonInteger,
  /** The distinct count: members liked and not unliked. */
  members: v.number(),
  consistency: v.picklist(['eventual', 'strong']),
  /** Eventual reads: how old the total may be, in ms (it includes every increment acknowledged earlier). */
  ageMs: v.optional(v.number()),
  /** Eventual reads: the bound ageMs never exceeds, in ms. */
  maxAgeMs: v.optional(v.number()),
  shards: v.number(),
})

export const CounterView = v.object({
  name: v.string(),
  /** Shards increments spread over (grows, never shrinks). */
  shards: v.number(),
  /** Shards members and idempotency keys are hashed over: the shard count at creation, fixed. */
  hashedShards: v.number(),
  maxShards: v.number(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
})

export const CounterList = v.object({ items: v.array(CounterView), nextCursor: v.optional(v.string()) })

export const Membership = v.object({
  name: v.string(),
  member: v.string(),
  isMember: v.boolean(),
  /** PUT / DELETE: whether this request changed the membership (false when it already was so). */
  changed: v.optional(v.boolean()),
})

/** A message on the live stream: the counter's total, at most 10 per second. */
export const LiveTotal = v.object({
  type: v.literal('total'),
  name: v.string(),
  value: JsonInteger,
  members: v.number(),
  /** When the total was computed (ms since the epoch). */
  at: v.number(),
})

/** Schemas of the sequencer: ID batches, Snowflake decoding, Lamport and hybrid logical clocks. */
import * as v from 'valibot'

// ---- The formats and bounds the clocks and Snowflake IDs share with their routes

export const MAX_LAMPORT = Number.MAX_SAFE_INTEGER

export interface HlcTimestamp {
  /** The largest physical time (Unix ms) this clock has seen. */
  wallMs: number
  /** Events counted within `wallMs`. */
  logical: number
}

export const MAX_HLC_WALL_MS = 2 ** 48 - 1
export const MAX_HLC_LOGICAL = 2 ** 32 - 1

const HLC_PATTERN = /^(\d{15})-(\d{10})$/

/** `<wall 15>-<logical 10>` to the timestamp, or undefined when the text is not one. */
export function decodeHlc(text: string): HlcTimestamp | undefined {
  const match = HLC_PATTERN.exec(text)
  if (!match) return undefined
  const timestamp = { wallMs: Number(match[1]), logical: Number(match[2]) }
  return isHlcTimestamp(timestamp) ? timestamp : undefined
}

export function isHlcTimestamp(value: HlcTimestamp): boolean {
  return (
    Number.isInteger(value.wallMs) &&
    value.wallMs >= 0 &&
    value.wallMs <= MAX_HLC_WALL_MS &&
    Number.isInteger(value.logical) &&
    value.logical >= 0 &&
    value.logical <= MAX_HLC_LOGICAL
  )
}

/** The Snowflake layout: 41 bits of milliseconds, 10 of generator ID, 12 of sequence. */
export const TIMESTAMP_BITS = 41
export const GENERATOR_ID_BITS = 10
export const SEQUENCE_BITS = 12
export const MAX_SNOWFLAKE = (1n << BigInt(TIMESTAMP_BITS + GENERATOR_ID_BITS + SEQUENCE_BITS)) - 1n

/** The ID in a decimal string (as JSON carries it), or undefined if it is not one. */
export function parseSnowflake(text: string): bigint | undefined {
  if (!/^[0-9]{1,19}$/.test(text)) return undefined
  const id = BigInt(text)
  return id <= MAX_SNOWFLAKE ? id : undefined
}

// ---- Requests

export const GENERATOR_KINDS = ['snowflake', 'uuidv7', 'ulid', 'range'] as const
export const MAX_IDS_PER_REQUEST = 10_000

export const GeneratorKind = v.picklist(GENERATOR_KINDS, 'One of "snowflake", "uuidv7", "ulid", "range"')
export type GeneratorKind = v.InferOutput<typeof GeneratorKind>

export const IssueIdsRequest = v.object({
  kind: GeneratorKind,
  /** How many IDs, 1–10,000 (default 1). */
  count: v.optional(
    v.pipe(
      v.number(),
      v.integer('A whole number'),
      v.minValue(1, 'At least 1'),
      v.maxValue(MAX_IDS_PER_REQUEST, `At most ${MAX_IDS_PER_REQUEST}`),
    ),
    1,
  ),
})

export const IssuedIds = v.object({
  kind: GeneratorKind,
  /** In increasing order; Snowflakes and range numbers as decimal strings. */
  ids: v.array(v.string()),
  /** The Snowflake generator ID the batch was issued under (snowflake only). */
  generatorId: v.optional(v.number()),
})
export type IssuedIds = v.InferOutput<typeof IssuedIds>

export const GeneratorState = v.object({
  name: v.string(),
  snowflake: v.nullable(
    v.object({
      epochMs: v.number(),
      generatorId: v.number(),
      lastId: v.string(),
      lastTimestampMs: v.number(),
      /** Until when (Unix ms) the generator ID is leased to this generator. */
      leaseExpiresAtMs: v.nullable(v.number()),
    }),
  ),
  uuidv7: v.nullable(v.object({ lastTimestampMs: v.number() })),
  ulid: v.nullable(v.object({ lastTimestampMs: v.number() })),
  /** Leased numbers not handed out yet (in memory: a restart skips them). */
  range: v.object({
    available: v.number(),
    blocks: v.array(v.object({ start: v.number(), end: v.number() })),
  }),
})
export type GeneratorState = v.InferOutput<typeof GeneratorState>

/** A Snowflake ID: a decimal integer in 0..2^63-1. */
export const SnowflakeIdParam = v.object({
  id: v.pipe(
    v.string(),
    v.regex(/^[0-9]{1,19}$/, 'A Snowflake ID: 1–19 decimal digits'),
    v.check((id) => parseSnowflake(id) !== undefined, 'A Snowflake ID is at most 9223372036854775807'),
  ),
})

export const DecodedId = v.object({
  id: v.string(),
  /** Unix milliseconds. */
  timestampMs: v.number(),
  isoTime: v.string(),
  generatorId: v.number(),
  sequence: v.number(),
})

/** A Lamport timestamp: a decimal integer below 2^53 - 1, as a string. */
const LamportValue = v.pipe(
  v.string(),
  v.regex(/^[0-9]{1,16}$/, 'A Lamport timestamp: decimal digits'),
  v.check((text) => Number(text) < MAX_LAMPORT, `Below ${MAX_LAMPORT}`),
)

export const LamportRequest = v.object({
  /** The largest timestamp the caller has seen; the answer is greater than it. */
  seen: v.optional(LamportValue),
})

export const LamportTimestamp = v.object({ timestamp: v.string() })

const HlcParts = v.object({
  wallMs: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_HLC_WALL_MS)),
  logical: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_HLC_LOGICAL)),
})

const HlcString = v.pipe(
  v.string(),
  v.check(
    (text) => decodeHlc(text) !== undefined,
    'An HLC timestamp "<15-digit wall ms>-<10-digit logical>"',
  ),
)

export const HlcRequest = v.object({
  /** The largest HLC timestamp the caller has seen, as the string or as its parts. */
  seen: v.optional(v.union([HlcString, HlcParts], 'An HLC timestamp string or { wallMs, logical }')),
})

export const HlcTimestampResponse = v.object({
  /** Sortable as a string: `<15-digit wall ms>-<10-digit logical>`. */
  timestamp: v.string(),
  wallMs: v.number(),
  logical: v.number(),
})

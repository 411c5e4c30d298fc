/** Schemas every block shares: resource names, cursors, page sizes, durations. Bounds live here. */
import * as v from 'valibot'

/** Resource names: 1–128 characters of letters, digits, `.`, `_`, `-`; starting with a letter or digit. */
export const ResourceName = v.pipe(
  v.string(),
  v.minLength(1, 'Must not be empty'),
  v.maxLength(128, 'At most 128 characters'),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'Letters, digits, ".", "_" and "-", starting with a letter or digit',
  ),
)

export const NameParam = v.object({ name: ResourceName })

/** A `?limit=` query parameter: a whole number from 1 to `max`, `fallback` when absent. */
export const limitQuery = (max: number, fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(new RegExp(`^\\d{1,${String(max).length}}$`), 'A whole number'),
      v.transform(Number),
      v.minValue(1),
      v.maxValue(max),
    ),
    fallback,
  )

/** `?limit=&cursor=` of every listing. */
export const PageQuery = v.object({
  limit: limitQuery(1000, '100'),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(1024))),
})

export const ResourceMeta = v.object({
  name: v.string(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
})

export const Deleted = v.object({ deleted: v.boolean() })

/**
 * The `Idempotency-Key` header of writes a client may retry: 1–255 visible ASCII
 * characters. A retry with the same key replays the first response (each block keeps keys
 * for 24 h, in the same transaction as the write).
 */
export const IdempotencyHeaders = v.object({
  'idempotency-key': v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, 'Must not be empty'),
      v.maxLength(255, 'At most 255 characters'),
      v.regex(/^[\x21-\x7e]+$/, 'Visible ASCII characters'),
    ),
  ),
})

/** A whole number in [min, max]; `what` names the field in each failure message. */
export const integer = (min: number, max: number, what: string) =>
  v.pipe(
    v.number(),
    v.integer(`${what}: a whole number`),
    v.minValue(min, `${what}: at least ${min}`),
    v.maxValue(max, `${what}: at most ${max}`),
  )

const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** A duration: a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (e.g. `500ms`, `60s`, `1h`). */
export const DURATION_PATTERN = /^(\d{1,10})(ms|s|m|h|d)$/

/** `"60s"` → 60000 (ms); undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text)
  if (!match?.[1] || !match[2]) return undefined
  return Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS]
}

/** Schemas every block shares: resource names, cursors, page sizes. Bounds live here. */
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

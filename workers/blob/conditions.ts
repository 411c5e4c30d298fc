/**
 * HTTP preconditions and byte ranges as S3 evaluates them (RFC 9110 with S3's precedence).
 *
 * Guarantees: If-Match / If-None-Match compare strong ETags (`*` matches any object);
 * If-Match that holds overrides a failing If-Unmodified-Since, and If-None-Match that fails
 * overrides a holding If-Modified-Since (S3's documented rule). A GET/HEAD whose
 * If-None-Match fails is 304; every other failure is 412. Ranges: one `bytes=a-b`, `a-` or
 * `-n` range; a start past the end is 416 InvalidRange; syntax S3 ignores serves the whole
 * object. Pure functions, O(1).
 */
import { S3Error } from './s3-errors'

export interface Validators {
  etag: string
  /** Milliseconds since the epoch. */
  lastModified: number
}

export interface Preconditions {
  ifMatch?: string | null
  ifNoneMatch?: string | null
  ifModifiedSince?: string | null
  ifUnmodifiedSince?: string | null
}

function etagListMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^"|"$/g, '')
  return header.split(',').some((item) => {
    const value = item.trim().replace(/^W\//, '').replace(/^"|"$/g, '')
    return value === '*' || value === bare
  })
}

function parseHttpDate(text: string | null | undefined): number | undefined {
  if (!text) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/** Throws PreconditionFailed (412) or NotModified (304) when the request's conditions fail. */
export function checkPreconditions(
  conditions: Preconditions,
  object: Validators | undefined,
  read: boolean,
): void {
  const seconds = object ? Math.floor(object.lastModified / 1000) * 1000 : 0
  let ifMatchHeld = false
  if (conditions.ifMatch) {
    if (!object || !etagListMatches(conditions.ifMatch, object.etag)) {
      throw new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          Condition: 'If-Match',
        },
      )
    }
    ifMatchHeld = true
  }
  const unmodifiedSince = parseHttpDate(conditions.ifUnmodifiedSince)
  if (!ifMatchHeld && object && unmodifiedSince !== undefined && seconds > unmodifiedSince) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-Unmodified-Since',
    })
  }
  let ifNoneMatchFailed = false
  if (conditions.ifNoneMatch && object && etagListMatches(conditions.ifNoneMatch, object.etag)) {
    if (!read) {
      throw new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          Condition: 'If-None-Match',
        },
      )
    }
    ifNoneMatchFailed = true
  }
  if (ifNoneMatchFailed) throw notModified(object as Validators)
  const modifiedSince = parseHttpDate(conditions.ifModifiedSince)
  if (read && !conditions.ifNoneMatch && object && modifiedSince !== undefined && seconds <= modifiedSince) {
    throw notModified(object)
  }
}

function notModified(object: Validators): S3Error {
  return new S3Error(
    'NotModified',
    'Not Modified',
    {},
    {
      etag: object.etag,
      'last-modified': new Date(object.lastModified).toUTCString(),
    },
  )
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number
  /** Last byte, inclusive. */
  end: number
}

/** The range to serve of an object of `size` bytes; undefined = the whole object. */
export function parseRange(header: string | null | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  const [, first, last] = match as unknown as [string, string, string]
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0) throw invalidRange(size)
    return size === 0 ? undefined : { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= size) throw invalidRange(size)
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) }
}

function invalidRange(size: number): S3Error {
  return new S3Error(
    'InvalidRange',
    'The requested range is not satisfiable',
    { ActualObjectSize: String(size) },
    {
      'content-range': `bytes */${size}`,
    },
  )
}

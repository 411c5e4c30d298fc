/**
 * HTTP preconditions and byte ranges as S3 evaluates them (RFC 9110 with S3's precedence).
 *
 * Guarantees: If-Match / If-None-Match compare strong ETags (`*` matches any object);
 * If-Match that holds overrides a failing If-Unmodified-Since, and If-None-Match that fails
 * overrides a holding If-Modified-Since (S3's documented rule). A GET/HEAD whose
 * If-None-Match fails is 304; every other failure is 412. Ranges: one `bytes=a-b`, `a-` or
 * `-n` range; a start past the end is 416 InvalidRange; syntax S3 ignores serves the whole
 * object. A `partNumber` query names the byte range of one part of a multipart object
 * (part 1 of any other non-empty object is the whole object); a part past the last one is 416
 * InvalidPartNumber. Pure functions, O(1) (O(parts) for a part's range).
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

/**
 * The byte range of part `text` (a `partNumber` query value) of an object made of
 * `partSizes` (one per part; a non-multipart object is one part). Undefined for an empty
 * object's part 1, which has no bytes to range over.
 */
export function partRange(text: string, partSizes: number[], hasRange: boolean): ByteRange | undefined {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 10_000)
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: text,
    })
  if (hasRange)
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter')
  const partNumber = Number(text)
  const total = partSizes.reduce((sum, size) => sum + size, 0)
  if (partNumber === 1 && total === 0) return undefined
  if (partNumber > partSizes.length)
    throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', {
      PartNumberRequested: text,
      ActualPartCount: String(partSizes.length),
    })
  let start = 0
  for (let i = 0; i < partNumber - 1; i++) start += partSizes[i] as number
  return { start, end: start + (partSizes[partNumber - 1] as number) - 1 }
}

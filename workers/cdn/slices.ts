/**
 * Sliced objects (nginx slice style), the pure part. A site with `sliceBytes` asks its
 * origin for one slice at a time (`Range: bytes=i·S-(i+1)·S-1`); an object larger than one
 * slice is stored as slices, each its own object under `<bodyKey>/s<i>`, fetched when a
 * client first needs it. All slices of a variant belong to the version its first answer
 * named: a slice answer is used only when its validators (strong ETag, else Last-Modified)
 * and total length equal the variant's, so bytes of two versions are never joined.
 * Every function here is O(1) or O(slices touched).
 */
import type { ByteRange } from './ranges'

export interface SlicedShape {
  bodyKey: string
  size: number
  /** Slice size in bytes; absent for a variant stored whole at `bodyKey`. */
  slice?: number | undefined
}

export const sliceKey = (bodyKey: string, index: number) => `${bodyKey}/s${index}`

export const sliceCount = (size: number, slice: number) => Math.max(1, Math.ceil(size / slice))

/** Inclusive byte range of slice `index` of an object of `size` bytes. */
export function sliceBounds(index: number, slice: number, size: number): ByteRange {
  return { start: index * slice, end: Math.min(size, (index + 1) * slice) - 1 }
}

/** The `Range` header that asks the origin for slice `index`. */
export const sliceRangeHeader = (index: number, slice: number) =>
  `bytes=${index * slice}-${(index + 1) * slice - 1}`

/** The slices a byte range (inclusive) overlaps, in order. */
export function slicesOverlapping(range: ByteRange, slice: number): number[] {
  const first = Math.floor(range.start / slice)
  const last = Math.floor(range.end / slice)
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
}

/** Every storage key a variant's body occupies (one, or one per slice). */
export function storedKeys(variant: SlicedShape): string[] {
  if (!variant.slice) return [variant.bodyKey]
  return Array.from({ length: sliceCount(variant.size, variant.slice) }, (_, i) =>
    sliceKey(variant.bodyKey, i),
  )
}

/** `Content-Range: bytes a-b/total` (total null for `*`); undefined when malformed. */
export function parseContentRange(
  header: string | null,
): { start: number; end: number; total: number | null } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? '')
  if (!match) return undefined
  const [start, end] = [Number(match[1]), Number(match[2])]
  const total = match[3] === '*' ? null : Number(match[3])
  if (end < start || (total !== null && end >= total)) return undefined
  return { start, end, total }
}

/**
 * The slice a fill asks for first: the one holding the start of the client's first range
 * (so a range in the middle of a cold object fetches only its own slices), else slice 0.
 */
export function firstSlice(rangeHeader: string | null, slice: number): number {
  const match = /^bytes=\s*(\d+)-/i.exec(rangeHeader?.trim() ?? '')
  return match ? Math.floor(Number(match[1]) / slice) : 0
}

/** Whether a slice answer is of the same version as the stored variant's headers. */
export function sameVersion(stored: Headers, answer: Headers): boolean {
  const etag = stored.get('etag')
  if (etag && !etag.startsWith('W/')) return answer.get('etag') === etag
  const lastModified = stored.get('last-modified')
  if (lastModified) return answer.get('last-modified') === lastModified
  // Without validators only the total length (checked by the caller) tells versions apart.
  return true
}

/** Headers of a whole object from a slice answer: no Content-Range, the total Content-Length. */
export function wholeHeaders(answer: Headers, total: number): Headers {
  const headers = new Headers(answer)
  headers.delete('content-range')
  headers.set('content-length', String(total))
  return headers
}

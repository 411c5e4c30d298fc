/**
 * Range requests on stored objects (RFC 9110 §14): `bytes=` ranges parsed against the
 * object's size, `If-Range` against its validators, and conditional requests answered from
 * the stored validators (`If-None-Match`, `If-Modified-Since`). Pure; O(ranges).
 *
 * Guarantees: a satisfiable single range → one 206 slice; several → multipart/byteranges
 * (at most `MAX_RANGES`, overlapping ones allowed as asked); none satisfiable → 416; a
 * malformed header or a failed `If-Range` → the whole object (the RFC lets a server ignore Range).
 */
export const MAX_RANGES = 16

export interface ByteRange {
  start: number
  /** Inclusive. */
  end: number
}

export type RangeDecision =
  | { kind: 'whole' }
  | { kind: 'ranges'; ranges: ByteRange[] }
  | { kind: 'unsatisfiable' }

export function parseRange(header: string | null, size: number): RangeDecision {
  if (!header) return { kind: 'whole' }
  const match = /^bytes=(.+)$/i.exec(header.trim())
  if (!match?.[1]) return { kind: 'whole' }
  const specs = match[1].split(',').map((s) => s.trim())
  if (specs.length > MAX_RANGES) return { kind: 'whole' }
  const ranges: ByteRange[] = []
  for (const spec of specs) {
    const parts = /^(\d*)-(\d*)$/.exec(spec)
    if (!parts || (parts[1] === '' && parts[2] === '')) return { kind: 'whole' }
    if (parts[1] === '') {
      const suffix = Number(parts[2])
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 })
      continue
    }
    const start = Number(parts[1])
    const end = parts[2] === '' ? size - 1 : Math.min(Number(parts[2]), size - 1)
    if (parts[2] !== '' && Number(parts[2]) < start) return { kind: 'whole' }
    if (start < size) ranges.push({ start, end })
  }
  return ranges.length ? { kind: 'ranges', ranges } : { kind: 'unsatisfiable' }
}

/** `If-Range` holds when it names the stored strong ETag or exactly its Last-Modified date. */
export function ifRangeHolds(
  ifRange: string | null,
  etag: string | null,
  lastModified: string | null,
): boolean {
  if (ifRange === null) return true
  if (ifRange.startsWith('"') || ifRange.startsWith('W/'))
    return etag !== null && !etag.startsWith('W/') && ifRange === etag
  return lastModified !== null && ifRange === lastModified
}

const opaque = (tag: string) => tag.trim().replace(/^W\//, '')

/** A conditional GET/HEAD the stored response satisfies: answer 304 (RFC 9110 §13.1.2, §13.1.3). */
export function notModified(request: Headers, etag: string | null, lastModified: string | null): boolean {
  const inm = request.get('if-none-match')
  if (inm !== null) {
    if (etag === null) return false
    return inm.trim() === '*' || inm.split(',').some((tag) => opaque(tag) === opaque(etag))
  }
  const ims = Date.parse(request.get('if-modified-since') ?? '')
  const lm = Date.parse(lastModified ?? '')
  return !Number.isNaN(ims) && !Number.isNaN(lm) && lm <= ims
}

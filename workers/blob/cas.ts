/**
 * Content-addressed blobs with reference counts: identical bytes (whole objects and
 * multipart parts, addressed by SHA-256) are stored once in object storage; every object
 * version and uploaded part holds one reference to each blob it is made of.
 *
 * Guarantees (given that each function runs inside one storage transaction of the bucket's
 * single-writer object): a blob with a reference is never returned by `collect`; a blob
 * whose count drops to zero is collected only after `graceMs` (readers that looked it up
 * before may still stream it); `collect` removes the index row in the same transaction it
 * decides, so an upload committed afterwards finds no row and adopts its own fresh copy
 * instead of a blob being deleted (no reference can appear to a collected blob).
 * Costs: one indexed row per distinct blob; O(1) per adopt/release, O(k) per collect.
 */

export interface BlobRow {
  hash: string
  /** Where the bytes are in object storage. */
  storageKey: string
  size: number
  refs: number
  /** When the count last reached zero, in ms; null while referenced. */
  zeroSince: number | null
}

/** The bucket object's table of blobs, as the logic sees it. */
export interface BlobIndex {
  get(hash: string): BlobRow | undefined
  put(row: BlobRow): void
  remove(hash: string): void
  /** Rows with no reference whose `zeroSince` is at or before `cutoff`, at most `limit`. */
  unreferenced(cutoff: number, limit: number): BlobRow[]
}

export interface Adopted {
  /** Where the blob's bytes are (an earlier identical upload's, when deduplicated). */
  storageKey: string
  /** The freshly uploaded copy to delete because identical bytes were already stored. */
  redundant?: string
}

/** Adds one reference to the blob `hash`, whose bytes were just uploaded to `uploadedKey`. */
export function adopt(index: BlobIndex, hash: string, size: number, uploadedKey: string): Adopted {
  const existing = index.get(hash)
  if (existing) {
    index.put({ ...existing, refs: existing.refs + 1, zeroSince: null })
    return existing.storageKey === uploadedKey
      ? { storageKey: existing.storageKey }
      : { storageKey: existing.storageKey, redundant: uploadedKey }
  }
  index.put({ hash, storageKey: uploadedKey, size, refs: 1, zeroSince: null })
  return { storageKey: uploadedKey }
}

/** Adds a reference to a blob already stored (copies, completing a multipart upload). */
export function addReference(index: BlobIndex, hash: string): void {
  const existing = index.get(hash)
  if (!existing) throw new Error(`blob ${hash} is not stored`)
  index.put({ ...existing, refs: existing.refs + 1, zeroSince: null })
}

/** Drops one reference; the blob becomes collectable `graceMs` after its count reaches zero. */
export function release(index: BlobIndex, hash: string, now: number): void {
  const existing = index.get(hash)
  if (!existing) return
  const refs = Math.max(0, existing.refs - 1)
  index.put({ ...existing, refs, zeroSince: refs === 0 ? now : null })
}

/** Claims unreferenced blobs past their grace: their rows are gone; delete the returned keys. */
export function collect(index: BlobIndex, now: number, graceMs: number, limit = 500): string[] {
  const claimed = index.unreferenced(now - graceMs, limit)
  for (const row of claimed) index.remove(row.hash)
  return claimed.map((row) => row.storageKey)
}

/** When the next blob becomes collectable, or undefined when none is waiting. */
export function nextCollection(earliestZeroSince: number | undefined, graceMs: number): number | undefined {
  return earliestZeroSince === undefined ? undefined : earliestZeroSince + graceMs
}

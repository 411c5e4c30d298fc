/**
 * Content-addressed blobs with references, one store per tenant: identical bytes (whole
 * objects and multipart parts, addressed by SHA-256) are stored once for all the tenant's
 * buckets. A reference is a named *hold*: every object version and uploaded part has a
 * holder id (unique in the tenant) and holds each blob it is made of; a blob's count is its
 * number of distinct holders.
 *
 * Guarantees (given that each function runs inside one storage transaction of the tenant's
 * single-writer content object): `hold` and `unhold` are idempotent, so a bucket may repeat
 * them (at-least-once delivery from its outbox) without a count drifting; a blob with a
 * holder is never returned by `collect`; a blob whose count drops to zero is collected only
 * after `graceMs` (readers that looked it up before may still stream it); `collect` removes
 * the index row in the same transaction it decides, so a later hold either brings its own
 * freshly uploaded copy (which becomes the blob) or fails (a copy whose source is gone):
 * no reference can appear to a collected blob. A bucket takes its hold *before* it records
 * the reference and drops it only *after* it removed the reference, so every reference a
 * bucket has recorded is covered by a hold.
 * Costs: one row per distinct blob and one per (holder, blob); O(1) per hold, O(blobs of the
 * holder) per unhold, O(k) per collect.
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

/** The content object's tables, as the logic sees them. */
export interface BlobIndex {
  get(hash: string): BlobRow | undefined
  put(row: BlobRow): void
  remove(hash: string): void
  /** Records that `holder` holds `hash`; false when it already did. */
  addHold(holder: string, hash: string): boolean
  /** Forgets every hold of `holder`; returns the hashes it held. */
  removeHolds(holder: string): string[]
  /** Rows with no reference whose `zeroSince` is at or before `cutoff`, at most `limit`. */
  unreferenced(cutoff: number, limit: number): BlobRow[]
}

/** One blob a holder wants: its content address, and the fresh copy it uploaded (if any). */
export interface Wanted {
  hash: string
  size: number
  /** Where this request uploaded the bytes; absent when the bytes must already be stored (copies). */
  uploadedKey?: string | undefined
}

export interface Held {
  /** Where each wanted blob's bytes are, in order (an earlier identical upload's, when deduplicated). */
  storageKeys: string[]
  /** Freshly uploaded copies made redundant by identical bytes already stored: delete them. */
  redundant: string[]
}

/** Thrown by `hold` when a blob to reference without an upload is no longer stored. */
export class BlobGone extends Error {
  constructor(readonly hash: string) {
    super(`blob ${hash} is not stored`)
    this.name = 'BlobGone'
  }
}

/** `holder` takes a hold on each wanted blob (all or nothing: the caller's transaction rolls back on a throw). */
export function hold(index: BlobIndex, holder: string, wanted: Wanted[]): Held {
  const storageKeys: string[] = []
  const redundant: string[] = []
  for (const want of wanted) {
    const existing = index.get(want.hash)
    if (!existing) {
      if (want.uploadedKey === undefined) throw new BlobGone(want.hash)
      index.put({ hash: want.hash, storageKey: want.uploadedKey, size: want.size, refs: 0, zeroSince: null })
    } else if (want.uploadedKey !== undefined && want.uploadedKey !== existing.storageKey) {
      redundant.push(want.uploadedKey)
    }
    const row = index.get(want.hash) as BlobRow
    if (index.addHold(holder, want.hash)) index.put({ ...row, refs: row.refs + 1, zeroSince: null })
    storageKeys.push(row.storageKey)
  }
  return { storageKeys, redundant }
}

/** Drops every hold of `holder`; a blob becomes collectable `graceMs` after its count reaches zero. */
export function unhold(index: BlobIndex, holder: string, now: number): void {
  for (const hash of index.removeHolds(holder)) {
    const existing = index.get(hash)
    if (!existing) continue
    const refs = Math.max(0, existing.refs - 1)
    index.put({ ...existing, refs, zeroSince: refs === 0 ? now : null })
  }
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

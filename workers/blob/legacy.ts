/**
 * Schema version 1 → 2 of a bucket object, second half: hands the bucket's own blob table
 * (`legacy_blobs`, sha256 → storage key and count) over to the tenant's content store.
 * `migrate` (tables.ts) has already given every version and part a holder in one transaction.
 *
 * Guarantees: every version and part ends up holding its blobs in the content store, and
 * every segment records where its bytes are; a blob the store already had under another key
 * keeps the store's copy, and this bucket's duplicate is deleted only once no row points at
 * it; unreferenced legacy blobs become unreferenced store blobs (collected after the grace
 * period). Each step is idempotent (holds are), so a hand-over cut short runs again at the
 * next start. Runs inside `blockConcurrencyWhile`: no request sees a half-moved bucket.
 * Costs: one content-store call per version and part, once.
 */
import type { Env } from '../platform/env'
import { objectBucket } from '../platform/ports'
import type { Wanted } from './cas'
import type { BlobContent } from './content'
import type { Segment } from './tables'

interface Content {
  hold: DurableObjectStub<BlobContent>['hold']
  release: DurableObjectStub<BlobContent>['release']
}

export async function handOver(
  sql: SqlStorage,
  storage: DurableObjectStorage,
  content: Content,
  env: Env,
  bucket: string,
): Promise<void> {
  const legacy = new Map(
    sql
      .exec<{ hash: string; storage_key: string; size: number; refs: number }>('SELECT * FROM legacy_blobs')
      .toArray()
      .map((row) => [row.hash, row]),
  )
  const wantedOf = (segments: Segment[]): Wanted[] =>
    segments.map((s) => ({ hash: s.hash, size: s.size, uploadedKey: legacy.get(s.hash)?.storage_key }))
  const redundant = new Set<string>()
  const held = new Set<string>()
  const objects = sql
    .exec<{ seq: number; segments: string; holder: string }>(
      'SELECT seq, segments, holder FROM objects WHERE holder IS NOT NULL',
    )
    .toArray()
  for (const row of objects) {
    const segments = JSON.parse(row.segments) as Segment[]
    const result = await content.hold(row.holder, wantedOf(segments))
    for (const key of result.redundant) redundant.add(key)
    for (const s of segments) held.add(s.hash)
    const keyed = segments.map((s, i) => ({ hash: s.hash, size: s.size, key: result.storageKeys[i] }))
    storage.transactionSync(() =>
      sql.exec('UPDATE objects SET segments = ? WHERE seq = ?', JSON.stringify(keyed), row.seq),
    )
  }
  const parts = sql
    .exec<{ hash: string; size: number; holder: string }>(
      'SELECT hash, size, holder FROM parts WHERE holder IS NOT NULL',
    )
    .toArray()
  for (const part of parts) {
    const result = await content.hold(part.holder, wantedOf([part]))
    for (const key of result.redundant) redundant.add(key)
    held.add(part.hash)
  }
  // Blobs nobody references any more (waiting for collection): the store collects them.
  for (const [hash, row] of legacy) {
    if (held.has(hash)) continue
    const orphan = `${bucket}/legacy/${hash}`
    const result = await content.hold(orphan, [{ hash, size: row.size, uploadedKey: row.storage_key }])
    for (const key of result.redundant) redundant.add(key)
    await content.release([orphan])
  }
  const doomed = [...redundant]
  for (let i = 0; i < doomed.length; i += 1000) await objectBucket(env).delete(doomed.slice(i, i + 1000))
  storage.transactionSync(() => sql.exec('DROP TABLE legacy_blobs'))
}

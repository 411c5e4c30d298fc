/**
 * A bucket's side of the tenant's content store (cas.ts, content.ts): the holds its object
 * versions and parts take, and the `releases` table through which it drops them.
 *
 * Protocol (what keeps a live blob from being collected across two objects without a shared
 * transaction): before taking a hold the bucket records the holder as a release due in
 * `INTENT_TTL_MS` (so a hold whose commit never happens — a crash, a failed precondition — is
 * dropped later); the transaction that records the reference deletes that row; the
 * transaction that removes a reference inserts its holder as due now. Due rows are sent to the
 * content store after each change and by the alarm until it acknowledges them (at least once;
 * releasing is idempotent there). So a hold always exists while a reference does, and every
 * hold without a reference is eventually released. Costs: one row per pending release.
 */
import { S3Error } from './s3-errors'
import type { Sql } from './tables'

/** How long a hold may wait for the commit that records its reference. */
export const INTENT_TTL_MS = 60 * 60_000

/** What removing a version or part does with its hold: queue its release (inside the caller's transaction). */
export interface Releases {
  release(holder: string | null): void
}

/** A holder id unique in the tenant (names the bucket, for whoever reads the content store). */
export function newHolder(bucket: string): string {
  return `${bucket}/${crypto.randomUUID()}`
}

export function releases(sql: Sql, now: number): Releases {
  return {
    release(holder) {
      if (holder === null) return
      sql.exec(
        'INSERT INTO releases (holder, due) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET due = MIN(due, excluded.due)',
        holder,
        now,
      )
    },
  }
}

/** Records a hold about to be taken, released after `INTENT_TTL_MS` unless its reference is committed. */
export function recordIntent(sql: Sql, holder: string, now: number): void {
  sql.exec('INSERT OR REPLACE INTO releases (holder, due) VALUES (?, ?)', holder, now + INTENT_TTL_MS)
}

/**
 * The reference is being committed: the hold stays (call inside the committing transaction).
 * False when the intent already fell due (its release may be on its way): the commit must fail.
 */
export function commitIntent(sql: Sql, holder: string, now: number): boolean {
  return sql.exec('DELETE FROM releases WHERE holder = ? AND due > ?', holder, now).rowsWritten > 0
}

export function dueReleases(sql: Sql, now: number, limit = 500): string[] {
  return sql
    .exec<{ holder: string }>('SELECT holder FROM releases WHERE due <= ? ORDER BY due LIMIT ?', now, limit)
    .toArray()
    .map((row) => row.holder)
}

/** The content store acknowledged these releases. */
export function releasesDone(sql: Sql, holders: string[], now: number): void {
  for (const holder of holders) sql.exec('DELETE FROM releases WHERE holder = ? AND due <= ?', holder, now)
}

export function earliestRelease(sql: Sql): number | undefined {
  const row = sql.exec<{ at: number | null }>('SELECT MIN(due) AS at FROM releases').toArray()[0]
  return row?.at ?? undefined
}

/** `commitIntent`, or the error that fails the commit. */
export function requireIntent(sql: Sql, holder: string, now: number): void {
  if (!commitIntent(sql, holder, now))
    throw new S3Error('InternalError', 'The upload took too long to be committed; retry it.')
}

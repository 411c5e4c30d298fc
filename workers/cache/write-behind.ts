/**
 * Write-behind: changes of string keys are acknowledged once they are in the node's SQLite
 * `pending` table (the same transaction as the cache write) and reach the backing source
 * later, in batches, from the node's alarm.
 *
 * Guarantees: an acknowledged write is never dropped. A row leaves `pending` only after
 * the source accepted it, and only if no newer write of the key replaced it meanwhile (its
 * `seq` still matches); a failed batch stays, retried with full-jitter exponential backoff
 * (1 s doubling to 5 min), forever. An object evicted mid-flush loses nothing: the rows are
 * still there and the next alarm sends them again (at least once; the last write of a key
 * wins, so a repeat is harmless). Costs: one row write per changed key; one source call
 * per batch of up to BATCH rows.
 */
import { backoffDelayMs } from '../platform/delivery'
import type { Change } from './backing'
import type { Keyspace } from './keyspace'

export const BATCH = 100
/** How long a write waits before the first flush, so writes close together share a batch. */
export const FLUSH_DELAY_MS = 1_000
const BACKOFF = { baseMs: 1_000, capMs: 5 * 60_000 }

interface PendingRow extends Record<string, SqlStorageValue> {
  key: string
  value: string | null
  seq: number
  attempts: number
}

export function createPendingTable(sql: SqlStorage): void {
  sql.exec(
    `CREATE TABLE IF NOT EXISTS pending (
       key TEXT PRIMARY KEY,
       value TEXT,
       seq INTEGER NOT NULL,
       attempts INTEGER NOT NULL DEFAULT 0,
       next_at INTEGER NOT NULL
     )`,
  )
  sql.exec('CREATE INDEX IF NOT EXISTS pending_due ON pending (next_at)')
  sql.exec('CREATE INDEX IF NOT EXISTS pending_seq ON pending (seq)')
}

/** Records the string keys a batch wrote or deleted; call inside the batch's transaction. */
export function recordWrites(sql: SqlStorage, ks: Keyspace, now: number): void {
  for (const key of ks.written) {
    const entry = ks.entries.get(key)
    if (entry && entry.value.type !== 'string') continue
    const value = entry?.value.type === 'string' ? entry.value.data : null
    const seq = sql.exec<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM pending').one()
      .seq as number
    sql.exec(
      `INSERT INTO pending (key, value, seq, attempts, next_at) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, seq = excluded.seq, attempts = 0,
         next_at = MIN(pending.next_at, excluded.next_at)`,
      key,
      value,
      seq,
      now + FLUSH_DELAY_MS,
    )
  }
}

/** The oldest due rows, at most BATCH. */
export function dueBatch(sql: SqlStorage, now: number): PendingRow[] {
  return sql
    .exec<PendingRow>(
      'SELECT key, value, seq, attempts FROM pending WHERE next_at <= ? ORDER BY seq LIMIT ?',
      now,
      BATCH,
    )
    .toArray()
}

export function changesOf(rows: PendingRow[]): Change[] {
  return rows.map((row) => ({ key: row.key, value: row.value }))
}

/** After the source accepted `rows`: removes those not replaced since. */
export function markFlushed(sql: SqlStorage, rows: PendingRow[]): void {
  for (const row of rows) sql.exec('DELETE FROM pending WHERE key = ? AND seq = ?', row.key, row.seq)
}

/** After the source refused `rows`: schedules their retry. */
export function markFailed(sql: SqlStorage, rows: PendingRow[], now: number, random: () => number): void {
  for (const row of rows) {
    const delay = backoffDelayMs(row.attempts + 1, random(), BACKOFF) + FLUSH_DELAY_MS
    sql.exec(
      'UPDATE pending SET attempts = attempts + 1, next_at = ? WHERE key = ? AND seq = ?',
      now + delay,
      row.key,
      row.seq,
    )
  }
}

export function nextFlush(sql: SqlStorage): number | undefined {
  const row = sql.exec<{ at: number | null }>('SELECT MIN(next_at) AS at FROM pending').one()
  return row.at ?? undefined
}

export function pendingCount(sql: SqlStorage): number {
  return sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM pending').one().n
}

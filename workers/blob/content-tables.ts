/**
 * The SQLite tables of a tenant's content object (`<tenant>:blob-content:store`):
 *
 *   meta   — schema_version, the test clock offset
 *   blobs  — content-addressed bytes: sha256 → storage key, size, number of holders
 *   holds  — (holder, hash): which object version or part holds which blob
 */
import type { BlobIndex, BlobRow } from './cas'

export const CONTENT_SCHEMA_VERSION = 1

export function migrateContent(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`)
  sql.exec(`CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, storage_key TEXT NOT NULL,
    size INTEGER NOT NULL, refs INTEGER NOT NULL, zero_since INTEGER)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS blobs_zero ON blobs (zero_since) WHERE zero_since IS NOT NULL`)
  sql.exec(`CREATE TABLE IF NOT EXISTS holds (holder TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (holder, hash)) WITHOUT ROWID`)
  sql.exec(
    "INSERT INTO meta (k, v) VALUES ('schema_version', ?) ON CONFLICT (k) DO NOTHING",
    String(CONTENT_SCHEMA_VERSION),
  )
}

type BlobTableRow = {
  hash: string
  storage_key: string
  size: number
  refs: number
  zero_since: number | null
}

const toBlobRow = (row: BlobTableRow): BlobRow => ({
  hash: row.hash,
  storageKey: row.storage_key,
  size: row.size,
  refs: row.refs,
  zeroSince: row.zero_since,
})

/** The blob index over the `blobs` and `holds` tables. */
export function contentIndex(sql: SqlStorage): BlobIndex & { earliestZero(): number | undefined } {
  return {
    get(hash) {
      const row = sql.exec<BlobTableRow>('SELECT * FROM blobs WHERE hash = ?', hash).toArray()[0]
      return row ? toBlobRow(row) : undefined
    },
    put(row) {
      sql.exec(
        `INSERT INTO blobs (hash, storage_key, size, refs, zero_since) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (hash) DO UPDATE SET storage_key = excluded.storage_key, size = excluded.size,
           refs = excluded.refs, zero_since = excluded.zero_since`,
        row.hash,
        row.storageKey,
        row.size,
        row.refs,
        row.zeroSince,
      )
    },
    remove(hash) {
      sql.exec('DELETE FROM blobs WHERE hash = ?', hash)
    },
    addHold(holder, hash) {
      return (
        sql.exec('INSERT OR IGNORE INTO holds (holder, hash) VALUES (?, ?)', holder, hash).rowsWritten > 0
      )
    },
    removeHolds(holder) {
      const hashes = sql
        .exec<{ hash: string }>('SELECT hash FROM holds WHERE holder = ?', holder)
        .toArray()
        .map((row) => row.hash)
      sql.exec('DELETE FROM holds WHERE holder = ?', holder)
      return hashes
    },
    unreferenced(cutoff, limit) {
      return sql
        .exec<BlobTableRow>(
          'SELECT * FROM blobs WHERE zero_since IS NOT NULL AND refs = 0 AND zero_since <= ? ORDER BY zero_since LIMIT ?',
          cutoff,
          limit,
        )
        .toArray()
        .map(toBlobRow)
    },
    earliestZero() {
      const row = sql
        .exec<{ at: number | null }>('SELECT MIN(zero_since) AS at FROM blobs WHERE zero_since IS NOT NULL')
        .toArray()[0]
      return row?.at ?? undefined
    },
  }
}

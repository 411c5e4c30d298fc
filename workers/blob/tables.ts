/**
 * The SQLite tables of a bucket object (`<tenant>:blob:<bucket>`), the shapes of their rows,
 * and the blob index the content-addressed store (cas.ts) runs on.
 *
 *   meta     — bucket settings: created_at, versioning, cors, lifecycle, tags
 *   objects  — one row per object version or delete marker; `latest` marks the current one;
 *              `seq` (AUTOINCREMENT, never reused) orders versions newest-first
 *   blobs    — content-addressed bytes: sha256 → storage key, reference count
 *   uploads  — multipart uploads in progress; parts — their uploaded parts (each a blob)
 */
import type { BlobIndex, BlobRow } from './cas'

export type Sql = SqlStorage

/** A stored run of bytes an object is made of (the whole object, or one multipart part). */
export interface Segment {
  hash: string
  size: number
}

export interface StoredChecksum {
  algorithm: 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'
  value: string
  type: 'FULL_OBJECT' | 'COMPOSITE'
}

/** What a write stores about an object besides its bytes. */
export interface ObjectAttributes {
  contentType: string
  /** cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>
  /** x-amz-meta-* without the prefix. */
  meta: Record<string, string>
  tags: Record<string, string>
  checksum?: StoredChecksum | undefined
}

export interface ObjectVersion extends ObjectAttributes {
  key: string
  versionId: string
  seq: number
  latest: boolean
  deleteMarker: boolean
  size: number
  etag: string
  lastModified: number
  segments: Segment[]
  partsCount: number | null
}

export const NULL_VERSION = 'null'

export function migrate(sql: Sql): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`)
  sql.exec(`CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, version_id TEXT NOT NULL,
    latest INTEGER NOT NULL, delete_marker INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL, attributes TEXT NOT NULL, segments TEXT NOT NULL, parts_count INTEGER)`)
  sql.exec(`CREATE UNIQUE INDEX IF NOT EXISTS objects_version ON objects (key, version_id)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS objects_latest ON objects (latest, key)`)
  sql.exec(`CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, storage_key TEXT NOT NULL,
    size INTEGER NOT NULL, refs INTEGER NOT NULL, zero_since INTEGER)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS blobs_zero ON blobs (zero_since) WHERE zero_since IS NOT NULL`)
  sql.exec(`CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL,
    initiated INTEGER NOT NULL, attributes TEXT NOT NULL, checksum_algorithm TEXT)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS uploads_key ON uploads (key, initiated)`)
  sql.exec(`CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL,
    hash TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT, last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number))`)
}

export function getMeta(sql: Sql, key: string): string | undefined {
  const row = sql.exec<{ v: string }>('SELECT v FROM meta WHERE k = ?', key).toArray()[0]
  return row?.v
}

export function setMeta(sql: Sql, key: string, value: string | undefined): void {
  if (value === undefined) sql.exec('DELETE FROM meta WHERE k = ?', key)
  else
    sql.exec('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', key, value)
}

type ObjectRow = {
  seq: number
  key: string
  version_id: string
  latest: number
  delete_marker: number
  size: number
  etag: string
  last_modified: number
  attributes: string
  segments: string
  parts_count: number | null
}

export function toVersion(row: ObjectRow): ObjectVersion {
  return {
    ...(JSON.parse(row.attributes) as ObjectAttributes),
    key: row.key,
    versionId: row.version_id,
    seq: row.seq,
    latest: row.latest === 1,
    deleteMarker: row.delete_marker === 1,
    size: row.size,
    etag: row.etag,
    lastModified: row.last_modified,
    segments: JSON.parse(row.segments) as Segment[],
    partsCount: row.parts_count,
  }
}

export function findVersion(sql: Sql, key: string, versionId?: string): ObjectVersion | undefined {
  const row =
    versionId === undefined
      ? sql.exec<ObjectRow>('SELECT * FROM objects WHERE key = ? AND latest = 1', key).toArray()[0]
      : sql
          .exec<ObjectRow>('SELECT * FROM objects WHERE key = ? AND version_id = ?', key, versionId)
          .toArray()[0]
  return row ? toVersion(row) : undefined
}

export function insertVersion(sql: Sql, version: Omit<ObjectVersion, 'seq' | 'latest'>): void {
  const { key, versionId, deleteMarker, size, etag, lastModified, segments, partsCount, ...attributes } =
    version
  sql.exec('UPDATE objects SET latest = 0 WHERE key = ? AND latest = 1', key)
  sql.exec(
    `INSERT INTO objects (key, version_id, latest, delete_marker, size, etag, last_modified, attributes, segments, parts_count)
     VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
    key,
    versionId,
    deleteMarker ? 1 : 0,
    size,
    etag,
    lastModified,
    JSON.stringify(attributes),
    JSON.stringify(segments),
    partsCount,
  )
}

/** Removes one version; when it was the current one, the newest remaining version becomes current. */
export function removeVersion(sql: Sql, version: ObjectVersion): void {
  sql.exec('DELETE FROM objects WHERE seq = ?', version.seq)
  if (version.latest) {
    sql.exec(
      'UPDATE objects SET latest = 1 WHERE seq = (SELECT MAX(seq) FROM objects WHERE key = ?)',
      version.key,
    )
  }
}

export function updateAttributes(sql: Sql, version: ObjectVersion, attributes: ObjectAttributes): void {
  sql.exec('UPDATE objects SET attributes = ? WHERE seq = ?', JSON.stringify(attributes), version.seq)
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

/** The blob index over the `blobs` table. */
export function blobIndex(
  sql: Sql,
): BlobIndex & { storageKeys(hashes: string[]): Map<string, string>; earliestZero(): number | undefined } {
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
    storageKeys(hashes) {
      const out = new Map<string, string>()
      for (const hash of new Set(hashes)) {
        const row = sql
          .exec<{ storage_key: string }>('SELECT storage_key FROM blobs WHERE hash = ?', hash)
          .toArray()[0]
        if (row) out.set(hash, row.storage_key)
      }
      return out
    },
    earliestZero() {
      const row = sql
        .exec<{ at: number | null }>('SELECT MIN(zero_since) AS at FROM blobs WHERE zero_since IS NOT NULL')
        .toArray()[0]
      return row?.at ?? undefined
    },
  }
}

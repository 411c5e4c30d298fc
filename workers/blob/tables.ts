/**
 * The SQLite tables of a bucket object (`<tenant>:blob:<bucket>`), the shapes of their rows,
 * and the blob index the content-addressed store (cas.ts) runs on.
 *
 *   meta     — schema_version, bucket settings: created_at, versioning, cors, lifecycle
 *   objects  — one row per object version or delete marker; `latest` marks the current one;
 *              `seq` (AUTOINCREMENT, never reused) orders versions newest-first; `holder` is
 *              the version's hold on its blobs in the tenant's content store (content.ts)
 *   uploads  — multipart uploads in progress; parts — their uploaded parts (each a blob,
 *              held by the part's `holder`)
 *   releases — holds to drop in the content store once `due` (holders.ts)
 *
 * Schema versions: 1 kept a per-bucket `blobs` table (sha256 → storage key, count); 2 keeps
 * the bytes' storage key in each segment and the counts in the tenant's content store.
 * `migrate` takes a version-1 bucket to 2 in one transaction, keeping the old table as
 * `legacy_blobs` until `handOver` (legacy.ts) has moved its blobs to the content store.
 */

export type Sql = SqlStorage

/** A stored run of bytes an object is made of (the whole object, or one multipart part). */
export interface Segment {
  hash: string
  size: number
  /** Where the bytes are in object storage (absent only in a version-1 row not yet handed over). */
  key?: string
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
  /** The version's hold on its blobs; null for a delete marker or an empty object. */
  holder: string | null
}

export const NULL_VERSION = 'null'

export const SCHEMA_VERSION = 2

function tableExists(sql: Sql, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0
}

/** Creates or upgrades the tables; returns true when legacy blobs wait to be handed over. */
export function migrate(sql: Sql, newHolder: () => string): boolean {
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`)
  const stored = getMeta(sql, 'schema_version')
  const version = stored !== undefined ? Number(stored) : tableExists(sql, 'objects') ? 1 : 0
  if (version === 0) {
    sql.exec(`CREATE TABLE objects (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, version_id TEXT NOT NULL,
      latest INTEGER NOT NULL, delete_marker INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
      last_modified INTEGER NOT NULL, attributes TEXT NOT NULL, segments TEXT NOT NULL, parts_count INTEGER,
      holder TEXT)`)
    sql.exec(`CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL,
      initiated INTEGER NOT NULL, attributes TEXT NOT NULL, checksum_algorithm TEXT)`)
    sql.exec(`CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL,
      hash TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT, last_modified INTEGER NOT NULL,
      holder TEXT, PRIMARY KEY (upload_id, part_number))`)
  } else if (version === 1) {
    // Version 1 → 2: every version and part gets its holder; the blob table waits for handOver.
    sql.exec('ALTER TABLE objects ADD COLUMN holder TEXT')
    sql.exec('ALTER TABLE parts ADD COLUMN holder TEXT')
    sql.exec('ALTER TABLE blobs RENAME TO legacy_blobs')
    sql.exec('DROP INDEX IF EXISTS blobs_zero')
    for (const { seq } of sql
      .exec<{ seq: number }>("SELECT seq FROM objects WHERE segments != '[]'")
      .toArray())
      sql.exec('UPDATE objects SET holder = ? WHERE seq = ?', newHolder(), seq)
    for (const part of sql.exec<{ upload_id: string; part_number: number }>('SELECT * FROM parts').toArray())
      sql.exec(
        'UPDATE parts SET holder = ? WHERE upload_id = ? AND part_number = ?',
        newHolder(),
        part.upload_id,
        part.part_number,
      )
  }
  sql.exec(`CREATE UNIQUE INDEX IF NOT EXISTS objects_version ON objects (key, version_id)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS objects_latest ON objects (latest, key)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS uploads_key ON uploads (key, initiated)`)
  sql.exec(`CREATE TABLE IF NOT EXISTS releases (holder TEXT PRIMARY KEY, due INTEGER NOT NULL)`)
  sql.exec(`CREATE INDEX IF NOT EXISTS releases_due ON releases (due)`)
  setMeta(sql, 'schema_version', String(SCHEMA_VERSION))
  return tableExists(sql, 'legacy_blobs')
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
  holder: string | null
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
    holder: row.holder,
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
  const {
    key,
    versionId,
    deleteMarker,
    size,
    etag,
    lastModified,
    segments,
    partsCount,
    holder,
    ...attributes
  } = version
  sql.exec('UPDATE objects SET latest = 0 WHERE key = ? AND latest = 1', key)
  sql.exec(
    `INSERT INTO objects (key, version_id, latest, delete_marker, size, etag, last_modified, attributes, segments, parts_count, holder)
     VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
    key,
    versionId,
    deleteMarker ? 1 : 0,
    size,
    etag,
    lastModified,
    JSON.stringify(attributes),
    JSON.stringify(segments),
    partsCount,
    holder,
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

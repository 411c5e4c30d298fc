/**
 * Lifecycle rules of a bucket, run by its alarm once a day: expire current versions N days
 * after they were written (a delete, or a delete marker when versioning is on), delete
 * noncurrent versions N days after they stopped being current, remove delete markers left
 * with no other version, and abort multipart uploads started N days ago.
 *
 * Guarantees: a rule acts only on keys under its prefix and only when `Enabled`; every change
 * goes through versions.ts / multipart.ts, so blob references stay exact. Costs: one pass
 * over the matching rows per run, bounded by `limit` per rule (the next run continues).
 */
import type { Releases } from './holders'
import { dropUpload } from './multipart'
import { findVersion, type ObjectVersion, type Sql, toVersion } from './tables'
import { deleteVersion, type Versioning } from './versions'

export interface LifecycleRule {
  id: string
  prefix: string
  enabled: boolean
  expirationDays?: number | undefined
  noncurrentDays?: number | undefined
  abortIncompleteDays?: number | undefined
}

const DAY_MS = 86_400_000

/** The next daily run: midnight UTC after `now`. */
export function nextLifecycleRun(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS
}

function versions(sql: Sql, query: string, ...bindings: (string | number)[]): ObjectVersion[] {
  return sql
    .exec(query, ...bindings)
    .toArray()
    .map((row) => toVersion(row as never))
}

export function runLifecycle(
  sql: Sql,
  index: Releases,
  versioning: Versioning,
  rules: LifecycleRule[],
  now: number,
  limit = 1000,
): number {
  let changes = 0
  for (const rule of rules) {
    if (!rule.enabled) continue
    const underPrefix = 'substr(key, 1, ?) = ?'
    if (rule.expirationDays !== undefined) {
      const cutoff = now - rule.expirationDays * DAY_MS
      const due = versions(
        sql,
        `SELECT * FROM objects WHERE latest = 1 AND delete_marker = 0 AND ${underPrefix} AND last_modified <= ? LIMIT ?`,
        rule.prefix.length,
        rule.prefix,
        cutoff,
        limit,
      )
      for (const version of due) deleteVersion(sql, index, versioning, version.key, undefined, now)
      changes += due.length
    }
    if (rule.noncurrentDays !== undefined) {
      const cutoff = now - rule.noncurrentDays * DAY_MS
      // A version stopped being current when the next newer version of its key was written.
      const due = versions(
        sql,
        `SELECT o.* FROM objects o WHERE o.latest = 0 AND substr(o.key, 1, ?) = ? AND
           (SELECT MIN(n.last_modified) FROM objects n WHERE n.key = o.key AND n.seq > o.seq) <= ? LIMIT ?`,
        rule.prefix.length,
        rule.prefix,
        cutoff,
        limit,
      )
      for (const version of due) deleteVersion(sql, index, versioning, version.key, version.versionId, now)
      changes += due.length
      // Delete markers that no longer hide anything.
      const markers = versions(
        sql,
        `SELECT o.* FROM objects o WHERE o.latest = 1 AND o.delete_marker = 1 AND substr(o.key, 1, ?) = ? AND
           NOT EXISTS (SELECT 1 FROM objects n WHERE n.key = o.key AND n.seq <> o.seq) LIMIT ?`,
        rule.prefix.length,
        rule.prefix,
        limit,
      )
      for (const marker of markers)
        if (findVersion(sql, marker.key, marker.versionId))
          deleteVersion(sql, index, versioning, marker.key, marker.versionId, now)
      changes += markers.length
    }
    if (rule.abortIncompleteDays !== undefined) {
      const cutoff = now - rule.abortIncompleteDays * DAY_MS
      const uploads = sql
        .exec<{ upload_id: string }>(
          `SELECT upload_id FROM uploads WHERE ${underPrefix} AND initiated <= ? LIMIT ?`,
          rule.prefix.length,
          rule.prefix,
          cutoff,
          limit,
        )
        .toArray()
      for (const upload of uploads) dropUpload(sql, index, upload.upload_id)
      changes += uploads.length
    }
  }
  return changes
}

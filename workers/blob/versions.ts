/**
 * Writing and deleting object versions under a bucket's versioning state, with the blob
 * references they hold (S3's rules):
 * - unversioned or suspended: a write replaces the `null` version; enabled: a new version.
 * - a delete without a version id removes the object (unversioned) or adds a delete marker
 *   (enabled: a new version; suspended: the `null` version); with a version id it removes
 *   exactly that version, and the next newest becomes current.
 * Every removed version queues the release of its hold in the same transaction (holders.ts).
 */
import type { Releases } from './holders'
import {
  findVersion,
  insertVersion,
  NULL_VERSION,
  type ObjectAttributes,
  type ObjectVersion,
  removeVersion,
  type Segment,
  type Sql,
} from './tables'

export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended'

export function newVersionId(): string {
  return crypto.randomUUID().replace(/-/g, '')
}

function releaseVersion(sql: Sql, index: Releases, version: ObjectVersion): void {
  index.release(version.holder)
  removeVersion(sql, version)
}

export interface NewVersion extends ObjectAttributes {
  key: string
  size: number
  etag: string
  segments: Segment[]
  partsCount: number | null
  /** The hold the caller took on the segments' blobs (null without segments). */
  holder: string | null
}

/** Stores a new current version whose blobs the caller already holds (as `version.holder`). */
export function writeVersion(
  sql: Sql,
  index: Releases,
  versioning: Versioning,
  version: NewVersion,
  now: number,
): string {
  let versionId = newVersionId()
  if (versioning !== 'Enabled') {
    versionId = NULL_VERSION
    const previous = findVersion(sql, version.key, NULL_VERSION)
    if (previous) releaseVersion(sql, index, previous)
  }
  insertVersion(sql, { ...version, versionId, deleteMarker: false, lastModified: now })
  return versionId
}

export interface Deletion {
  versionId?: string
  deleteMarker: boolean
}

export function deleteVersion(
  sql: Sql,
  index: Releases,
  versioning: Versioning,
  key: string,
  versionId: string | undefined,
  now: number,
): Deletion {
  if (versionId !== undefined) {
    const version = findVersion(sql, key, versionId)
    if (!version) return { versionId, deleteMarker: false }
    releaseVersion(sql, index, version)
    return { versionId, deleteMarker: version.deleteMarker }
  }
  if (versioning === 'Unversioned') {
    const current = findVersion(sql, key)
    if (current) releaseVersion(sql, index, current)
    return { deleteMarker: false }
  }
  let markerId = newVersionId()
  if (versioning === 'Suspended') {
    markerId = NULL_VERSION
    const previous = findVersion(sql, key, NULL_VERSION)
    if (previous) releaseVersion(sql, index, previous)
  }
  insertVersion(sql, {
    key,
    versionId: markerId,
    deleteMarker: true,
    size: 0,
    etag: '',
    lastModified: now,
    segments: [],
    partsCount: null,
    holder: null,
    contentType: '',
    headers: {},
    meta: {},
    tags: {},
  })
  return { versionId: markerId, deleteMarker: true }
}

/**
 * Writing and deleting object versions under a bucket's versioning state, with the blob
 * references they hold (S3's rules):
 * - unversioned or suspended: a write replaces the `null` version; enabled: a new version.
 * - a delete without a version id removes the object (unversioned) or adds a delete marker
 *   (enabled: a new version; suspended: the `null` version); with a version id it removes
 *   exactly that version, and the next newest becomes current.
 * Every removed version releases its blobs in the same transaction (see cas.ts).
 */
import { type BlobIndex, release } from './cas'
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

function releaseVersion(sql: Sql, index: BlobIndex, version: ObjectVersion, now: number): void {
  for (const segment of version.segments) release(index, segment.hash, now)
  removeVersion(sql, version)
}

export interface NewVersion extends ObjectAttributes {
  key: string
  size: number
  etag: string
  segments: Segment[]
  partsCount: number | null
}

/** Stores a new current version whose segments' references the caller has already taken. */
export function writeVersion(
  sql: Sql,
  index: BlobIndex,
  versioning: Versioning,
  version: NewVersion,
  now: number,
): string {
  let versionId = newVersionId()
  if (versioning !== 'Enabled') {
    versionId = NULL_VERSION
    const previous = findVersion(sql, version.key, NULL_VERSION)
    if (previous) releaseVersion(sql, index, previous, now)
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
  index: BlobIndex,
  versioning: Versioning,
  key: string,
  versionId: string | undefined,
  now: number,
): Deletion {
  if (versionId !== undefined) {
    const version = findVersion(sql, key, versionId)
    if (!version) return { versionId, deleteMarker: false }
    releaseVersion(sql, index, version, now)
    return { versionId, deleteMarker: version.deleteMarker }
  }
  if (versioning === 'Unversioned') {
    const current = findVersion(sql, key)
    if (current) releaseVersion(sql, index, current, now)
    return { deleteMarker: false }
  }
  let markerId = newVersionId()
  if (versioning === 'Suspended') {
    markerId = NULL_VERSION
    const previous = findVersion(sql, key, NULL_VERSION)
    if (previous) releaseVersion(sql, index, previous, now)
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
    contentType: '',
    headers: {},
    meta: {},
    tags: {},
  })
  return { versionId: markerId, deleteMarker: true }
}

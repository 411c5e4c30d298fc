/**
 * Multipart-upload steps of a bucket object that span more than one statement: listing
 * uploads in key order, and completing an upload. Completion computes the composite
 * checksum outside the transaction (it may need a SHA digest), then assembles the parts again
 * inside it and refuses if they changed meanwhile, so the object it writes is exactly the
 * parts it checked (see multipart.ts for the rules).
 */

import { compositeChecksum } from './checksums'
import { assemble, type ChosenPart, dropUpload, findUpload, listParts, type UploadRow } from './multipart'
import { S3Error } from './s3-errors'
import { blobIndex, type ObjectAttributes, type Sql, type StoredChecksum } from './tables'
import { type Versioning, writeVersion } from './versions'

export function listUploadsAfter(
  sql: Sql,
  prefix: string,
  after: { key: string; uploadId: string } | undefined,
  limit: number,
): { uploads: UploadRow[]; truncated: boolean } {
  const rows = sql
    .exec<{ upload_id: string }>(
      'SELECT upload_id FROM uploads WHERE substr(key, 1, ?) = ? AND (key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, upload_id LIMIT ?',
      prefix.length,
      prefix,
      after?.key ?? '',
      after?.key ?? '',
      after?.uploadId ?? '',
      limit + 1,
    )
    .toArray()
  const uploads = rows.slice(0, limit).map((row) => findUpload(sql, row.upload_id))
  return { uploads, truncated: rows.length > limit }
}

export interface UploadHost {
  sql: Sql
  transaction: <T>(fn: () => T) => T
}

export interface Completion {
  uploadId: string
  key: string
  chosen: ChosenPart[]
  versioning: Versioning
  now: number
  minPartBytes?: number | undefined
}

export async function completeUpload(
  host: UploadHost,
  { uploadId, key, chosen, versioning, now, minPartBytes }: Completion,
): Promise<{ versionId: string; etag: string; checksum?: StoredChecksum }> {
  const { sql } = host
  const upload = findUpload(sql, uploadId, key)
  const assembled = assemble(listParts(sql, uploadId), chosen, minPartBytes)
  const algorithm = upload.checksumAlgorithm
  const value =
    algorithm && assembled.checksums.length === chosen.length
      ? await compositeChecksum(algorithm, assembled.checksums)
      : undefined
  const checksum: StoredChecksum | undefined =
    algorithm && value ? { algorithm, value, type: 'COMPOSITE' } : undefined
  const index = blobIndex(sql)
  const versionId = host.transaction(() => {
    const again = assemble(listParts(sql, uploadId), chosen, minPartBytes)
    if (again.etag !== assembled.etag)
      throw new S3Error('InvalidPart', 'The parts changed during completion; retry.')
    // The chosen parts' references move to the object; the others are released.
    dropUpload(sql, index, uploadId, now, new Set(chosen.map((part) => part.partNumber)))
    const attributes: ObjectAttributes = { ...upload.attributes, checksum }
    return writeVersion(
      sql,
      index,
      versioning,
      {
        ...attributes,
        key,
        size: again.size,
        etag: again.etag,
        segments: again.segments,
        partsCount: chosen.length,
      },
      now,
    )
  })
  return checksum ? { versionId, etag: assembled.etag, checksum } : { versionId, etag: assembled.etag }
}

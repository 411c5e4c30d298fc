/**
 * Multipart-upload steps of a bucket object that span more than one statement: listing
 * uploads in key order, and completing an upload. Completion computes the composite
 * checksum outside the transaction (it may need a SHA digest) and the object takes its hold
 * on the parts' blobs, then the commit assembles the parts again inside the transaction and
 * refuses if they changed meanwhile, so the object it writes is exactly the parts it checked
 * and held (see multipart.ts for the rules).
 */

import { compositeChecksum } from './checksums'
import type { Releases } from './holders'
import {
  type Assembled,
  assemble,
  type ChosenPart,
  dropUpload,
  findUpload,
  listParts,
  type UploadRow,
} from './multipart'
import { S3Error } from './s3-errors'
import type { ObjectAttributes, Sql, StoredChecksum } from './tables'
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

export interface Completion {
  uploadId: string
  key: string
  chosen: ChosenPart[]
  minPartBytes?: number | undefined
}

export interface PreparedCompletion extends Completion {
  upload: UploadRow
  assembled: Assembled
  checksum: StoredChecksum | undefined
}

/** Checks the client's part list and computes the object's checksum (outside any transaction). */
export async function prepareCompletion(sql: Sql, completion: Completion): Promise<PreparedCompletion> {
  const { uploadId, key, chosen, minPartBytes } = completion
  const upload = findUpload(sql, uploadId, key)
  const assembled = assemble(listParts(sql, uploadId), chosen, minPartBytes)
  const algorithm = upload.checksumAlgorithm
  const value =
    algorithm && assembled.checksums.length === chosen.length
      ? await compositeChecksum(algorithm, assembled.checksums)
      : undefined
  const checksum: StoredChecksum | undefined =
    algorithm && value ? { algorithm, value, type: 'COMPOSITE' } : undefined
  return { ...completion, upload, assembled, checksum }
}

/**
 * Writes the object (inside the caller's transaction, once `holder` holds the parts' blobs,
 * stored at `storageKeys`) and releases every part's hold; refuses if the parts changed.
 */
export function commitCompletion(
  sql: Sql,
  index: Releases,
  prepared: PreparedCompletion,
  holder: string | null,
  storageKeys: string[],
  versioning: Versioning,
  now: number,
): string {
  const { uploadId, key, chosen, minPartBytes, upload, assembled, checksum } = prepared
  findUpload(sql, uploadId, key)
  const again = assemble(listParts(sql, uploadId), chosen, minPartBytes)
  if (again.etag !== assembled.etag || again.segments.some((s, i) => s.hash !== assembled.segments[i]?.hash))
    throw new S3Error('InvalidPart', 'The parts changed during completion; retry.')
  dropUpload(sql, index, uploadId)
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
      segments: again.segments.map((segment, i) => ({ ...segment, key: storageKeys[i] as string })),
      partsCount: chosen.length,
      holder,
    },
    now,
  )
}

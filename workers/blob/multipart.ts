/**
 * Multipart uploads inside a bucket object: parts are content-addressed blobs, each held by
 * its part's holder; completing turns the chosen parts into the object's segments (the object
 * takes its own hold on them first; every part's hold is then released), so completion copies
 * no bytes.
 *
 * Guarantees (S3's rules): part numbers 1–10,000; parts listed in ascending order
 * (InvalidPartOrder), each uploaded with the ETag given (InvalidPart), every part but the
 * last at least `minPartBytes` (EntityTooSmall); the ETag is the MD5 of the parts' binary
 * MD5s followed by `-<count>`. Costs: one row per part; completion is O(parts).
 */
import { md5 } from '../platform/checksums'
import type { Releases } from './holders'
import { S3Error } from './s3-errors'
import type { ObjectAttributes, Segment, Sql, StoredChecksum } from './tables'

export const MIN_PART_BYTES = 5 * 1024 * 1024
export const MAX_PARTS = 10_000

export interface UploadRow {
  uploadId: string
  key: string
  initiated: number
  attributes: ObjectAttributes
  checksumAlgorithm: StoredChecksum['algorithm'] | null
}

export interface PartRow {
  partNumber: number
  hash: string
  size: number
  etag: string
  checksum: string | null
  lastModified: number
  /** The part's hold on its blob in the content store. */
  holder: string | null
}

export function findUpload(sql: Sql, uploadId: string, key?: string): UploadRow {
  const row = sql
    .exec<{
      upload_id: string
      key: string
      initiated: number
      attributes: string
      checksum_algorithm: string | null
    }>('SELECT * FROM uploads WHERE upload_id = ?', uploadId)
    .toArray()[0]
  if (!row || (key !== undefined && row.key !== key)) {
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    )
  }
  return {
    uploadId: row.upload_id,
    key: row.key,
    initiated: row.initiated,
    attributes: JSON.parse(row.attributes) as ObjectAttributes,
    checksumAlgorithm: row.checksum_algorithm as UploadRow['checksumAlgorithm'],
  }
}

export function createUpload(sql: Sql, upload: UploadRow): void {
  sql.exec(
    'INSERT INTO uploads (upload_id, key, initiated, attributes, checksum_algorithm) VALUES (?, ?, ?, ?, ?)',
    upload.uploadId,
    upload.key,
    upload.initiated,
    JSON.stringify(upload.attributes),
    upload.checksumAlgorithm,
  )
}

export function listParts(sql: Sql, uploadId: string, after = 0, limit = 10_000): PartRow[] {
  return sql
    .exec<{
      part_number: number
      hash: string
      size: number
      etag: string
      checksum: string | null
      last_modified: number
      holder: string | null
    }>(
      'SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?',
      uploadId,
      after,
      limit,
    )
    .toArray()
    .map((row) => ({
      partNumber: row.part_number,
      hash: row.hash,
      size: row.size,
      etag: row.etag,
      checksum: row.checksum,
      lastModified: row.last_modified,
      holder: row.holder,
    }))
}

/** Stores a part (replacing one with the same number, whose hold is released); its blob is held by `part.holder`. */
export function putPart(sql: Sql, index: Releases, uploadId: string, part: PartRow): void {
  const previous = listParts(sql, uploadId, part.partNumber - 1, 1)[0]
  if (previous && previous.partNumber === part.partNumber) index.release(previous.holder)
  sql.exec(
    `INSERT INTO parts (upload_id, part_number, hash, size, etag, checksum, last_modified, holder) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (upload_id, part_number) DO UPDATE SET hash = excluded.hash, size = excluded.size,
       etag = excluded.etag, checksum = excluded.checksum, last_modified = excluded.last_modified,
       holder = excluded.holder`,
    uploadId,
    part.partNumber,
    part.hash,
    part.size,
    part.etag,
    part.checksum,
    part.lastModified,
    part.holder,
  )
}

/** Releases every part's hold and forgets the upload. */
export function dropUpload(sql: Sql, index: Releases, uploadId: string): void {
  for (const part of listParts(sql, uploadId)) index.release(part.holder)
  sql.exec('DELETE FROM parts WHERE upload_id = ?', uploadId)
  sql.exec('DELETE FROM uploads WHERE upload_id = ?', uploadId)
}

export interface ChosenPart {
  partNumber: number
  etag: string
  checksum?: string | undefined
}

export interface Assembled {
  segments: Segment[]
  size: number
  etag: string
  checksums: string[]
}

const unquote = (etag: string) => etag.trim().replace(/^"|"$/g, '')

/** Checks the client's part list against the stored parts and assembles the object. */
export function assemble(stored: PartRow[], chosen: ChosenPart[], minPartBytes = MIN_PART_BYTES): Assembled {
  if (chosen.length === 0)
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema.',
    )
  const byNumber = new Map(stored.map((part) => [part.partNumber, part]))
  const digests = new Uint8Array(16 * chosen.length)
  const segments: Segment[] = []
  const checksums: string[] = []
  let size = 0
  chosen.forEach((choice, i) => {
    if (i > 0 && choice.partNumber <= (chosen[i - 1] as ChosenPart).partNumber) {
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      )
    }
  })
  chosen.forEach((choice, i) => {
    const part = byNumber.get(choice.partNumber)
    if (
      !part ||
      unquote(part.etag) !== unquote(choice.etag) ||
      (choice.checksum && part.checksum && choice.checksum !== part.checksum)
    ) {
      throw new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        {
          PartNumber: String(choice.partNumber),
          ETag: choice.etag,
        },
      )
    }
    if (i < chosen.length - 1 && part.size < minPartBytes) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        {
          ProposedSize: String(part.size),
          MinSizeAllowed: String(minPartBytes),
          PartNumber: String(part.partNumber),
        },
      )
    }
    const hex = unquote(part.etag)
    for (let b = 0; b < 16; b++) digests[i * 16 + b] = Number.parseInt(hex.slice(b * 2, b * 2 + 2), 16)
    segments.push({ hash: part.hash, size: part.size })
    if (part.checksum) checksums.push(part.checksum)
    size += part.size
  })
  const etag = `"${Array.from(md5(digests), (b) => b.toString(16).padStart(2, '0')).join('')}-${chosen.length}"`
  return { segments, size, etag, checksums }
}

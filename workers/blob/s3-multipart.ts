/**
 * S3 multipart uploads: CreateMultipartUpload, UploadPart (5 MiB – 5 GiB, part numbers
 * 1–10,000), UploadPartCopy (a byte range of another object), ListParts,
 * ListMultipartUploads, CompleteMultipartUpload and AbortMultipartUpload. Each part is
 * streamed to storage as its own content-addressed blob (see multipart.ts).
 */
import { objectBucket } from '../platform/ports'
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, checksumHeader } from './checksums'
import { MAX_PARTS } from './multipart'
import {
  attributesFrom,
  bucketStub,
  isoDate,
  newStorageKey,
  requireBucket,
  requireKey,
  type S3Context,
  xmlResponse,
} from './s3-context'
import { S3Error } from './s3-errors'
import { copySourceObject } from './s3-objects'
import { readSegments } from './segments'
import { bodySource, checkDigests, ingest } from './upload'
import { childrenNamed, el, parseXml, textOf } from './xml'

const MAX_PART_BYTES = 5 * 1024 ** 3

export async function createMultipart(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const declared = c.request.headers.get('x-amz-checksum-algorithm')?.toUpperCase()
  if (declared && !CHECKSUM_ALGORITHMS.includes(declared as ChecksumAlgorithm)) {
    throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.')
  }
  const uploadId = await bucketStub(c.env, c.tenant, bucket).createMultipart(
    key,
    attributesFrom(c.request.headers),
    (declared as ChecksumAlgorithm) ?? null,
  )
  const headers: Record<string, string> = declared
    ? { 'x-amz-checksum-algorithm': declared, 'x-amz-checksum-type': 'COMPOSITE' }
    : {}
  return xmlResponse(
    el('InitiateMultipartUploadResult', el('Bucket', bucket), el('Key', key), el('UploadId', uploadId)),
    200,
    headers,
  )
}

function partNumberOf(c: S3Context): number {
  const text = c.url.searchParams.get('partNumber') ?? ''
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : 0
  if (partNumber < 1 || partNumber > MAX_PARTS)
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: text,
    })
  return partNumber
}

export async function uploadPart(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const partNumber = partNumberOf(c)
  const uploadId = c.url.searchParams.get('uploadId') as string
  const stub = bucketStub(c.env, c.tenant, bucket)
  const upload = await stub.upload(uploadId, key)
  const store = objectBucket(c.env)
  const copyHeader = c.request.headers.get('x-amz-copy-source')
  let ingested: Awaited<ReturnType<typeof ingest>>
  if (copyHeader) {
    const { from } = await copySourceObject(c)
    const h = c.request.headers
    const range = /^bytes=(\d+)-(\d+)$/.exec(h.get('x-amz-copy-source-range') ?? '')
    const start = range ? Number(range[1]) : 0
    const end = range ? Number(range[2]) : from.size - 1
    if (range && (end < start || end >= from.size))
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable', {
        ActualObjectSize: String(from.size),
      })
    const length = Math.max(0, end - start + 1)
    const body = length === 0 ? null : await readSegments(store, from, start, length)
    ingested = await ingest(store, newStorageKey(c.tenant, bucket), {
      body,
      length,
      trailers: Promise.resolve(new Map()),
      algorithm: upload.checksumAlgorithm ?? undefined,
      headers: new Headers(),
    })
  } else {
    const source = bodySource(c.request, c.verified, MAX_PART_BYTES)
    let algorithm = source.algorithm
    if (upload.checksumAlgorithm && algorithm && algorithm !== upload.checksumAlgorithm) {
      throw new S3Error(
        'InvalidRequest',
        `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${algorithm.toLowerCase()}`,
      )
    }
    algorithm ??= upload.checksumAlgorithm ?? undefined
    ingested = await ingest(store, newStorageKey(c.tenant, bucket), { ...source, algorithm })
    const signed = c.verified.payload.kind === 'hashed' ? c.verified.payload.sha256 : undefined
    try {
      checkDigests(c.request.headers, ingested, signed)
    } catch (error) {
      c.waitUntil(store.delete(ingested.storageKey))
      throw error
    }
  }
  const etag = `"${ingested.md5}"`
  // From here on the bucket owns the uploaded copy (it may already be the tenant's blob).
  const redundant = await stub.uploadPart(
    uploadId,
    key,
    {
      partNumber,
      hash: ingested.hash,
      size: ingested.size,
      etag,
      checksum: ingested.checksum?.value ?? null,
    },
    ingested.storageKey,
  )
  if (redundant.length > 0) c.waitUntil(store.delete(redundant))
  const checksumHeaders: Record<string, string> = ingested.checksum
    ? { [checksumHeader(ingested.checksum.algorithm)]: ingested.checksum.value }
    : {}
  if (copyHeader)
    return xmlResponse(
      el('CopyPartResult', el('LastModified', isoDate(c.now)), el('ETag', etag)),
      200,
      checksumHeaders,
    )
  return new Response(null, { status: 200, headers: { etag, ...checksumHeaders } })
}

export async function completeMultipart(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const uploadId = c.url.searchParams.get('uploadId') as string
  const text = await c.request.text()
  const doc = parseXml(text)
  if (doc?.name !== 'CompleteMultipartUpload')
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema.',
    )
  const chosen = childrenNamed(doc, 'Part').map((part) => {
    const numberText = textOf(part, 'PartNumber') ?? ''
    const checksum = CHECKSUM_ALGORITHMS.map((a) => textOf(part, `Checksum${a}`)).find((v) => v !== undefined)
    return {
      partNumber: /^\d{1,5}$/.test(numberText) ? Number(numberText) : 0,
      etag: textOf(part, 'ETag') ?? '',
      checksum,
    }
  })
  if (chosen.length > MAX_PARTS) throw new S3Error('MalformedXML', 'Too many parts.')
  const result = await bucketStub(c.env, c.tenant, bucket).completeMultipart(uploadId, key, chosen)
  const headers: Record<string, string> =
    result.versionId !== 'null' ? { 'x-amz-version-id': result.versionId } : {}
  return xmlResponse(
    el(
      'CompleteMultipartUploadResult',
      el('Location', `${c.url.origin}${c.url.pathname}`),
      el('Bucket', bucket),
      el('Key', key),
      el('ETag', result.etag),
      result.checksum ? el(`Checksum${result.checksum.algorithm}`, result.checksum.value) : undefined,
      result.checksum ? el('ChecksumType', result.checksum.type) : undefined,
    ),
    200,
    headers,
  )
}

export async function abortMultipart(c: S3Context): Promise<Response> {
  await bucketStub(c.env, c.tenant, requireBucket(c)).abortMultipart(
    c.url.searchParams.get('uploadId') as string,
    requireKey(c),
  )
  return new Response(null, { status: 204 })
}

export async function listParts(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const uploadId = c.url.searchParams.get('uploadId') as string
  const marker = Number(c.url.searchParams.get('part-number-marker') ?? 0) || 0
  const max = Math.min(Number(c.url.searchParams.get('max-parts') ?? 1000) || 1000, 1000)
  const { upload, parts, truncated } = await bucketStub(c.env, c.tenant, bucket).listUploadParts(
    uploadId,
    key,
    marker,
    max,
  )
  const algorithm = upload.checksumAlgorithm
  return xmlResponse(
    el(
      'ListPartsResult',
      el('Bucket', bucket),
      el('Key', key),
      el('UploadId', uploadId),
      el('PartNumberMarker', marker),
      truncated ? el('NextPartNumberMarker', parts.at(-1)?.partNumber ?? 0) : undefined,
      el('MaxParts', max),
      el('IsTruncated', truncated),
      algorithm ? el('ChecksumAlgorithm', algorithm) : undefined,
      parts.map((part) =>
        el(
          'Part',
          el('PartNumber', part.partNumber),
          el('LastModified', isoDate(part.lastModified)),
          el('ETag', part.etag),
          el('Size', part.size),
          algorithm && part.checksum ? el(`Checksum${algorithm}`, part.checksum) : undefined,
        ),
      ),
      el('StorageClass', 'STANDARD'),
    ),
  )
}

export async function listUploads(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const q = c.url.searchParams
  const prefix = q.get('prefix') ?? ''
  const max = Math.min(Number(q.get('max-uploads') ?? 1000) || 1000, 1000)
  const keyMarker = q.get('key-marker') ?? ''
  const uploadMarker = q.get('upload-id-marker') ?? ''
  const after = keyMarker ? { key: keyMarker, uploadId: uploadMarker || '\u{10FFFF}' } : undefined
  const { uploads, truncated } = await bucketStub(c.env, c.tenant, bucket).listUploads(prefix, after, max)
  const last = uploads.at(-1)
  return xmlResponse(
    el(
      'ListMultipartUploadsResult',
      el('Bucket', bucket),
      el('KeyMarker', keyMarker),
      el('UploadIdMarker', uploadMarker),
      truncated && last ? el('NextKeyMarker', last.key) : undefined,
      truncated && last ? el('NextUploadIdMarker', last.uploadId) : undefined,
      el('Prefix', prefix),
      el('MaxUploads', max),
      el('IsTruncated', truncated),
      uploads.map((u) =>
        el(
          'Upload',
          el('Key', u.key),
          el('UploadId', u.uploadId),
          el('Initiator', el('ID', c.tenant), el('DisplayName', c.tenant)),
          el('Owner', el('ID', c.tenant), el('DisplayName', c.tenant)),
          el('StorageClass', 'STANDARD'),
          el('Initiated', isoDate(u.initiated)),
          u.checksumAlgorithm ? el('ChecksumAlgorithm', u.checksumAlgorithm) : undefined,
        ),
      ),
    ),
  )
}

/**
 * S3 object operations: PutObject, GetObject (ranges, conditions, response overrides,
 * checksums), HeadObject, DeleteObject, CopyObject (metadata directive, conditions), and
 * object tagging. Bytes stream between the client and object storage; the bucket object
 * records what they are.
 */
import { objectBucket } from '../platform/ports'
import { checksumHeader } from './checksums'
import { checkPreconditions, parseRange, partRange } from './conditions'
import type { ReadableVersion } from './object'
import {
  attributesFrom,
  bucketStub,
  checkTags,
  isoDate,
  newStorageKey,
  parseTagging,
  requireBucket,
  requireKey,
  type S3Context,
  xmlResponse,
} from './s3-context'
import { S3Error } from './s3-errors'
import { readSegments } from './segments'
import type { ObjectAttributes } from './tables'
import { bodySource, checkDigests, ingest } from './upload'
import { child, childrenNamed, el, parseXml, textOf } from './xml'

const versionHeader = (versionId: string): Record<string, string> =>
  versionId === 'null' ? {} : { 'x-amz-version-id': versionId }

export async function putObject(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const attributes = attributesFrom(c.request.headers)
  const source = bodySource(c.request, c.verified)
  const store = objectBucket(c.env)
  const ingested = await ingest(store, newStorageKey(c.tenant, bucket), source)
  const signed = c.verified.payload.kind === 'hashed' ? c.verified.payload.sha256 : undefined
  try {
    checkDigests(c.request.headers, ingested, signed)
  } catch (error) {
    if (ingested.size > 0) c.waitUntil(store.delete(ingested.storageKey))
    throw error
  }
  const etag = `"${ingested.md5}"`
  const checksum = ingested.checksum ? { ...ingested.checksum, type: 'FULL_OBJECT' as const } : undefined
  // From here on the bucket owns the uploaded copy (it may already be the tenant's blob).
  const result = await bucketStub(c.env, c.tenant, bucket).putObject(
    key,
    { hash: ingested.hash, size: ingested.size, storageKey: ingested.storageKey },
    etag,
    { ...attributes, checksum },
    { ifMatch: c.request.headers.get('if-match'), ifNoneMatch: c.request.headers.get('if-none-match') },
  )
  if (result.redundant.length > 0) c.waitUntil(store.delete(result.redundant))
  const headers: Record<string, string> = { etag, ...versionHeader(result.versionId) }
  if (checksum) {
    headers[checksumHeader(checksum.algorithm)] = checksum.value
    headers['x-amz-checksum-type'] = 'FULL_OBJECT'
  }
  return new Response(null, { status: 200, headers })
}

function objectHeaders(
  version: ReadableVersion,
  withChecksum: boolean,
  withPartsCount: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': version.contentType,
    etag: version.etag,
    'last-modified': new Date(version.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    ...version.headers,
    ...versionHeader(version.versionId),
  }
  for (const [name, value] of Object.entries(version.meta)) headers[`x-amz-meta-${name}`] = value
  const tagCount = Object.keys(version.tags).length
  if (tagCount > 0) headers['x-amz-tagging-count'] = String(tagCount)
  // S3 tells the part count when a part is asked for (so a client can fetch the others).
  if (withPartsCount && version.partsCount !== null)
    headers['x-amz-mp-parts-count'] = String(version.partsCount)
  if (withChecksum && version.checksum) {
    headers[checksumHeader(version.checksum.algorithm)] = version.checksum.value
    headers['x-amz-checksum-type'] = version.checksum.type
  }
  return headers
}

const OVERRIDES = [
  'content-type',
  'content-language',
  'expires',
  'cache-control',
  'content-disposition',
  'content-encoding',
]

export async function getObject(c: S3Context, head: boolean): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const versionId = c.url.searchParams.get('versionId') ?? undefined
  const version = await bucketStub(c.env, c.tenant, bucket).getObject(key, versionId)
  const h = c.request.headers
  checkPreconditions(
    {
      ifMatch: h.get('if-match'),
      ifNoneMatch: h.get('if-none-match'),
      ifModifiedSince: h.get('if-modified-since'),
      ifUnmodifiedSince: h.get('if-unmodified-since'),
    },
    version,
    true,
  )
  const partNumber = c.url.searchParams.get('partNumber')
  // A multipart object's segments are its parts, in order; any other object is one part.
  const partSizes = version.partsCount === null ? [version.size] : version.segments.map((s) => s.size)
  const range =
    partNumber === null
      ? parseRange(h.get('range'), version.size)
      : partRange(partNumber, partSizes, h.has('range'))
  const headers = objectHeaders(
    version,
    !range && h.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED',
    partNumber !== null,
  )
  for (const name of OVERRIDES) {
    const value = c.url.searchParams.get(`response-${name}`)
    if (value !== null) headers[name] = value
  }
  const start = range?.start ?? 0
  const length = range ? range.end - range.start + 1 : version.size
  headers['content-length'] = String(length)
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${version.size}`
  const status = range ? 206 : 200
  if (head || length === 0) return new Response(null, { status, headers })
  const body = await readSegments(objectBucket(c.env), version, start, length)
  return new Response(body, { status, headers })
}

export async function deleteObject(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const versionId = c.url.searchParams.get('versionId') ?? undefined
  const stub = bucketStub(c.env, c.tenant, bucket)
  if (c.request.headers.get('if-match')) {
    const current = await stub.getObject(key).catch(() => undefined)
    checkPreconditions({ ifMatch: c.request.headers.get('if-match') }, current, false)
  }
  const [result] = await stub.deleteObjects([{ key, versionId }])
  const headers: Record<string, string> = {}
  if (result?.versionId) headers['x-amz-version-id'] = result.versionId
  if (result?.deleteMarker) headers['x-amz-delete-marker'] = 'true'
  return new Response(null, { status: 204, headers })
}

/** `x-amz-copy-source: /bucket/key?versionId=…` (URL-encoded), within the same tenant. */
export function copySource(header: string): { bucket: string; key: string; versionId?: string } {
  const [path = '', query = ''] = header.split('?')
  const decoded = decodeURIComponent(path).replace(/^\//, '')
  const slash = decoded.indexOf('/')
  if (slash <= 0 || slash === decoded.length - 1)
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    )
  const versionId = new URLSearchParams(query).get('versionId') ?? undefined
  return {
    bucket: decoded.slice(0, slash),
    key: decoded.slice(slash + 1),
    ...(versionId ? { versionId } : {}),
  }
}

/** The object `x-amz-copy-source` names (same tenant), after its `x-amz-copy-source-if-*` conditions. */
export async function copySourceObject(c: S3Context) {
  const h = c.request.headers
  const source = copySource(h.get('x-amz-copy-source') as string)
  const sourceStub = bucketStub(c.env, c.tenant, source.bucket)
  const from = await sourceStub.getObject(source.key, source.versionId)
  checkPreconditions(
    {
      ifMatch: h.get('x-amz-copy-source-if-match'),
      ifNoneMatch: h.get('x-amz-copy-source-if-none-match'),
      ifModifiedSince: h.get('x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: h.get('x-amz-copy-source-if-unmodified-since'),
    },
    from,
    false,
  )
  return { source, sourceStub, from }
}

export async function copyObject(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const key = requireKey(c)
  const h = c.request.headers
  const { source, from } = await copySourceObject(c)
  const replace = h.get('x-amz-metadata-directive')?.toUpperCase() === 'REPLACE'
  const replaceTags = h.get('x-amz-tagging-directive')?.toUpperCase() === 'REPLACE'
  if (!replace && source.bucket === bucket && source.key === key && !replaceTags) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
  }
  const given = attributesFrom(h)
  const attributes: ObjectAttributes = {
    contentType: replace ? given.contentType : from.contentType,
    headers: replace ? given.headers : from.headers,
    meta: replace ? given.meta : from.meta,
    tags: replaceTags ? parseTagging(h.get('x-amz-tagging')) : from.tags,
    checksum: from.checksum,
  }
  // The tenant's buckets share one content store: the copy is a new hold on the same blobs.
  const result = await bucketStub(c.env, c.tenant, bucket).copyFrom(from, key, attributes)
  const headers: Record<string, string> = { ...versionHeader(result.versionId) }
  if (from.versionId !== 'null') headers['x-amz-copy-source-version-id'] = from.versionId
  return xmlResponse(
    el('CopyObjectResult', el('LastModified', isoDate(result.lastModified)), el('ETag', result.etag)),
    200,
    headers,
  )
}

export async function getTagging(c: S3Context): Promise<Response> {
  const version = await bucketStub(c.env, c.tenant, requireBucket(c)).getObject(
    requireKey(c),
    c.url.searchParams.get('versionId') ?? undefined,
  )
  return xmlResponse(
    el(
      'Tagging',
      el(
        'TagSet',
        Object.entries(version.tags).map(([k, v]) => el('Tag', el('Key', k), el('Value', v))),
      ),
    ),
    200,
    versionHeader(version.versionId),
  )
}

export async function putTagging(c: S3Context, remove: boolean): Promise<Response> {
  let tags: Record<string, string> | undefined
  if (!remove) {
    const doc = parseXml(await c.request.text())
    if (doc?.name !== 'Tagging')
      throw new S3Error(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema.',
      )
    tags = {}
    for (const tag of childrenNamed(child(doc, 'TagSet'), 'Tag'))
      tags[textOf(tag, 'Key') ?? ''] = textOf(tag, 'Value') ?? ''
    checkTags(tags)
  }
  const version = await bucketStub(c.env, c.tenant, requireBucket(c)).setTags(
    requireKey(c),
    c.url.searchParams.get('versionId') ?? undefined,
    tags,
  )
  return new Response(null, { status: remove ? 204 : 200, headers: versionHeader(version.versionId) })
}

/**
 * S3 bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
 * GetBucketLocation, and the listings (ListObjectsV2, ListObjects, ListObjectVersions) and
 * DeleteObjects. Buckets are named per tenant: the registry lists them, the bucket object
 * (`<tenant>:blob:<bucket>`) holds their contents.
 */

import { base64urlToText, textToBase64url } from '../platform/encoding'
import { AppError } from '../platform/errors'
import { createResource, deleteResource, listResources } from '../platform/registry'
import { uriEncode } from '../platform/sigv4/signing'
import { cannedAcl } from './acl'
import type { Position } from './listing'
import { claimBucket, releaseBucket } from './owners'
import { BLOB_KIND, bucketStub, isoDate, requireBucket, type S3Context, xmlResponse } from './s3-context'
import { S3Error } from './s3-errors'
import type { ObjectVersion } from './tables'
import { childrenNamed, el, parseXml, textOf, type XmlNode } from './xml'

export const BUCKET_NAME = /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const REGION = 'auto'

export function checkBucketName(name: string): void {
  if (!BUCKET_NAME.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name })
  }
}

const owner = (tenant: string) => el('Owner', el('ID', tenant), el('DisplayName', tenant))

export async function listBuckets(c: S3Context): Promise<Response> {
  const limit = Math.min(Number(c.url.searchParams.get('max-buckets') ?? 1000) || 1000, 1000)
  const token = c.url.searchParams.get('continuation-token') ?? undefined
  const page = await listResources<{ createdAt: number }>(c.env, c.tenant, BLOB_KIND, {
    limit,
    cursor: token,
  })
  const visible = page.items.filter(
    (item) => c.principal.buckets === undefined || c.principal.buckets.includes(item.name),
  )
  return xmlResponse(
    el(
      'ListAllMyBucketsResult',
      owner(c.tenant),
      el(
        'Buckets',
        visible.map((item) =>
          el(
            'Bucket',
            el('Name', item.name),
            el('CreationDate', isoDate(item.createdAt)),
            el('BucketRegion', REGION),
          ),
        ),
      ),
      page.nextCursor ? el('ContinuationToken', page.nextCursor) : undefined,
    ),
  )
}

export async function createBucket(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  checkBucketName(bucket)
  const acl = cannedAcl(c.request.headers.get('x-amz-acl'))
  await claimBucket(c.env, c.tenant, bucket, c.now)
  const created = await bucketStub(c.env, c.tenant, bucket).create(bucket)
  if (!created)
    throw new S3Error(
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: bucket },
    )
  if (acl === 'public-read') await bucketStub(c.env, c.tenant, bucket).setSetting('acl', acl)
  await createResource(c.env, c.tenant, BLOB_KIND, bucket, { createdAt: c.now }, c.now).catch(
    (error: unknown) => {
      if (!(error instanceof AppError && error.code === 'conflict')) throw error
    },
  )
  return new Response(null, { status: 200, headers: { location: `/${bucket}` } })
}

export async function deleteBucket(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  await bucketStub(c.env, c.tenant, bucket).drop()
  await deleteResource(c.env, c.tenant, BLOB_KIND, bucket).catch((error: unknown) => {
    if (!(error instanceof AppError && error.code === 'not_found')) throw error
  })
  await releaseBucket(c.env, bucket)
  return new Response(null, { status: 204 })
}

export async function headBucket(c: S3Context): Promise<Response> {
  await bucketStub(c.env, c.tenant, requireBucket(c)).describe()
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': REGION } })
}

export async function bucketLocation(c: S3Context): Promise<Response> {
  await bucketStub(c.env, c.tenant, requireBucket(c)).describe()
  return xmlResponse(el('LocationConstraint', REGION))
}

function maxKeysOf(c: S3Context, name = 'max-keys'): number {
  const text = c.url.searchParams.get(name)
  if (text === null) return 1000
  if (!/^\d{1,9}$/.test(text))
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`)
  return Math.min(Number(text), 1000)
}

function encoder(c: S3Context): (text: string) => string {
  const type = c.url.searchParams.get('encoding-type')
  if (type !== null && type !== 'url')
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request')
  return type === 'url' ? (text) => uriEncode(text, true) : (text) => text
}

/** The parameters every listing shares: prefix, delimiter, max-keys, encoding-type. */
function listingParams(c: S3Context) {
  const q = c.url.searchParams
  return {
    bucket: requireBucket(c),
    q,
    prefix: q.get('prefix') ?? '',
    delimiter: q.get('delimiter') || undefined,
    maxKeys: maxKeysOf(c),
    enc: encoder(c),
  }
}

const contents = (version: ObjectVersion, enc: (t: string) => string, tenant: string, withOwner: boolean) =>
  el(
    'Contents',
    el('Key', enc(version.key)),
    el('LastModified', isoDate(version.lastModified)),
    el('ETag', version.etag),
    version.checksum ? el('ChecksumAlgorithm', version.checksum.algorithm) : undefined,
    version.checksum ? el('ChecksumType', version.checksum.type) : undefined,
    el('Size', version.size),
    withOwner ? owner(tenant) : undefined,
    el('StorageClass', 'STANDARD'),
  )

export async function listObjects(c: S3Context, v2: boolean): Promise<Response> {
  const { bucket, q, prefix, delimiter, maxKeys, enc } = listingParams(c)
  let after: Position | undefined
  const token = q.get('continuation-token')
  if (v2 && token !== null) {
    const decoded = base64urlToText(token)
    if (decoded === undefined)
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect')
    after = { key: decoded }
  } else {
    const start = v2 ? q.get('start-after') : q.get('marker')
    if (start) after = { key: start }
  }
  const page = await bucketStub(c.env, c.tenant, bucket).list({
    prefix,
    delimiter,
    after,
    maxKeys,
    versions: false,
  })
  const common: XmlNode[] = [
    el('Name', bucket),
    el('Prefix', enc(prefix)),
    delimiter ? el('Delimiter', enc(delimiter)) : undefined,
    el('MaxKeys', maxKeys),
    q.has('encoding-type') ? el('EncodingType', 'url') : undefined,
    el('IsTruncated', page.truncated),
  ].filter((node): node is XmlNode => node !== undefined)
  const items = [
    ...page.entries.map((version) =>
      contents(version, enc, c.tenant, !v2 || q.get('fetch-owner') === 'true'),
    ),
    ...page.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc(p)))),
  ]
  if (v2) {
    return xmlResponse(
      el(
        'ListBucketResult',
        common,
        token !== null ? el('ContinuationToken', token) : undefined,
        page.truncated && page.next ? el('NextContinuationToken', textToBase64url(page.next.key)) : undefined,
        q.get('start-after') ? el('StartAfter', enc(q.get('start-after') as string)) : undefined,
        el('KeyCount', page.entries.length + page.commonPrefixes.length),
        items,
      ),
    )
  }
  return xmlResponse(
    el(
      'ListBucketResult',
      common,
      el('Marker', enc(q.get('marker') ?? '')),
      page.truncated && delimiter && page.lastReturned ? el('NextMarker', enc(page.lastReturned)) : undefined,
      items,
    ),
  )
}

export async function listVersions(c: S3Context): Promise<Response> {
  const { bucket, q, prefix, delimiter, maxKeys, enc } = listingParams(c)
  const keyMarker = q.get('key-marker') ?? ''
  const versionMarker = q.get('version-id-marker') ?? ''
  const stub = bucketStub(c.env, c.tenant, bucket)
  let after: Position | undefined
  if (keyMarker) {
    const marker = versionMarker
      ? await stub.getObject(keyMarker, versionMarker).catch(() => undefined)
      : undefined
    after = marker ? { key: keyMarker, seq: marker.seq } : { key: keyMarker }
  }
  const page = await stub.list({ prefix, delimiter, after, maxKeys, versions: true })
  const last = page.entries.at(-1)
  return xmlResponse(
    el(
      'ListVersionsResult',
      el('Name', bucket),
      el('Prefix', enc(prefix)),
      el('KeyMarker', enc(keyMarker)),
      el('VersionIdMarker', versionMarker),
      page.truncated && page.lastReturned ? el('NextKeyMarker', enc(page.lastReturned)) : undefined,
      page.truncated && last && page.lastReturned === last.key
        ? el('NextVersionIdMarker', last.versionId)
        : undefined,
      el('MaxKeys', maxKeys),
      delimiter ? el('Delimiter', enc(delimiter)) : undefined,
      el('IsTruncated', page.truncated),
      page.entries.map((v) =>
        v.deleteMarker
          ? el(
              'DeleteMarker',
              el('Key', enc(v.key)),
              el('VersionId', v.versionId),
              el('IsLatest', v.latest),
              el('LastModified', isoDate(v.lastModified)),
              owner(c.tenant),
            )
          : el(
              'Version',
              el('Key', enc(v.key)),
              el('VersionId', v.versionId),
              el('IsLatest', v.latest),
              el('LastModified', isoDate(v.lastModified)),
              el('ETag', v.etag),
              el('Size', v.size),
              owner(c.tenant),
              el('StorageClass', 'STANDARD'),
            ),
      ),
      page.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc(p)))),
    ),
  )
}

export async function deleteObjects(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  const doc = parseXml(await c.request.text())
  const objects = childrenNamed(doc, 'Object')
  if (doc?.name !== 'Delete' || objects.length === 0 || objects.length > 1000) {
    throw new S3Error(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema.',
    )
  }
  const quiet = textOf(doc, 'Quiet') === 'true'
  const items = objects.map((o) => ({ key: textOf(o, 'Key') ?? '', versionId: textOf(o, 'VersionId') }))
  const results = await bucketStub(c.env, c.tenant, bucket).deleteObjects(
    items.filter((item) => item.key !== ''),
  )
  let r = 0
  const nodes = items.map((item) => {
    if (item.key === '')
      return el('Error', el('Key', ''), el('Code', 'InvalidArgument'), el('Message', 'Key is empty'))
    const result = results[r++]
    if (quiet) return undefined
    return el(
      'Deleted',
      el('Key', item.key),
      item.versionId ? el('VersionId', item.versionId) : undefined,
      result?.deleteMarker ? el('DeleteMarker', true) : undefined,
      result?.deleteMarker && result.versionId ? el('DeleteMarkerVersionId', result.versionId) : undefined,
    )
  })
  return xmlResponse(el('DeleteResult', nodes))
}

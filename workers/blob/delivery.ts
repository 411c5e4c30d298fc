/**
 * Delivery of a public-read bucket's objects to other blocks (the CDN's bucket origin),
 * without HTTP and without a signature: `readObjectForDelivery` answers like an anonymous
 * GET/HEAD of S3 would — the object's bytes with its ETag, Last-Modified and content
 * headers (user metadata stays private), a single Range (206, 416), If-None-Match /
 * If-Modified-Since (304), If-Range — and 404 for a missing key, 403 when the bucket is not
 * public-read (or no longer is). One bucket-object call per request; bytes stream from
 * storage segment by segment with a known length (memory flat).
 */
import type { Env } from '../platform/env'
import { objectBucket } from '../platform/ports'
import type { BucketAcl } from './acl'
import { checkPreconditions, parseRange } from './conditions'
import { bucketStub } from './s3-context'
import { asS3Error } from './s3-errors'
import { readSegments } from './segments'

export type BucketAccess = BucketAcl | 'missing'

/** Whether a tenant's bucket exists and who may read it. */
export async function bucketAccess(env: Env, tenant: string, bucket: string): Promise<BucketAccess> {
  try {
    return await bucketStub(env, tenant, bucket).acl()
  } catch (error) {
    if (asS3Error(error)?.code === 'NoSuchBucket') return 'missing'
    throw error
  }
}

const plain = (status: number, text: string, headers: Record<string, string> = {}) =>
  new Response(status === 304 ? null : text, {
    status,
    headers: { ...headers, ...(status === 304 ? {} : { 'content-type': 'text/plain; charset=utf-8' }) },
  })

/** The anonymous answer for `key` of a public-read bucket (GET, or HEAD without a body). */
export async function readObjectForDelivery(
  env: Env,
  tenant: string,
  bucket: string,
  key: string,
  requestHeaders: Headers,
  method: 'GET' | 'HEAD' = 'GET',
): Promise<Response> {
  try {
    const version = await bucketStub(env, tenant, bucket).readPublic(key)
    const headers: Record<string, string> = {
      ...version.headers,
      'content-type': version.contentType,
      etag: version.etag,
      'last-modified': new Date(version.lastModified).toUTCString(),
      'accept-ranges': 'bytes',
    }
    checkPreconditions(
      {
        ifMatch: requestHeaders.get('if-match'),
        ifNoneMatch: requestHeaders.get('if-none-match'),
        ifModifiedSince: requestHeaders.get('if-modified-since'),
        ifUnmodifiedSince: requestHeaders.get('if-unmodified-since'),
      },
      version,
      true,
    )
    const ifRange = requestHeaders.get('if-range')
    const rangeHolds = ifRange === null || ifRange === version.etag || ifRange === headers['last-modified']
    const range = rangeHolds ? parseRange(requestHeaders.get('range'), version.size) : undefined
    const start = range?.start ?? 0
    const length = range ? range.end - range.start + 1 : version.size
    headers['content-length'] = String(length)
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${version.size}`
    const status = range ? 206 : 200
    if (method === 'HEAD' || length === 0) return new Response(null, { status, headers })
    const fixed = new FixedLengthStream(length)
    const bytes = await readSegments(objectBucket(env), version, start, length)
    bytes.pipeTo(fixed.writable).catch(() => undefined)
    return new Response(fixed.readable, { status, headers })
  } catch (error) {
    const s3 = asS3Error(error)
    if (!s3) throw error
    if (s3.code === 'NoSuchKey' || s3.code === 'NoSuchBucket') return plain(404, 'Not found.\n')
    if (s3.code === 'AccessDenied') return plain(403, 'The bucket is not public-read.\n')
    return plain(s3.status, `${s3.detail}\n`, s3.headers)
  }
}

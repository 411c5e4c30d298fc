/**
 * What every S3 operation handler receives: the request, the verified key, the bucket and
 * key named by the path (or the host, in virtual-host style), and helpers shared by them
 * (the bucket object's stub, the storage key of a new upload, XML responses).
 */
import type { Env } from '../platform/env'
import type { KeyPrincipal } from '../platform/sigv4/keys'
import type { Verified } from '../platform/sigv4/verify'
import { objectStub } from '../platform/tenancy'
import type { BlobBucket } from './object'
import { S3Error } from './s3-errors'
import type { ObjectAttributes } from './tables'
import { type XmlNode, xmlDocument } from './xml'

export interface S3Context {
  request: Request
  env: Env
  waitUntil: (promise: Promise<unknown>) => void
  url: URL
  tenant: string
  principal: KeyPrincipal
  verified: Verified<KeyPrincipal>
  bucket: string | undefined
  key: string | undefined
  requestId: string
  now: number
}

export const BLOB_KIND = 'blob'

export function bucketStub(env: Env, tenant: string, bucket: string): DurableObjectStub<BlobBucket> {
  return objectStub(env.BLOB_BUCKETS, tenant, BLOB_KIND, bucket)
}

export function requireBucket(c: S3Context): string {
  if (c.bucket === undefined) throw new S3Error('InvalidRequest', 'This operation needs a bucket.')
  return c.bucket
}

export function requireKey(c: S3Context): string {
  if (c.key === undefined) throw new S3Error('InvalidRequest', 'This operation needs an object key.')
  return c.key
}

/** A new, unique place in the shared object storage for a tenant's bucket's bytes. */
export function newStorageKey(tenant: string, bucket: string): string {
  return `blob/${tenant}/${bucket}/${crypto.randomUUID()}`
}

export function xmlResponse(root: XmlNode, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(xmlDocument(root), {
    status,
    headers: { ...headers, 'content-type': 'application/xml' },
  })
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString()
}

const CONTENT_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
] as const

/** The stored attributes a PUT, POST form, copy or multipart create carries in its headers. */
export function attributesFrom(headers: Headers): ObjectAttributes {
  const meta: Record<string, string> = {}
  const content: Record<string, string> = {}
  for (const [name, value] of headers) {
    if (name.startsWith('x-amz-meta-')) meta[name.slice('x-amz-meta-'.length)] = value
  }
  for (const name of CONTENT_HEADERS) {
    const value = headers.get(name)
    // aws-chunked is the transfer's encoding, not the object's.
    const kept =
      name === 'content-encoding'
        ? value
            ?.split(',')
            .map((v) => v.trim())
            .filter((v) => v && v !== 'aws-chunked')
            .join(',')
        : value
    if (kept) content[name] = kept
  }
  if (JSON.stringify(meta).length > 2048)
    throw new S3Error(
      'InvalidArgument',
      'Your metadata headers exceed the maximum allowed metadata size (2 KB).',
    )
  return {
    contentType: headers.get('content-type') ?? 'application/octet-stream',
    headers: content,
    meta,
    tags: parseTagging(headers.get('x-amz-tagging')),
  }
}

/** `x-amz-tagging: a=1&b=2` (at most 10 tags, keys ≤ 128 and values ≤ 256 characters). */
export function parseTagging(text: string | null): Record<string, string> {
  const tags: Record<string, string> = {}
  if (!text) return tags
  for (const [name, value] of new URLSearchParams(text)) tags[name] = value
  checkTags(tags)
  return tags
}

export function checkTags(tags: Record<string, string>): void {
  const entries = Object.entries(tags)
  if (entries.length > 10) throw new S3Error('InvalidArgument', 'Object tags cannot be greater than 10')
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > 128 || value.length > 256)
      throw new S3Error('InvalidArgument', 'The TagKey or TagValue you have provided is too long.')
  }
}

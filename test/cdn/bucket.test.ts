// Public-read buckets through the CDN: the ACL over S3, site validation, anonymous cached delivery, ranges, 404, and private again = no delivery.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { BLOCKS } from '../../workers/blocks'
import { bucketName, errorCode, type Keys, s3, tenantWithKey } from '../blob/support'
import { call, tokenFor } from '../helpers'
import { cacheStatusOf } from './support'

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'

async function setup() {
  const { tenant, keys } = await tenantWithKey()
  const token = await tokenFor(tenant, ['cdn:read', 'cdn:write'])
  const put = (site: string, body: Record<string, unknown>) =>
    call(`/v1/cdn/sites/${site}`, { method: 'PUT', token, body })
  const get = (site: string, path: string, headers: Record<string, string> = {}) =>
    SELF.fetch(`http://edge.test/v1/cdn/sites/${site}/fetch${path}`, {
      headers: { ...headers, authorization: `Bearer ${token}` },
    })
  return { tenant, keys, token, put, get }
}

async function acl(keys: Keys, bucket: string): Promise<string> {
  const response = await s3(keys, `/${bucket}`, { query: { acl: '' } })
  expect(response.status).toBe(200)
  return response.text()
}

describe('public-read buckets through the CDN', () => {
  it('sets and reads the ACL: canned on CreateBucket, PutBucketAcl by header and by policy document', async () => {
    const { keys } = await setup()
    const bucket = bucketName()
    expect(
      (await s3(keys, `/${bucket}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } })).status,
    ).toBe(200)
    expect(await acl(keys, bucket)).toContain(
      `<URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission>`,
    )
    const toPrivate = await s3(keys, `/${bucket}`, {
      method: 'PUT',
      query: { acl: '' },
      headers: { 'x-amz-acl': 'private' },
    })
    expect(toPrivate.status).toBe(200)
    const now = await acl(keys, bucket)
    expect(now).not.toContain(ALL_USERS)
    expect(now).toContain('<Permission>FULL_CONTROL</Permission>')
    const policy = `<AccessControlPolicy><AccessControlList><Grant><Grantee><URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`
    expect((await s3(keys, `/${bucket}`, { method: 'PUT', query: { acl: '' }, body: policy })).status).toBe(
      200,
    )
    expect(await acl(keys, bucket)).toContain(ALL_USERS)
    const writable = await s3(keys, `/${bucket}`, {
      method: 'PUT',
      query: { acl: '' },
      headers: { 'x-amz-acl': 'public-read-write' },
    })
    expect(writable.status).toBe(501)
    expect(errorCode(await writable.text())).toBe('NotImplemented')
    expect(await acl(keys, bucket)).toContain(ALL_USERS)
    const missing = await s3(keys, `/${bucketName()}`, { query: { acl: '' } })
    expect(errorCode(await missing.text())).toBe('NoSuchBucket')
  })

  it('accepts only an existing public-read bucket of the same tenant as an origin', async () => {
    const a = await setup()
    const b = await setup()
    const privateBucket = bucketName()
    await s3(a.keys, `/${privateBucket}`, { method: 'PUT' })
    const othersPublic = bucketName()
    await s3(b.keys, `/${othersPublic}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } })
    for (const [bucket, message] of [
      [privateBucket, 'The bucket is not public-read'],
      [othersPublic, `No bucket named "${othersPublic}"`],
    ] as const) {
      const refused = await a.put('files', { originBucket: bucket })
      expect(refused.status).toBe(400)
      expect((refused.body as { errors: Array<{ message: string }> }).errors[0]?.message).toBe(message)
    }
    expect(
      (await a.put('files', { originBucket: privateBucket, originUrl: 'http://127.0.0.1:9/' })).status,
    ).toBe(400)
    expect((await call('/v1/cdn/sites/files', { token: a.token })).status).toBe(404)
  })

  it('delivers objects anonymously with caching, ranges, conditionals and 404, and stops when the bucket turns private', async () => {
    const { tenant, keys, put, get } = await setup()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } })
    const text = 'hello from a public bucket\n'.repeat(100)
    const stored = await s3(keys, `/${bucket}/docs/hello.txt`, {
      method: 'PUT',
      body: text,
      headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=600', 'x-amz-meta-secret': 's' },
    })
    const etag = stored.headers.get('etag')
    expect((await put('files', { originBucket: bucket })).status).toBe(201)
    const first = await get('files', '/docs/hello.txt')
    expect(first.status).toBe(200)
    expect(first.headers.get('etag')).toBe(etag)
    expect(first.headers.get('content-type')).toBe('text/plain')
    expect(first.headers.get('last-modified')).toBeTruthy()
    expect(first.headers.get('x-amz-meta-secret')).toBeNull()
    expect(cacheStatusOf(first)).toMatchObject({ fwd: 'uri-miss', stored: true })
    expect(await first.text()).toBe(text)
    // Anonymous, through the hostname route (no token at all).
    const serve = BLOCKS.find((block) => block.hostTarget?.kind === 'cdn')?.hostTarget?.serve
    const ctx = createExecutionContext()
    const anonymous = (await serve?.(new Request('https://files.example/docs/hello.txt'), env, ctx, {
      tenant,
      name: 'files',
    })) as Response
    expect(await anonymous.text()).toBe(text)
    await waitOnExecutionContext(ctx)
    // Another version in the bucket is not seen while the cached one is fresh: the hit is the cache's.
    await s3(keys, `/${bucket}/docs/hello.txt`, {
      method: 'PUT',
      body: 'changed',
      headers: { 'cache-control': 'max-age=600' },
    })
    const hit = await get('files', '/docs/hello.txt')
    expect(cacheStatusOf(hit).hit).toBe(true)
    expect(await hit.text()).toBe(text)
    const range = await get('files', '/docs/hello.txt', { range: 'bytes=6-9' })
    expect(range.status).toBe(206)
    expect(await range.text()).toBe('from')
    expect((await get('files', '/docs/hello.txt', { 'if-none-match': etag as string })).status).toBe(304)
    const missing = await get('files', '/docs/nope.txt')
    expect(missing.status).toBe(404)
    await missing.text()
    // Private again: nothing is delivered, cached or not.
    await s3(keys, `/${bucket}`, { method: 'PUT', query: { acl: '' }, headers: { 'x-amz-acl': 'private' } })
    const refused = await get('files', '/docs/hello.txt')
    expect(refused.status).toBe(403)
    expect(refused.headers.get('cache-status')).toBe('edgeblocks; detail="bucket not public-read"')
    expect(((await refused.json()) as { detail: string }).detail).toContain('not public-read')
    expect((await put('files', { originBucket: bucket })).status).toBe(400)
  })

  it('slices a large object of a bucket and answers ranges from the slices', async () => {
    const { keys, put, get } = await setup()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT', headers: { 'x-amz-acl': 'public-read' } })
    const bytes = Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) & 0xff)
    await s3(keys, `/${bucket}/video.bin`, {
      method: 'PUT',
      body: bytes,
      headers: { 'cache-control': 'max-age=600' },
    })
    expect((await put('media', { originBucket: bucket, sliceBytes: 65_536 })).status).toBe(201)
    const part = await get('media', '/video.bin', { range: 'bytes=200000-200009' })
    expect(part.status).toBe(206)
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([...bytes.subarray(200_000, 200_010)])
    const whole = await get('media', '/video.bin')
    expect(whole.headers.get('content-length')).toBe(String(bytes.length))
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes)
    const again = await get('media', '/video.bin')
    expect(cacheStatusOf(again).hit).toBe(true)
    await again.arrayBuffer()
  })
})

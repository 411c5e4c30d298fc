/**
 * The S3 wire inside workerd: SigV4 (header, presigned, signed aws-chunked with chunk and
 * trailer signatures), S3's XML errors with nothing stored, key scopes and tenant isolation,
 * and the access-key API.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { formatAmzDate, hmac, scopeString, sha256HexOf, toHex } from '../../workers/platform/sigv4/signing'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { bucketName, errorCode, type Keys, s3, signer, tenantWithKey } from './support'

async function storedKeys(tenant: string): Promise<string[]> {
  const listed = await env.BLOBS?.list({ prefix: `blob/${tenant}/` })
  return listed?.objects.map((o) => o.key) ?? []
}

describe('access keys', () => {
  it('shows the secret once, lists without it, revokes, and validates input', async () => {
    const { token, keys } = await tenantWithKey({ permission: 'read', buckets: ['only-this'] })
    expect(keys.accessKeyId).toMatch(/^EB[A-Z2-7]{18}$/)
    expect(keys.secretAccessKey).toHaveLength(40)
    const listed = await call<{ items: Record<string, unknown>[] }>('/v1/blob/keys', { token })
    expect(listed.body.items).toEqual([
      expect.objectContaining({ accessKeyId: keys.accessKeyId, permission: 'read', buckets: ['only-this'] }),
    ])
    expect(JSON.stringify(listed.body)).not.toContain(keys.secretAccessKey)
    expect(
      (await call('/v1/blob/keys', { method: 'POST', token, body: { permission: 'admin' } })).status,
    ).toBe(400)
    expect((await call('/v1/blob/keys', { method: 'POST', body: {} })).status).toBe(401)
    const readOnly = await tokenFor(uniqueTenant(), ['blob:read'])
    expect((await call('/v1/blob/keys', { method: 'POST', token: readOnly, body: {} })).status).toBe(403)
    expect((await call(`/v1/blob/keys/${keys.accessKeyId}`, { method: 'DELETE', token })).status).toBe(200)
    expect((await call(`/v1/blob/keys/${keys.accessKeyId}`, { method: 'DELETE', token })).status).toBe(404)
    expect((await call('/v1/blob/keys', { token })).body).toEqual({ items: [] })
  })

  it('seals secrets: the registry row holds no plain secret', async () => {
    const { keys } = await tenantWithKey()
    const { findResource } = await import('../../workers/platform/registry')
    const row = await findResource<Record<string, unknown>>(env, '_sigv4', 'access-key', keys.accessKeyId)
    expect(JSON.stringify(row)).not.toContain(keys.secretAccessKey)
  })
})

describe('SigV4 and S3 errors', () => {
  it('answers unsigned, badly signed, skewed and unknown-key requests with S3 error XML', async () => {
    const { keys } = await tenantWithKey()
    const unsigned = await SELF_fetch('/s3/')
    expect(unsigned.status).toBe(403)
    expect(errorCode(await unsigned.text())).toBe('AccessDenied')
    const wrong = await s3({ ...keys, secretAccessKey: 'w'.repeat(40) }, '/')
    expect(wrong.status).toBe(403)
    const text = await wrong.text()
    expect(text).toContain('<?xml')
    expect(errorCode(text)).toBe('SignatureDoesNotMatch')
    const skewed = await s3(keys, '/', { signingDate: new Date(Date.now() - 20 * 60_000) })
    expect(errorCode(await skewed.text())).toBe('RequestTimeTooSkewed')
    const unknown = await s3(
      { accessKeyId: 'EBAAAAAAAAAAAAAAAAAA', secretAccessKey: keys.secretAccessKey },
      '/',
    )
    expect(errorCode(await unknown.text())).toBe('InvalidAccessKeyId')
    const head = await s3(keys, `/${bucketName()}`, { method: 'HEAD' })
    expect(head.status).toBe(404)
    expect(await head.text()).toBe('')
  })

  it('refuses a body that does not match its signed SHA-256, and stores nothing', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    expect((await s3(keys, `/${bucket}`, { method: 'PUT' })).status).toBe(200)
    const response = await s3(keys, `/${bucket}/k`, {
      method: 'PUT',
      body: 'hello',
      payload: await sha256HexOf('other'),
    })
    expect(response.status).toBe(400)
    expect(errorCode(await response.text())).toBe('XAmzContentSHA256Mismatch')
    expect((await s3(keys, `/${bucket}/k`, { method: 'HEAD' })).status).toBe(404)
    expect(await storedKeys(tenant)).toEqual([])
  })

  it('verifies a signed aws-chunked body chunk by chunk, with a signed trailer', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const data = new Uint8Array(70_000).map((_, i) => i % 251)
    const good = await chunkedPut(keys, bucket, 'chunked', data, false)
    expect(good.status).toBe(200)
    const got = await s3(keys, `/${bucket}/chunked`)
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(data)
    const tampered = await chunkedPut(keys, bucket, 'tampered', data, true)
    expect(tampered.status).toBe(403)
    expect(errorCode(await tampered.text())).toBe('SignatureDoesNotMatch')
    expect((await s3(keys, `/${bucket}/tampered`, { method: 'HEAD' })).status).toBe(404)
    expect((await storedKeys(tenant)).length).toBe(1)
  })

  it('accepts presigned URLs until they expire', async () => {
    const { keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    await s3(keys, `/${bucket}/p`, { method: 'PUT', body: 'presigned' })
    const presign = async (signingDate: Date, expiresIn: number) => {
      const request = await signer(keys).presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: 'edge.test',
          path: `/s3/${bucket}/p`,
          query: {},
          headers: { host: 'edge.test', 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
        },
        { signingDate, expiresIn },
      )
      const url = `http://edge.test${request.path}?${new URLSearchParams(request.query as Record<string, string>)}`
      return url
    }
    const { SELF } = await import('cloudflare:test')
    expect(await (await SELF.fetch(await presign(new Date(), 60))).text()).toBe('presigned')
    const expired = await SELF.fetch(await presign(new Date(Date.now() - 120_000), 60))
    expect(expired.status).toBe(403)
    expect(errorCode(await expired.text())).toBe('AccessDenied')
    expect(
      (await SELF.fetch((await presign(new Date(), 60)).replace('X-Amz-Expires=60', 'X-Amz-Expires=61')))
        .status,
    ).toBe(403)
  })
})

describe('scopes and isolation', () => {
  it('keeps tenants apart and enforces read-only and bucket-scoped keys', async () => {
    const owner = await tenantWithKey()
    const bucket = bucketName()
    await s3(owner.keys, `/${bucket}`, { method: 'PUT' })
    await s3(owner.keys, `/${bucket}/doc`, { method: 'PUT', body: 'private' })
    const stranger = await tenantWithKey()
    const theirs = await s3(stranger.keys, `/${bucket}/doc`)
    expect(theirs.status).toBe(404)
    expect(errorCode(await theirs.text())).toBe('NoSuchBucket')
    const listed = await (await s3(stranger.keys, '/')).text()
    expect(listed).not.toContain(bucket)
    const taken = await s3(stranger.keys, `/${bucket}`, { method: 'PUT' })
    expect(errorCode(await taken.text())).toBe('BucketAlreadyExists')

    const { keys: readOnly } = await call<Keys>('/v1/blob/keys', {
      method: 'POST',
      token: owner.token,
      body: { permission: 'read' },
    }).then((r) => ({ keys: r.body }))
    expect((await s3(readOnly, `/${bucket}/doc`)).status).toBe(200)
    const write = await s3(readOnly, `/${bucket}/doc`, { method: 'PUT', body: 'overwrite' })
    expect(errorCode(await write.text())).toBe('AccessDenied')
    const { keys: scoped } = await call<Keys>('/v1/blob/keys', {
      method: 'POST',
      token: owner.token,
      body: { buckets: ['elsewhere'] },
    }).then((r) => ({ keys: r.body }))
    expect(errorCode(await (await s3(scoped, `/${bucket}/doc`)).text())).toBe('AccessDenied')
    expect(await (await s3(owner.keys, `/${bucket}/doc`)).text()).toBe('private')
  })
})

async function SELF_fetch(path: string): Promise<Response> {
  const { SELF } = await import('cloudflare:test')
  return SELF.fetch(`http://edge.test${path}`)
}

/** A PUT with `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: 64 KiB chunks, each signed, then a signed CRC32 trailer. */
async function chunkedPut(
  keys: Keys,
  bucket: string,
  key: string,
  data: Uint8Array,
  tamper: boolean,
): Promise<Response> {
  const now = new Date()
  const amzDate = formatAmzDate(now.getTime())
  const headers = {
    host: 'edge.test',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'x-amz-trailer': 'x-amz-checksum-crc32',
  }
  const signed = await signer(keys).sign(
    {
      method: 'PUT',
      protocol: 'http:',
      hostname: 'edge.test',
      path: `/s3/${bucket}/${key}`,
      query: {},
      headers,
    },
    { signingDate: now },
  )
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization as string)?.[1] as string
  const scope = { date: amzDate.slice(0, 8), region: 'auto', service: 's3' }
  const { signingKey } = await import('../../workers/platform/sigv4/signing')
  const signingKeyBytes = await signingKey(keys.secretAccessKey, scope)
  const parts: Uint8Array[] = []
  let previous = seed
  const enc = new TextEncoder()
  const emptyHash = await sha256HexOf('')
  for (let at = 0; at <= data.length; at += 65_536) {
    const chunk = data.subarray(at, Math.min(at + 65_536, data.length))
    const toSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      amzDate,
      scopeString(scope),
      previous,
      emptyHash,
      await sha256HexOf(chunk),
    ].join('\n')
    previous = toHex(await hmac(signingKeyBytes, toSign))
    const sent = tamper && at === 65_536 ? chunk.map((b) => b ^ 1) : chunk
    parts.push(
      enc.encode(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`),
      sent,
      enc.encode('\r\n'),
    )
    if (chunk.length === 0) break
    if (at + 65_536 >= data.length) {
      const last = [
        'AWS4-HMAC-SHA256-PAYLOAD',
        amzDate,
        scopeString(scope),
        previous,
        emptyHash,
        emptyHash,
      ].join('\n')
      previous = toHex(await hmac(signingKeyBytes, last))
      parts.push(enc.encode(`0;chunk-signature=${previous}\r\n`))
      break
    }
  }
  const { crc32 } = await import('../../workers/platform/checksums')
  const { bytesToBase64 } = await import('../../workers/platform/encoding')
  const sum = crc32()
  sum.update(data)
  const trailer = `x-amz-checksum-crc32:${bytesToBase64(sum.digest())}\n`
  const trailerSignature = toHex(
    await hmac(
      signingKeyBytes,
      ['AWS4-HMAC-SHA256-TRAILER', amzDate, scopeString(scope), previous, await sha256HexOf(trailer)].join(
        '\n',
      ),
    ),
  )
  parts.push(enc.encode(`${trailer.trimEnd()}\r\nx-amz-trailer-signature:${trailerSignature}\r\n\r\n`))
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    body.set(part, offset)
    offset += part.length
  }
  const { SELF } = await import('cloudflare:test')
  return SELF.fetch(`http://edge.test/s3/${bucket}/${key}`, {
    method: 'PUT',
    headers: { ...signed.headers, 'content-length': String(body.length) },
    body,
  })
}

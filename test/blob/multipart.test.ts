/** Multipart uploads with per-part checksums: each part verified, the object's composite checksum as S3 computes it. */
import { describe, expect, it } from 'vitest'
import { bytesToBase64 } from '../../workers/platform/encoding'
import { bucketName, errorCode, s3, tenantWithKey } from './support'

const sha256 = async (bytes: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))

describe('multipart with SHA-256 part checksums', () => {
  it('verifies each part and reports the composite checksum of the object', async () => {
    const { keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const created = await s3(keys, `/${bucket}/obj`, {
      method: 'POST',
      query: { uploads: '' },
      headers: { 'x-amz-checksum-algorithm': 'SHA256' },
    })
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())?.[1] as string
    const parts = [new Uint8Array(5 * 1024 * 1024).fill(7), new Uint8Array(1000).fill(9)]
    const sums = await Promise.all(parts.map(sha256))
    const wrong = await s3(keys, `/${bucket}/obj`, {
      method: 'PUT',
      query: { partNumber: '1', uploadId },
      body: parts[0],
      headers: { 'x-amz-checksum-sha256': bytesToBase64(sums[1] as Uint8Array) },
    })
    expect(errorCode(await wrong.text())).toBe('BadDigest')
    const etags: string[] = []
    for (const [i, part] of parts.entries()) {
      const response = await s3(keys, `/${bucket}/obj`, {
        method: 'PUT',
        query: { partNumber: String(i + 1), uploadId },
        body: part,
        headers: { 'x-amz-checksum-sha256': bytesToBase64(sums[i] as Uint8Array) },
      })
      expect(response.status).toBe(200)
      etags.push(response.headers.get('etag') as string)
    }
    const xml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag><ChecksumSHA256>${bytesToBase64(sums[i] as Uint8Array)}</ChecksumSHA256></Part>`).join('')}</CompleteMultipartUpload>`
    const completed = await s3(keys, `/${bucket}/obj`, { method: 'POST', query: { uploadId }, body: xml })
    const joined = new Uint8Array(64)
    joined.set(sums[0] as Uint8Array)
    joined.set(sums[1] as Uint8Array, 32)
    const composite = `${bytesToBase64(await sha256(joined))}-2`
    expect(await completed.text()).toContain(`<ChecksumSHA256>${composite}</ChecksumSHA256>`)
    const head = await s3(keys, `/${bucket}/obj`, {
      method: 'HEAD',
      headers: { 'x-amz-checksum-mode': 'ENABLED' },
    })
    expect(head.headers.get('x-amz-checksum-sha256')).toBe(composite)
    expect(head.headers.get('x-amz-checksum-type')).toBe('COMPOSITE')
    expect(head.headers.get('content-length')).toBe(String(5 * 1024 * 1024 + 1000))
  })
})

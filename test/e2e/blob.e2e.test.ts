/**
 * The S3 API driven by the AWS SDK for JavaScript v3 exactly as users configure it against
 * an S3-compatible endpoint (region `auto`, path-style, endpoint = platform + `/s3`), plus
 * presigned URLs with plain fetch and a presigned POST form submitted by Chromium.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketCorsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { launchChromium } from './browser'

/** S3 replaces `${filename}` in a form's key with the uploaded file's name. */
const FILENAME = ['$', '{filename}'].join('')

let platform: RunningPlatform
let token: string
let s3: S3Client
let keys: { accessKeyId: string; secretAccessKey: string }

async function createKey(body: Record<string, unknown> = {}, bearer = token) {
  const response = await fetch(`${platform.url}/v1/blob/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(201)
  return (await response.json()) as { accessKeyId: string; secretAccessKey: string }
}

function client(
  credentials: { accessKeyId: string; secretAccessKey: string },
  options: Record<string, unknown> = {},
) {
  return new S3Client({
    region: 'auto',
    endpoint: `${platform.url}/s3`,
    forcePathStyle: true,
    credentials,
    ...options,
  })
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    if (error instanceof S3ServiceException)
      return { name: error.name, status: error.$metadata.httpStatusCode }
    throw error
  }
  throw new Error('expected the call to fail')
}

const bucketName = (label: string) => `${label}-${randomBytes(5).toString('hex')}`

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('s3-e2e', ['blob:read', 'blob:write'])
  keys = await createKey()
  s3 = client(keys)
})

afterAll(async () => {
  s3?.destroy()
  await platform?.stop()
})

describe('buckets', () => {
  it('creates, heads, lists, locates and deletes a bucket', async () => {
    const Bucket = bucketName('b')
    await s3.send(new CreateBucketCommand({ Bucket }))
    expect(await failure(s3.send(new CreateBucketCommand({ Bucket })))).toEqual({
      name: 'BucketAlreadyOwnedByYou',
      status: 409,
    })
    await s3.send(new HeadBucketCommand({ Bucket }))
    const listed = await s3.send(new ListBucketsCommand({}))
    expect(listed.Buckets?.map((b) => b.Name)).toContain(Bucket)
    expect((await s3.send(new GetBucketLocationCommand({ Bucket }))).LocationConstraint).toBe('auto')
    await s3.send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'x' }))
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket })))).toEqual({
      name: 'BucketNotEmpty',
      status: 409,
    })
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'x' }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket })))).toMatchObject({ status: 404 })
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'x' })))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    })
  })
})

describe('objects', () => {
  const Bucket = bucketName('objects')
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }))
  })

  it('puts and gets bytes, metadata and content headers; ranges are byte-exact', async () => {
    const body = randomBytes(300_000)
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'dir/a b+c.bin',
        Body: body,
        ContentType: 'application/x-test',
        Metadata: { color: 'blue' },
        CacheControl: 'max-age=60',
      }),
    )
    expect(put.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a b+c.bin' }))
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true)
    expect(got.ContentType).toBe('application/x-test')
    expect(got.Metadata).toEqual({ color: 'blue' })
    expect(got.CacheControl).toBe('max-age=60')
    const range = await s3.send(
      new GetObjectCommand({ Bucket, Key: 'dir/a b+c.bin', Range: 'bytes=1000-1999' }),
    )
    expect(range.ContentRange).toBe(`bytes 1000-1999/${body.length}`)
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(1000, 2000))).toBe(true)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/a b+c.bin' }))
    expect(head.ContentLength).toBe(body.length)
    expect(
      await failure(
        s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a b+c.bin', Range: `bytes=${body.length}-` })),
      ),
    ).toEqual({ name: 'InvalidRange', status: 416 })
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    })
  })

  it('streams a body (aws-chunked with a CRC32 trailer) and returns checksums with checksum mode', async () => {
    const body = randomBytes(2 * 1024 * 1024 + 17)
    const { Readable } = await import('node:stream')
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'streamed',
        Body: Readable.from([body.subarray(0, 1 << 20), body.subarray(1 << 20)]),
        ContentLength: body.length,
      }),
    )
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'streamed', ChecksumMode: 'ENABLED' }))
    expect(got.ChecksumCRC32).toBeDefined()
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true)
    for (const ChecksumAlgorithm of ['CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const) {
      await s3.send(
        new PutObjectCommand({
          Bucket,
          Key: `sum-${ChecksumAlgorithm}`,
          Body: body.subarray(0, 5000),
          ChecksumAlgorithm,
        }),
      )
      const head = await s3.send(
        new HeadObjectCommand({ Bucket, Key: `sum-${ChecksumAlgorithm}`, ChecksumMode: 'ENABLED' }),
      )
      expect(head[`Checksum${ChecksumAlgorithm}`]).toBeDefined()
    }
  })

  it('rejects a wrong Content-MD5 and a wrong checksum and stores nothing', async () => {
    const md5 = createHash('md5').update('other').digest('base64')
    expect(
      await failure(
        s3.send(new PutObjectCommand({ Bucket, Key: 'bad-md5', Body: 'hello', ContentMD5: md5 })),
      ),
    ).toEqual({ name: 'BadDigest', status: 400 })
    const crc = Buffer.from([1, 2, 3, 4]).toString('base64')
    expect(
      await failure(
        s3.send(new PutObjectCommand({ Bucket, Key: 'bad-crc', Body: 'hello', ChecksumCRC32: crc })),
      ),
    ).toEqual({ name: 'BadDigest', status: 400 })
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'bad-md5' })))).toMatchObject({
      status: 404,
    })
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'bad-crc' })))).toMatchObject({
      status: 404,
    })
  })

  it('answers conditional requests with 304 and 412', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v1' }))
    expect(
      await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfNoneMatch: put.ETag }))),
    ).toMatchObject({ status: 304 })
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: '"nope"' })))).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    })
    const later = new Date(Date.now() + 60_000)
    expect(
      await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfModifiedSince: later }))),
    ).toMatchObject({ status: 304 })
    expect(
      await failure(s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2', IfNoneMatch: '*' }))),
    ).toEqual({ name: 'PreconditionFailed', status: 412 })
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: put.ETag }))
    expect(await got.Body!.transformToString()).toBe('v1')
  })

  it('copies with the metadata directive, tags objects, and deletes in batches', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket, Key: 'src', Body: 'copy me', Metadata: { a: '1' }, Tagging: 'team=x' }),
    )
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'dst-copy', CopySource: `${Bucket}/src` }))
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'dst-copy' }))).Metadata).toEqual({ a: '1' })
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'dst-replace',
        CopySource: `${Bucket}/src`,
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
        ContentType: 'text/plain',
      }),
    )
    const replaced = await s3.send(new GetObjectCommand({ Bucket, Key: 'dst-replace' }))
    expect(replaced.Metadata).toEqual({ b: '2' })
    expect(await replaced.Body!.transformToString()).toBe('copy me')
    const other = bucketName('copy-target')
    await s3.send(new CreateBucketCommand({ Bucket: other }))
    await s3.send(new CopyObjectCommand({ Bucket: other, Key: 'across', CopySource: `${Bucket}/src` }))
    expect(
      await (await s3.send(new GetObjectCommand({ Bucket: other, Key: 'across' }))).Body!.transformToString(),
    ).toBe('copy me')
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'src' }))).TagSet).toEqual([
      { Key: 'team', Value: 'x' },
    ])
    await s3.send(
      new PutObjectTaggingCommand({ Bucket, Key: 'src', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }),
    )
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'src' }))).TagSet).toEqual([
      { Key: 'k', Value: 'v' },
    ])
    await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'src' }))
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'src' }))).TagSet).toEqual([])
    const deleted = await s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: [{ Key: 'dst-copy' }, { Key: 'dst-replace' }, { Key: 'never-was' }] },
      }),
    )
    expect(deleted.Deleted?.map((d) => d.Key).sort()).toEqual(['dst-copy', 'dst-replace', 'never-was'])
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket, Key: 'dst-copy' })))).toMatchObject({
      status: 404,
    })
  })
})

describe('listing', () => {
  const Bucket = bucketName('list')
  const keysToPut = ['a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'd/é', 'e']
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }))
    for (const Key of keysToPut) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
  })

  it('lists v2 with prefix, delimiter, start-after and continuation tokens', async () => {
    const all = await s3.send(new ListObjectsV2Command({ Bucket }))
    expect(all.Contents?.map((o) => o.Key)).toEqual(keysToPut)
    const top = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }))
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'b/', 'd/'])
    expect(top.Contents?.map((o) => o.Key)).toEqual(['c', 'e'])
    const inA = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a/', Delimiter: '/' }))
    expect(inA.Contents?.map((o) => o.Key)).toEqual(['a/1', 'a/2'])
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/'])
    expect(
      (await s3.send(new ListObjectsV2Command({ Bucket, StartAfter: 'b/1' }))).Contents?.map((o) => o.Key),
    ).toEqual(['c', 'd/é', 'e'])
    const seen: string[] = []
    let ContinuationToken: string | undefined
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket, MaxKeys: 2, Delimiter: '/', ContinuationToken }),
      )
      seen.push(
        ...(page.Contents ?? []).map((o) => o.Key as string),
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix as string),
      )
      expect(page.KeyCount).toBeLessThanOrEqual(2)
      ContinuationToken = page.NextContinuationToken
    } while (ContinuationToken)
    expect(seen.sort()).toEqual(['a/', 'b/', 'c', 'd/', 'e'])
  })

  it('lists v1 with markers', async () => {
    const first = await s3.send(new ListObjectsCommand({ Bucket, MaxKeys: 3 }))
    expect(first.Contents?.map((o) => o.Key)).toEqual(['a/1', 'a/2', 'a/b/3'])
    expect(first.IsTruncated).toBe(true)
    const second = await s3.send(new ListObjectsCommand({ Bucket, Marker: 'a/b/3' }))
    expect(second.Contents?.map((o) => o.Key)).toEqual(['b/1', 'c', 'd/é', 'e'])
  })
})

describe('multipart', () => {
  const Bucket = bucketName('mpu')
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }))
  })

  it('uploads parts, lists them, completes with the S3 ETag, and refuses small or unknown parts', async () => {
    const Key = 'big.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const part1 = randomBytes(5 * 1024 * 1024)
    const part2 = randomBytes(1234)
    const e1 = (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part1 })))
      .ETag as string
    const e2 = (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: part2 })))
      .ETag as string
    const parts = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, part1.length],
      [2, part2.length],
    ])
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket }))
    expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId)
    const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }))
    expect(
      await failure(
        complete([
          { PartNumber: 1, ETag: e1 },
          { PartNumber: 3, ETag: e2 },
        ]),
      ),
    ).toEqual({ name: 'InvalidPart', status: 400 })
    expect(
      await failure(
        complete([
          { PartNumber: 2, ETag: e2 },
          { PartNumber: 1, ETag: e1 },
        ]),
      ),
    ).toEqual({ name: 'InvalidPartOrder', status: 400 })
    const done = await complete([
      { PartNumber: 1, ETag: e1 },
      { PartNumber: 2, ETag: e2 },
    ])
    const md5s = Buffer.concat([part1, part2].map((p) => createHash('md5').update(p).digest()))
    expect(done.ETag).toBe(`"${createHash('md5').update(md5s).digest('hex')}-2"`)
    const whole = Buffer.concat([part1, part2])
    const got = await s3.send(
      new GetObjectCommand({ Bucket, Key, Range: `bytes=${part1.length - 10}-${part1.length + 9}` }),
    )
    expect(
      Buffer.from(await got.Body!.transformToByteArray()).equals(
        whole.subarray(part1.length - 10, part1.length + 10),
      ),
    ).toBe(true)

    const small = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'small' }))
    const s1 = (
      await s3.send(
        new UploadPartCommand({
          Bucket,
          Key: 'small',
          UploadId: small.UploadId,
          PartNumber: 1,
          Body: 'tiny',
        }),
      )
    ).ETag
    const s2 = (
      await s3.send(
        new UploadPartCommand({
          Bucket,
          Key: 'small',
          UploadId: small.UploadId,
          PartNumber: 2,
          Body: 'tiny',
        }),
      )
    ).ETag
    expect(
      await failure(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: 'small',
            UploadId: small.UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: s1 },
                { PartNumber: 2, ETag: s2 },
              ],
            },
          }),
        ),
      ),
    ).toEqual({ name: 'EntityTooSmall', status: 400 })
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'small', UploadId: small.UploadId }))
    expect(
      await failure(s3.send(new ListPartsCommand({ Bucket, Key: 'small', UploadId: small.UploadId }))),
    ).toEqual({ name: 'NoSuchUpload', status: 404 })

    const copy = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'copied' }))
    const c1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key: 'copied',
        UploadId: copy.UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/${Key}`,
        CopySourceRange: 'bytes=0-5242879',
      }),
    )
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'copied',
        UploadId: copy.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: c1.CopyPartResult?.ETag }] },
      }),
    )
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'copied' }))).ContentLength).toBe(
      5 * 1024 * 1024,
    )
  })

  it('gets and heads one part by PartNumber (206, Content-Range, parts count); part 1 of a simple object is all of it', async () => {
    const Key = 'parts.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024 + 17), randomBytes(999)]
    const etags: string[] = []
    for (const [i, Body] of parts.entries())
      etags.push(
        (await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body })))
          .ETag as string,
      )
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    )
    const total = parts.reduce((sum, p) => sum + p.length, 0)
    let start = 0
    for (const [i, part] of parts.entries()) {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: i + 1 }))
      expect(got.$metadata.httpStatusCode).toBe(206)
      expect(got.PartsCount).toBe(3)
      expect(got.ContentLength).toBe(part.length)
      expect(got.ContentRange).toBe(`bytes ${start}-${start + part.length - 1}/${total}`)
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(part)).toBe(true)
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: i + 1 }))
      expect([head.$metadata.httpStatusCode, head.ContentLength, head.PartsCount]).toEqual([
        206,
        part.length,
        3,
      ])
      start += part.length
    }
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(total)
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 4 })))).toEqual({
      name: 'InvalidPartNumber',
      status: 416,
    })
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 4 })))).toMatchObject({
      status: 416,
    })

    await s3.send(new PutObjectCommand({ Bucket, Key: 'simple', Body: 'one part only' }))
    const whole = await s3.send(new GetObjectCommand({ Bucket, Key: 'simple', PartNumber: 1 }))
    expect([whole.$metadata.httpStatusCode, whole.ContentRange, whole.PartsCount]).toEqual([
      206,
      'bytes 0-12/13',
      undefined,
    ])
    expect(await whole.Body!.transformToString()).toBe('one part only')
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'simple', PartNumber: 2 })))).toEqual({
      name: 'InvalidPartNumber',
      status: 416,
    })
  })

  it('uploads 100 MiB with lib-storage Upload', async () => {
    const size = 100 * 1024 * 1024
    const chunk = randomBytes(1024 * 1024)
    const { Readable } = await import('node:stream')
    const hash = createHash('sha256')
    async function* source() {
      for (let i = 0; i < size / chunk.length; i++) {
        hash.update(chunk)
        yield chunk
      }
    }
    const upload = new Upload({
      client: s3,
      params: { Bucket, Key: 'hundred', Body: Readable.from(source()) },
      queueSize: 4,
      partSize: 8 * 1024 * 1024,
    })
    await upload.done()
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'hundred' }))
    const read = createHash('sha256')
    let total = 0
    for await (const piece of got.Body as AsyncIterable<Uint8Array>) {
      read.update(piece)
      total += piece.length
    }
    expect(total).toBe(size)
    expect(read.digest('hex')).toBe(hash.digest('hex'))
  }, 240_000)
})

describe('versioning, CORS and lifecycle settings', () => {
  it('keeps versions, delete markers, and gets or deletes by version id', async () => {
    const Bucket = bucketName('ver')
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled')
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'one' }))
    const v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'two' }))
    expect(v1.VersionId).toBeDefined()
    expect(
      await (
        await s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: v1.VersionId }))
      ).Body!.transformToString(),
    ).toBe('one')
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }))
    expect(marker.DeleteMarker).toBe(true)
    expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key: 'k' })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    })
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket }))
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([v2.VersionId, v1.VersionId])
    expect(versions.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest])).toEqual([[marker.VersionId, true]])
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: marker.VersionId }))
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }))).Body!.transformToString()).toBe(
      'two',
    )
  })

  it('stores CORS and lifecycle configuration', async () => {
    const Bucket = bucketName('cfg')
    await s3.send(new CreateBucketCommand({ Bucket }))
    expect(await failure(s3.send(new GetBucketCorsCommand({ Bucket })))).toEqual({
      name: 'NoSuchCORSConfiguration',
      status: 404,
    })
    await s3.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedMethods: ['GET', 'PUT'],
              AllowedOrigins: ['https://app.example'],
              AllowedHeaders: ['*'],
              MaxAgeSeconds: 60,
            },
          ],
        },
      }),
    )
    expect((await s3.send(new GetBucketCorsCommand({ Bucket }))).CORSRules?.[0]).toMatchObject({
      AllowedMethods: ['GET', 'PUT'],
      AllowedOrigins: ['https://app.example'],
    })
    const preflight = await fetch(`${platform.url}/s3/${Bucket}/x`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(preflight.status).toBe(200)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const refused = await fetch(`${platform.url}/s3/${Bucket}/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    })
    expect(refused.status).toBe(403)
    await s3.send(new DeleteBucketCorsCommand({ Bucket }))
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: 'old',
              Status: 'Enabled',
              Filter: { Prefix: 'logs/' },
              Expiration: { Days: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            },
          ],
        },
      }),
    )
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules
    expect(rules?.[0]).toMatchObject({ ID: 'old', Status: 'Enabled', Expiration: { Days: 30 } })
  })
})

describe('presigned URLs', () => {
  it('PUT and GET through presigned URLs with plain fetch; expired and tampered URLs are refused', async () => {
    const Bucket = bucketName('presign')
    await s3.send(new CreateBucketCommand({ Bucket }))
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'p.txt' }), { expiresIn: 300 })
    expect((await fetch(putUrl, { method: 'PUT', body: 'presigned body' })).status).toBe(200)
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'p.txt' }), { expiresIn: 300 })
    const got = await fetch(getUrl)
    expect(await got.text()).toBe('presigned body')
    const tampered = await fetch(getUrl.replace('p.txt', 'q.txt'))
    expect(tampered.status).toBe(403)
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>')
    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'p.txt' }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 10_000),
    })
    const response = await fetch(expired)
    expect(response.status).toBe(403)
    expect(await response.text()).toContain('<Code>AccessDenied</Code>')
  })
})

describe('keys and isolation', () => {
  it('refuses bad secrets, skewed clocks, revoked keys, and keys scoped elsewhere', async () => {
    const Bucket = bucketName('iso')
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'secret', Body: 'mine' }))
    const wrong = client({ accessKeyId: keys.accessKeyId, secretAccessKey: 'x'.repeat(40) })
    expect(await failure(wrong.send(new GetObjectCommand({ Bucket, Key: 'secret' })))).toEqual({
      name: 'SignatureDoesNotMatch',
      status: 403,
    })
    const skewed = client(keys, { systemClockOffset: -3_600_000, maxAttempts: 1 })
    expect(await failure(skewed.send(new ListBucketsCommand({})))).toMatchObject({
      name: 'RequestTimeTooSkewed',
      status: 403,
    })
    const readOnly = client(await createKey({ permission: 'read' }))
    expect(
      await (await readOnly.send(new GetObjectCommand({ Bucket, Key: 'secret' }))).Body!.transformToString(),
    ).toBe('mine')
    expect(await failure(readOnly.send(new PutObjectCommand({ Bucket, Key: 'w', Body: 'w' })))).toEqual({
      name: 'AccessDenied',
      status: 403,
    })
    const scoped = client(await createKey({ buckets: ['some-other-bucket'] }))
    expect(await failure(scoped.send(new GetObjectCommand({ Bucket, Key: 'secret' })))).toEqual({
      name: 'AccessDenied',
      status: 403,
    })
    const otherTenant = await platform.token('s3-e2e-other', ['blob:write'])
    const stranger = client(await createKey({}, otherTenant))
    expect(await failure(stranger.send(new GetObjectCommand({ Bucket, Key: 'secret' })))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    })
    expect(await failure(stranger.send(new CreateBucketCommand({ Bucket })))).toEqual({
      name: 'BucketAlreadyExists',
      status: 409,
    })
    const revocable = await createKey({})
    const revoked = client(revocable)
    await revoked.send(new HeadBucketCommand({ Bucket }))
    const deleted = await fetch(`${platform.url}/v1/blob/keys/${revocable.accessKeyId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(deleted.status).toBe(200)
    expect(await failure(revoked.send(new GetObjectCommand({ Bucket, Key: 'secret' })))).toEqual({
      name: 'InvalidAccessKeyId',
      status: 403,
    })
  })
})

describe('presigned POST from a browser', () => {
  it('Chromium submits a form upload that its signed policy allows', async () => {
    const Bucket = bucketName('form')
    await s3.send(new CreateBucketCommand({ Bucket }))
    const now = new Date()
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '')
    const date = amzDate.slice(0, 8)
    const credential = `${keys.accessKeyId}/${date}/auto/s3/aws4_request`
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(now.getTime() + 300_000).toISOString(),
        conditions: [
          { bucket: Bucket },
          ['starts-with', '$key', 'browser/'],
          ['content-length-range', 1, 1024 * 1024],
          ['starts-with', '$Content-Type', 'text/'],
          { success_action_status: '201' },
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': amzDate },
        ],
      }),
    ).toString('base64')
    let key: Buffer = createHmac('sha256', `AWS4${keys.secretAccessKey}`).update(date).digest()
    for (const part of ['auto', 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest()
    const signature = createHmac('sha256', key).update(policy).digest('hex')
    const fields: Record<string, string> = {
      key: `browser/${FILENAME}`,
      'Content-Type': 'text/plain',
      success_action_status: '201',
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': amzDate,
      policy,
      'x-amz-signature': signature,
    }
    const inputs = Object.entries(fields)
      .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
      .join('')
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.setContent(
        `<form id="f" action="${platform.url}/s3/${Bucket}" method="post" enctype="multipart/form-data">${inputs}<input type="file" name="file"><button id="go" type="submit">Upload</button></form>`,
      )
      await page.setInputFiles('input[type=file]', {
        name: 'note.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('uploaded by a browser'),
      })
      const [response] = await Promise.all([page.waitForNavigation(), page.click('#go')])
      expect(response?.status()).toBe(201)
      expect(await response?.text()).toContain('<Key>browser/note.txt</Key>')
    } finally {
      await browser.close()
    }
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'browser/note.txt' }))
    expect(await got.Body!.transformToString()).toBe('uploaded by a browser')
  })
})

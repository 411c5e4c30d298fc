/**
 * What the bucket object promises about storage: identical bytes stored once (also under
 * concurrent uploads), unreferenced bytes collected by the alarm only after the grace
 * period, lifecycle rules applied by the alarm, and browser form uploads checked against
 * their signed policy.
 */
import { env, runDurableObjectAlarm, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { GC_GRACE_MS } from '../../workers/blob/object'
import { bytesToBase64 } from '../../workers/platform/encoding'
import { formatAmzDate, signatureOf, signingKey } from '../../workers/platform/sigv4/signing'
import { bucketName, errorCode, type Keys, s3, tenantWithKey } from './support'

/** S3 replaces `${filename}` in a form's key with the uploaded file's name. */
const FILENAME = ['$', '{filename}'].join('')

const DAY = 86_400_000

/** The tenant's bytes in object storage (all its buckets share one content store). */
async function stored(tenant: string): Promise<string[]> {
  const listed = await env.BLOBS?.list({ prefix: `blob/${tenant}/` })
  return listed?.objects.map((o) => o.key) ?? []
}

const stub = (tenant: string, bucket: string) =>
  env.BLOB_BUCKETS.get(env.BLOB_BUCKETS.idFromName(`${tenant}:blob:${bucket}`))

const content = (tenant: string) =>
  env.BLOB_CONTENT.get(env.BLOB_CONTENT.idFromName(`${tenant}:blob-content:store`))

async function settle(tenant: string): Promise<void> {
  // Redundant copies are deleted after the response (waitUntil); wait until storage settles.
  for (let i = 0; i < 50; i++) {
    const before = (await stored(tenant)).length
    await scheduler.wait(20)
    if ((await stored(tenant)).length === before) return
  }
}

describe('content-addressed storage', () => {
  it('stores 20 concurrent uploads of the same bytes once, and collects them after the grace period', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const body = 'the same bytes'.repeat(100)
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s3(keys, `/${bucket}/copy-${i}`, { method: 'PUT', body })),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200))
    await settle(tenant)
    expect(await stored(tenant)).toHaveLength(1)
    await s3(keys, `/${bucket}/other`, { method: 'PUT', body: 'different' })
    await settle(tenant)
    expect(await stored(tenant)).toHaveLength(2)
    for (let i = 0; i < 19; i++) await s3(keys, `/${bucket}/copy-${i}`, { method: 'DELETE' })
    const store = content(tenant)
    await store.advanceClockForTest(GC_GRACE_MS + 1000)
    await runDurableObjectAlarm(store)
    expect(await stored(tenant)).toHaveLength(2)
    expect(await (await s3(keys, `/${bucket}/copy-19`)).text()).toBe(body)
    await s3(keys, `/${bucket}/copy-19`, { method: 'DELETE' })
    // Within the grace period the bytes stay (a reader may still stream them).
    await store.advanceClockForTest(GC_GRACE_MS - 1000)
    expect(await store.collectGarbage()).toBe(0)
    await store.advanceClockForTest(2000)
    expect(await store.collectGarbage()).toBe(1)
    expect(await stored(tenant)).toHaveLength(1)
  })

  it('stores identical objects and parts of different buckets once; a copy to another bucket copies no bytes', async () => {
    const { tenant, keys } = await tenantWithKey()
    const [a, b, c] = [bucketName(), bucketName(), bucketName()]
    for (const name of [a, b, c]) await s3(keys, `/${name}`, { method: 'PUT' })
    const part = new Uint8Array(5 * 1024 * 1024).fill(3)
    const small = 'small bytes shared by buckets'
    await s3(keys, `/${a}/one`, { method: 'PUT', body: part })
    await s3(keys, `/${b}/same`, { method: 'PUT', body: part })
    await s3(keys, `/${b}/small`, { method: 'PUT', body: small })
    // A multipart upload in a third bucket whose parts are bytes already stored.
    const created = await s3(keys, `/${c}/multi`, { method: 'POST', query: { uploads: '' } })
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())?.[1] as string
    const etags: string[] = []
    for (const [i, body] of [part, new TextEncoder().encode(small)].entries()) {
      const response = await s3(keys, `/${c}/multi`, {
        method: 'PUT',
        query: { partNumber: String(i + 1), uploadId },
        body,
      })
      etags.push(response.headers.get('etag') as string)
    }
    const xml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`
    expect((await s3(keys, `/${c}/multi`, { method: 'POST', query: { uploadId }, body: xml })).status).toBe(
      200,
    )
    await settle(tenant)
    expect(await stored(tenant)).toHaveLength(2)
    const before = await stored(tenant)
    const copied = await s3(keys, `/${c}/copied`, {
      method: 'PUT',
      headers: { 'x-amz-copy-source': `/${a}/one` },
    })
    expect(copied.status).toBe(200)
    await settle(tenant)
    expect(await stored(tenant)).toEqual(before)
    const store = content(tenant)
    const counts = Object.fromEntries((await store.blobs()).map((blob) => [blob.storageKey, blob.refs]))
    // The 5 MiB blob: a/one, b/same, c/multi, c/copied; the small one: b/small, c/multi.
    expect(Object.values(counts).sort()).toEqual([2, 4])
    expect(new Uint8Array(await (await s3(keys, `/${c}/copied`)).arrayBuffer())).toEqual(part)
    // Deleting the source and its bucket leaves the copy readable, also after collection.
    await s3(keys, `/${a}/one`, { method: 'DELETE' })
    expect((await s3(keys, `/${a}`, { method: 'DELETE' })).status).toBe(204)
    await s3(keys, `/${b}/same`, { method: 'DELETE' })
    await s3(keys, `/${c}/multi`, { method: 'DELETE' })
    await store.advanceClockForTest(GC_GRACE_MS + 1000)
    expect(await store.collectGarbage()).toBe(0)
    expect(new Uint8Array(await (await s3(keys, `/${c}/copied`)).arrayBuffer())).toEqual(part)
    expect(await (await s3(keys, `/${b}/small`)).text()).toBe(small)
    await s3(keys, `/${c}/copied`, { method: 'DELETE' })
    await s3(keys, `/${b}/small`, { method: 'DELETE' })
    await store.advanceClockForTest(GC_GRACE_MS + 1000)
    expect(await store.collectGarbage()).toBe(2)
    expect(await stored(tenant)).toEqual([])
  }, 120_000)

  it('releases the hold of a write whose precondition fails, and discards its upload', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    await s3(keys, `/${bucket}/k`, { method: 'PUT', body: 'first' })
    const refused = await s3(keys, `/${bucket}/k`, {
      method: 'PUT',
      body: 'second',
      headers: { 'if-none-match': '*' },
    })
    expect(refused.status).toBe(412)
    await settle(tenant)
    expect(await stored(tenant)).toHaveLength(1)
    expect((await content(tenant).blobs()).map((blob) => blob.refs)).toEqual([1])
  })
})

describe('lifecycle rules, run by the alarm', () => {
  it('expires current versions under the prefix and aborts old multipart uploads', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    await s3(keys, `/${bucket}/logs/old`, { method: 'PUT', body: 'old log' })
    await s3(keys, `/${bucket}/keep/this`, { method: 'PUT', body: 'kept' })
    const created = await s3(keys, `/${bucket}/logs/upload`, { method: 'POST', query: { uploads: '' } })
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())?.[1] as string
    await s3(keys, `/${bucket}/logs/upload`, {
      method: 'PUT',
      query: { partNumber: '1', uploadId },
      body: 'part',
    })
    const lifecycle =
      '<LifecycleConfiguration><Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>' +
      '<Expiration><Days>2</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>'
    expect(
      (await s3(keys, `/${bucket}`, { method: 'PUT', query: { lifecycle: '' }, body: lifecycle })).status,
    ).toBe(200)
    const object = stub(tenant, bucket)
    await object.advanceClockForTest(DAY + 1000)
    await runDurableObjectAlarm(object)
    expect((await s3(keys, `/${bucket}/logs/old`, { method: 'HEAD' })).status).toBe(200)
    const parts = await s3(keys, `/${bucket}/logs/upload`, { query: { uploadId } })
    expect(errorCode(await parts.text())).toBe('NoSuchUpload')
    await object.advanceClockForTest(DAY)
    await runDurableObjectAlarm(object)
    expect((await s3(keys, `/${bucket}/logs/old`, { method: 'HEAD' })).status).toBe(404)
    expect(await (await s3(keys, `/${bucket}/keep/this`)).text()).toBe('kept')
  })

  it('expires noncurrent versions of a versioned bucket', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    await s3(keys, `/${bucket}`, {
      method: 'PUT',
      query: { versioning: '' },
      body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
    })
    const first = (await s3(keys, `/${bucket}/k`, { method: 'PUT', body: 'one' })).headers.get(
      'x-amz-version-id',
    ) as string
    await s3(keys, `/${bucket}/k`, { method: 'PUT', body: 'two' })
    const rule =
      '<LifecycleConfiguration><Rule><ID>nc</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>'
    await s3(keys, `/${bucket}`, { method: 'PUT', query: { lifecycle: '' }, body: rule })
    const object = stub(tenant, bucket)
    await object.advanceClockForTest(2 * DAY)
    await runDurableObjectAlarm(object)
    const gone = await s3(keys, `/${bucket}/k`, { query: { versionId: first } })
    expect(errorCode(await gone.text())).toBe('NoSuchVersion')
    expect(await (await s3(keys, `/${bucket}/k`)).text()).toBe('two')
  })
})

describe('browser form uploads (presigned POST)', () => {
  async function form(
    keys: Keys,
    bucket: string,
    conditions: unknown[],
    fields: Record<string, string>,
    file: string,
    expiresInMs = 60_000,
  ) {
    const now = Date.now()
    const amzDate = formatAmzDate(now)
    const scope = { date: amzDate.slice(0, 8), region: 'auto', service: 's3' }
    const credential = `${keys.accessKeyId}/${scope.date}/auto/s3/aws4_request`
    const policy = bytesToBase64(
      new TextEncoder().encode(
        JSON.stringify({
          expiration: new Date(now + expiresInMs).toISOString(),
          conditions: [
            { bucket },
            { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
            { 'x-amz-credential': credential },
            { 'x-amz-date': amzDate },
            ...conditions,
          ],
        }),
      ),
    )
    const body = new FormData()
    for (const [name, value] of Object.entries({
      ...fields,
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': amzDate,
      policy,
    }))
      body.set(name, value)
    body.set('x-amz-signature', await signatureOf(await signingKey(keys.secretAccessKey, scope), policy))
    body.set('file', new File([file], 'photo.txt', { type: 'text/plain' }))
    return SELF.fetch(`http://edge.test/s3/${bucket}`, { method: 'POST', body })
  }

  it('stores a file whose form meets its policy, and refuses one that does not', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const conditions = [
      ['starts-with', '$key', 'uploads/'],
      ['content-length-range', 1, 100],
      ['starts-with', '$Content-Type', 'text/'],
      ['starts-with', '$success_action_status', ''],
    ]
    const ok = await form(
      keys,
      bucket,
      conditions,
      { key: `uploads/${FILENAME}`, 'Content-Type': 'text/plain', success_action_status: '201' },
      'hello form',
    )
    const okText = await ok.clone().text()
    expect(ok.status, okText).toBe(201)
    expect(await ok.text()).toContain('<Key>uploads/photo.txt</Key>')
    const got = await s3(keys, `/${bucket}/uploads/photo.txt`)
    expect(await got.text()).toBe('hello form')
    expect(got.headers.get('content-type')).toBe('text/plain')
    const outside = await form(
      keys,
      bucket,
      conditions,
      { key: 'elsewhere/x', 'Content-Type': 'text/plain' },
      'x',
    )
    expect(outside.status).toBe(403)
    expect(errorCode(await outside.text())).toBe('AccessDenied')
    const tooBig = await form(
      keys,
      bucket,
      conditions,
      { key: 'uploads/big', 'Content-Type': 'text/plain' },
      'x'.repeat(101),
    )
    expect(errorCode(await tooBig.text())).toBe('EntityTooLarge')
    const expired = await form(
      keys,
      bucket,
      conditions,
      { key: 'uploads/late', 'Content-Type': 'text/plain' },
      'x',
      -1000,
    )
    expect(errorCode(await expired.text())).toBe('AccessDenied')
    const extra = await form(
      keys,
      bucket,
      conditions,
      { key: 'uploads/extra', 'Content-Type': 'text/plain', 'x-amz-meta-sneaky': '1' },
      'x',
    )
    expect(errorCode(await extra.text())).toBe('AccessDenied')
    expect(await stored(tenant)).toHaveLength(1)
  })
})

describe('streamed browser form uploads', () => {
  const MiB = 1024 * 1024

  /** A signed form whose file (`size` bytes, generated as it streams) is sent without being held in memory. */
  async function streamedForm(keys: Keys, bucket: string, key: string, size: number, maxBytes: number) {
    const now = Date.now()
    const amzDate = formatAmzDate(now)
    const scope = { date: amzDate.slice(0, 8), region: 'auto', service: 's3' }
    const credential = `${keys.accessKeyId}/${scope.date}/auto/s3/aws4_request`
    const policy = bytesToBase64(
      new TextEncoder().encode(
        JSON.stringify({
          expiration: new Date(now + 60_000).toISOString(),
          conditions: [
            { bucket },
            { key },
            ['content-length-range', 1, maxBytes],
            { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
            { 'x-amz-credential': credential },
            { 'x-amz-date': amzDate },
          ],
        }),
      ),
    )
    const fields: Record<string, string> = {
      key,
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': amzDate,
      policy,
      'x-amz-signature': await signatureOf(await signingKey(keys.secretAccessKey, scope), policy),
    }
    const boundary = `----form${crypto.randomUUID()}`
    const head = new TextEncoder().encode(
      `${Object.entries(fields)
        .map(
          ([name, value]) =>
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
        )
        .join(
          '',
        )}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    )
    const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`)
    const md5 = new crypto.DigestStream('MD5')
    const digest = md5.getWriter()
    const body = new FixedLengthStream(head.length + size + tail.length)
    const writer = body.writable.getWriter()
    const write = async () => {
      await writer.write(head)
      const chunk = new Uint8Array(MiB)
      for (let sent = 0, i = 0; sent < size; sent += chunk.length, i++) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent))
        piece.fill(i % 251)
        piece[0] = i & 0xff
        await digest.write(piece.slice())
        await writer.write(piece.slice())
      }
      await writer.write(tail)
      await writer.close()
      await digest.close()
    }
    const written = write().catch(() => undefined)
    const response = await SELF.fetch(`http://edge.test/s3/${bucket}`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: body.readable,
    })
    // A refused form is answered before its body is read: stop sending it.
    if (!response.ok) await writer.abort('refused').catch(() => undefined)
    await written
    const md5hex = response.ok
      ? Array.from(new Uint8Array(await md5.digest), (b) => b.toString(16).padStart(2, '0')).join('')
      : ''
    return { response, md5: md5hex }
  }

  it('streams a 64 MiB file into storage (no 100 MiB form cap, nothing buffered whole)', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const size = 64 * MiB
    const { response, md5 } = await streamedForm(keys, bucket, 'big.bin', size, 200 * MiB)
    expect(response.status, await response.clone().text()).toBe(204)
    expect(response.headers.get('etag')).toBe(`"${md5}"`)
    const head = await s3(keys, `/${bucket}/big.bin`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String(size))
    expect(head.headers.get('etag')).toBe(`"${md5}"`)
    expect(await stored(tenant)).toHaveLength(1)
  }, 240_000)

  it('refuses a file over the policy’s content-length-range and stores nothing', async () => {
    const { tenant, keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    const { response } = await streamedForm(keys, bucket, 'over.bin', 3 * MiB + 1, 3 * MiB)
    expect(response.status).toBe(400)
    expect(errorCode(await response.text())).toBe('EntityTooLarge')
    expect((await s3(keys, `/${bucket}/over.bin`, { method: 'HEAD' })).status).toBe(404)
    expect(await stored(tenant)).toEqual([])
  }, 120_000)
})

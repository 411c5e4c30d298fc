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

async function stored(tenant: string, bucket: string): Promise<string[]> {
  const listed = await env.BLOBS?.list({ prefix: `blob/${tenant}/${bucket}/` })
  return listed?.objects.map((o) => o.key) ?? []
}

const stub = (tenant: string, bucket: string) =>
  env.BLOB_BUCKETS.get(env.BLOB_BUCKETS.idFromName(`${tenant}:blob:${bucket}`))

async function settle(tenant: string, bucket: string): Promise<void> {
  // Redundant copies are deleted after the response (waitUntil); wait until storage settles.
  for (let i = 0; i < 50; i++) {
    const before = (await stored(tenant, bucket)).length
    await scheduler.wait(20)
    if ((await stored(tenant, bucket)).length === before) return
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
    await settle(tenant, bucket)
    expect(await stored(tenant, bucket)).toHaveLength(1)
    await s3(keys, `/${bucket}/other`, { method: 'PUT', body: 'different' })
    await settle(tenant, bucket)
    expect(await stored(tenant, bucket)).toHaveLength(2)
    for (let i = 0; i < 19; i++) await s3(keys, `/${bucket}/copy-${i}`, { method: 'DELETE' })
    const object = stub(tenant, bucket)
    await object.advanceClockForTest(GC_GRACE_MS + 1000)
    await runDurableObjectAlarm(object)
    expect(await stored(tenant, bucket)).toHaveLength(2)
    expect(await (await s3(keys, `/${bucket}/copy-19`)).text()).toBe(body)
    await s3(keys, `/${bucket}/copy-19`, { method: 'DELETE' })
    // Within the grace period the bytes stay (a reader may still stream them).
    await object.advanceClockForTest(GC_GRACE_MS - 1000)
    expect(await object.collectGarbage()).toBe(0)
    await object.advanceClockForTest(2000)
    expect(await object.collectGarbage()).toBe(1)
    expect(await stored(tenant, bucket)).toHaveLength(1)
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
    expect(await stored(tenant, bucket)).toHaveLength(1)
  })
})

/** Virtual-host style (`<bucket>.<BLOB_S3_HOST>/<key>`) signed by the SDK's signer, and the setting's off state. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { serveS3 } from '../../workers/blob/s3-entry'
import { bucketName, s3, signer, tenantWithKey } from './support'

describe('virtual-host style', () => {
  it('serves <bucket>.<host>/<key> with the same buckets as path style', async () => {
    const { keys } = await tenantWithKey()
    const bucket = bucketName()
    await s3(keys, `/${bucket}`, { method: 'PUT' })
    await s3(keys, `/${bucket}/dir/file.txt`, { method: 'PUT', body: 'via path style' })
    const hostname = `${bucket}.s3.edge.test`
    const signed = await signer(keys).sign({
      method: 'GET',
      protocol: 'http:',
      hostname,
      path: '/dir/file.txt',
      query: {},
      headers: { host: hostname, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    })
    const ctx = createExecutionContext()
    const configured = { ...env, BLOB_S3_HOST: 's3.edge.test' }
    const request = new Request(`http://${hostname}/dir/file.txt`, { headers: signed.headers })
    const response = await serveS3(request, configured, ctx)
    await waitOnExecutionContext(ctx)
    expect(response?.status).toBe(200)
    expect(await response?.text()).toBe('via path style')
    expect(serveS3(new Request('http://edge.test/v1'), configured, ctx)).toBeUndefined()
    expect(serveS3(request, env, ctx)).toBeUndefined()
  })
})

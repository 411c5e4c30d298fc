// The CDN as a user drives it: curl through `npm run dev`'s stack to a counting node:http origin,
// and a public-read bucket filled by the AWS SDK, delivered anonymously through a hostname.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { CreateBucketCommand, GetBucketAclCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { type Origin, startOrigin } from '../support/origin-farm'

const run = promisify(execFile)
let platform: RunningPlatform
let token: string
let origin: Origin

async function curl(...args: string[]) {
  const { stdout } = await run('curl', ['-s', '-S', '-H', `Authorization: Bearer ${token}`, ...args])
  return stdout
}

beforeAll(async () => {
  origin = await startOrigin('cdn-e2e')
  platform = await startPlatform()
  token = await platform.token('cdn-e2e', [
    'cdn:read',
    'cdn:write',
    'blob:read',
    'blob:write',
    'dns:read',
    'dns:write',
  ])
})

afterAll(async () => {
  await platform?.stop()
  await origin?.down().catch(() => undefined)
})

describe('CDN through npm run dev', () => {
  it('misses, hits, serves a range and purges by tag, seen by curl', async () => {
    const site = JSON.stringify({ originUrl: origin.url })
    await curl(
      '-X',
      'PUT',
      `${platform.url}/v1/cdn/sites/www`,
      '-H',
      'content-type: application/json',
      '-d',
      site,
    )
    const url = `${platform.url}/v1/cdn/sites/www/fetch/page?h-cache-control=max-age%3D600&h-cache-tag=pages`
    const first = await curl('-D', '-', '-o', '/dev/null', url)
    expect(first).toMatch(/cache-status: edgeblocks; fwd=uri-miss; fwd-status=200; stored/i)
    const second = await curl('-D', '-', '-o', '/dev/null', url)
    expect(second).toMatch(/cache-status: edgeblocks; hit/i)
    const range = await curl('-r', '0-9', '-D', '-', url)
    expect(range).toMatch(/^HTTP\/1\.1 206/)
    expect(range).toMatch(/content-range: bytes 0-9\//i)
    expect(origin.stats.byPath['/page']).toBe(1)
    const purged = await curl(
      '-X',
      'POST',
      `${platform.url}/v1/cdn/sites/www/purge`,
      '-H',
      'content-type: application/json',
      '-d',
      '{"tags":["pages"]}',
    )
    expect(JSON.parse(purged)).toMatchObject({ soft: false })
    const after = await curl('-D', '-', '-o', '/dev/null', url)
    expect(after).toMatch(/fwd=uri-miss/i)
    expect(origin.stats.byPath['/page']).toBe(2)
  })
})

describe('a public-read bucket through a CDN site', () => {
  it('delivers an object the AWS SDK put, to an anonymous client, then from the cache', async () => {
    const api = async (method: string, path: string, body: unknown) => {
      const response = await fetch(`${platform.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      expect(response.status, await response.clone().text()).toBeLessThan(300)
      return response.json() as Promise<Record<string, string>>
    }
    const keys = await api('POST', '/v1/blob/keys', {})
    const s3 = new S3Client({
      region: 'auto',
      endpoint: `${platform.url}/s3`,
      forcePathStyle: true,
      credentials: {
        accessKeyId: keys.accessKeyId as string,
        secretAccessKey: keys.secretAccessKey as string,
      },
    })
    const Bucket = `media-${randomBytes(4).toString('hex')}`
    const text = 'a video poster, delivered by the CDN\n'.repeat(50)
    try {
      await s3.send(new CreateBucketCommand({ Bucket, ACL: 'public-read' }))
      const acl = await s3.send(new GetBucketAclCommand({ Bucket }))
      expect(acl.Grants?.some((g) => g.Grantee?.URI?.endsWith('/AllUsers') && g.Permission === 'READ')).toBe(
        true,
      )
      await s3.send(
        new PutObjectCommand({
          Bucket,
          Key: 'posters/one.txt',
          Body: text,
          ContentType: 'text/plain',
          CacheControl: 'max-age=600',
        }),
      )
    } finally {
      s3.destroy()
    }
    await api('PUT', '/v1/cdn/sites/media', { originBucket: Bucket })
    const zone = `cdn-e2e-${randomBytes(4).toString('hex')}.test`
    await api('PUT', `/v1/dns/zones/${zone}`, {
      rrsets: [
        {
          name: 'media',
          type: 'CNAME',
          ttl: 300,
          changetype: 'REPLACE',
          records: [{ content: 'media.cdn.edgeblocks.internal.' }],
        },
      ],
    })
    // No token: the hostname is the site, as a visitor's browser would reach it.
    const { port } = new URL(platform.url)
    const anonymous = async () => {
      const { stdout } = await run('curl', [
        '-s',
        '-S',
        '-i',
        '--resolve',
        `media.${zone}:${port}:127.0.0.1`,
        `http://media.${zone}:${port}/posters/one.txt`,
      ])
      const [head = '', body = ''] = stdout.split(/\r\n\r\n/, 2)
      return { head, body }
    }
    const first = await anonymous()
    expect(first.head).toMatch(/^HTTP\/1\.1 200/)
    expect(first.head).toMatch(/cache-status: edgeblocks; fwd=uri-miss; fwd-status=200; stored/i)
    expect(first.body).toBe(text)
    const second = await anonymous()
    expect(second.head).toMatch(/cache-status: edgeblocks; hit/i)
    expect(second.body).toBe(text)
  })
})

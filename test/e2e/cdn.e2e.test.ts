// The CDN as a user drives it: curl through `npm run dev`'s stack to a counting node:http origin,
// and a public-read bucket filled by the AWS SDK, delivered anonymously through a hostname.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { CreateBucketCommand, GetBucketAclCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { type Origin, patternByte, startOrigin } from '../support/origin-farm'
import { treeRssBytes } from '../support/process-memory'

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
    expect(after).toMatch(/fwd=miss; fwd-status=200; stored/i)
    expect(origin.stats.byPath['/page']).toBe(2)
  })
})

async function putSite(name: string, settings: Record<string, unknown>) {
  const response = await fetch(`${platform.url}/v1/cdn/sites/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  })
  expect(response.status, await response.clone().text()).toBeLessThan(300)
}

const through = (site: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${platform.url}/v1/cdn/sites/${site}/fetch${path}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  })

/** Reads a body chunk by chunk, counting its bytes and those that differ from the origin's pattern at `offset`. */
async function checkPattern(response: Response, offset: number) {
  let length = 0
  let mismatches = 0
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(offset + length + i)) mismatches++
    length += chunk.length
  }
  return { length, mismatches }
}

describe('collapsing, origin failures and a 100 MiB object through npm run dev', () => {
  it('makes one origin request for 200 concurrent misses of a key, each client getting the same bytes', async () => {
    await putSite('hot', { originUrl: origin.url })
    const path = '/hot?h-cache-control=max-age%3D600&delay=300'
    const responses = await Promise.all(Array.from({ length: 200 }, () => through('hot', path)))
    const bodies = await Promise.all(responses.map((r) => r.text()))
    const odd = responses.findIndex((r) => r.status !== 200)
    expect(odd, `${responses[odd]?.status} ${bodies[odd]}`).toBe(-1)
    expect(new Set(bodies).size).toBe(1)
    expect(origin.stats.byPath['/hot']).toBe(1)
  })

  it('serves stale-if-error when the origin is down, else a 502 problem', async () => {
    const fragile = await startOrigin('cdn-e2e-fragile')
    await putSite('fragile', { originUrl: fragile.url })
    const sie = '/sie?h-cache-control=max-age%3D60%2C+stale-if-error%3D600&h-age=100'
    const plain = '/plain?h-cache-control=max-age%3D60&h-age=100'
    const body = await (await through('fragile', sie)).text()
    await (await through('fragile', plain)).text()
    await fragile.down()
    const stale = await through('fragile', sie)
    expect(stale.status).toBe(200)
    expect(stale.headers.get('cache-status')).toMatch(
      /hit; fwd=stale; fwd-status=502; .*detail="stale-if-error"/,
    )
    expect(await stale.text()).toBe(body)
    const failed = await through('fragile', plain)
    expect(failed.status).toBe(502)
    expect(failed.headers.get('content-type')).toBe('application/problem+json')
    expect(((await failed.json()) as { status: number }).status).toBe(502)
    expect([fragile.stats.byPath['/sie'], fragile.stats.byPath['/plain']]).toEqual([1, 1])
  })

  it('serves a 100 MiB object whole and in ranges byte for byte, stored once, with memory flat', async () => {
    const MiB = 1024 * 1024
    const total = 100 * MiB
    const path = `/bytes/${total}`
    await putSite('video', { originUrl: origin.url, cacheEverything: true })
    await (await through('video', '/bytes/1024')).arrayBuffer()
    const baseline = treeRssBytes(platform.pid)
    let peak = baseline
    const sampler = setInterval(() => {
      peak = Math.max(peak, treeRssBytes(platform.pid))
    }, 50)
    try {
      const cold = await through('video', path)
      expect(cold.headers.get('cache-status')).toMatch(/fwd=uri-miss; fwd-status=200; stored/)
      expect(await checkPattern(cold, 0)).toEqual({ length: total, mismatches: 0 })
      for (const [start, end] of [
        [0, 99],
        [50 * MiB, 58 * MiB - 1],
        [total - 10, total - 1],
      ] as const) {
        const part = await through('video', path, { range: `bytes=${start}-${end}` })
        expect(part.status).toBe(206)
        expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/${total}`)
        expect(await checkPattern(part, start)).toEqual({ length: end - start + 1, mismatches: 0 })
      }
      const whole = await through('video', path)
      expect(whole.headers.get('cache-status')).toMatch(/hit/)
      expect(await checkPattern(whole, 0)).toEqual({ length: total, mismatches: 0 })
    } finally {
      clearInterval(sampler)
    }
    expect(origin.stats.byPath[path]).toBe(1)
    // Flat: no process of the platform ever holds the object whole. (Its growth is the
    // runtime's working set: about the same for a 250 MiB object, measured once.)
    const rss = `platform RSS ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`
    expect(peak - baseline, rss).toBeLessThan(total)
  }, 300_000)
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

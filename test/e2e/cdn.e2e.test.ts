// The CDN as a user drives it: curl through `npm run dev`'s stack to a counting node:http origin.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
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
  token = await platform.token('cdn-e2e', ['cdn:read', 'cdn:write'])
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

// The load balancer as a user drives it: curl through `npm run dev`'s stack to real node:http origins.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { type Origin, startOrigin } from '../support/origin-farm'

const run = promisify(execFile)
let platform: RunningPlatform
let token: string
let origins: Origin[]

async function curl(...args: string[]) {
  const { stdout } = await run('curl', ['-s', '-S', '-H', `Authorization: Bearer ${token}`, ...args])
  return stdout
}

beforeAll(async () => {
  origins = await Promise.all(['e0', 'e1', 'e2'].map((name) => startOrigin(name)))
  platform = await startPlatform()
  token = await platform.token('lb-e2e', ['lb:read', 'lb:write'])
})

afterAll(async () => {
  await platform?.stop()
  for (const origin of origins ?? []) await origin.down().catch(() => undefined)
})

describe('load balancer through npm run dev', () => {
  it('balances, fails over when an origin dies, and streams an upload with curl', async () => {
    const pool = JSON.stringify({ origins: origins.map((o) => ({ name: o.name, url: o.url })) })
    await curl(
      '-X',
      'PUT',
      `${platform.url}/v1/lb/pools/web`,
      '-H',
      'content-type: application/json',
      '-d',
      pool,
    )
    await curl(
      '-X',
      'PUT',
      `${platform.url}/v1/lb/balancers/web`,
      '-H',
      'content-type: application/json',
      '-d',
      '{"pools":["web"]}',
    )
    const seen: string[] = []
    for (let i = 0; i < 6; i++)
      seen.push(
        (JSON.parse(await curl(`${platform.url}/v1/lb/web/proxy/hello`)) as { origin: string }).origin,
      )
    expect(seen.sort()).toEqual(['e0', 'e0', 'e1', 'e1', 'e2', 'e2'])
    await origins[1]?.down()
    const statuses: string[] = []
    for (let i = 0; i < 9; i++)
      statuses.push(await curl('-o', '/dev/null', '-w', '%{http_code}', `${platform.url}/v1/lb/web/proxy/`))
    expect(statuses.every((s) => s === '200')).toBe(true)
    const upload = await curl(
      '-X',
      'POST',
      '--data-binary',
      '@package-lock.json',
      `${platform.url}/v1/lb/web/proxy/upload`,
    )
    expect((JSON.parse(upload) as { bodyBytes: number }).bodyBytes).toBeGreaterThan(100_000)
  })
})

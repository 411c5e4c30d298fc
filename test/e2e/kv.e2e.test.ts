/**
 * The key-value store under `npm run dev`, driven by curl as the README shows: three
 * storage node processes; one is killed with kill -9 and quorum reads and writes go on.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

const run = promisify(execFile)
let platform: RunningPlatform
let token: string

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('kv-e2e', ['kv:read', 'kv:write'])
})

afterAll(async () => {
  await platform?.stop()
})

async function curl(...args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-sS', '-D', '-', '-H', `Authorization: Bearer ${token}`, ...args])
  const split = stdout.indexOf('\r\n\r\n')
  const headers = stdout.slice(0, split)
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1]), headers, body: stdout.slice(split + 4) }
}

describe('kv under npm run dev', () => {
  it('starts three storage nodes and serves the README walk-through with curl', async () => {
    expect(platform.output()).toMatch(/node-2 +http:\/\/127\.0\.0\.1:\d+ \(pid \d+/)
    const api = `${platform.url}/v1/kv/namespaces/profiles`
    const created = await curl(
      '-X',
      'PUT',
      api,
      '-H',
      'content-type: application/json',
      '-d',
      '{"replicas":3,"readQuorum":2,"writeQuorum":2}',
    )
    expect(created.status).toBe(201)
    const put = await curl(
      '-X',
      'PUT',
      `${api}/values/user:1`,
      '-H',
      'content-type: application/json',
      '-d',
      '{"name":"Ada"}',
    )
    expect(put.status).toBe(200)
    const got = await curl(`${api}/values/user:1`)
    expect([got.status, got.body]).toEqual([200, '{"name":"Ada"}'])
    const context = /x-kv-context: (\S+)/i.exec(got.headers)?.[1] as string
    await curl('-X', 'PUT', `${api}/values/user:1`, '-d', 'concurrent')
    const siblings = await curl(`${api}/values/user:1`)
    expect(siblings.status).toBe(300)
    const merged = /x-kv-context: (\S+)/i.exec(siblings.headers)?.[1] as string
    expect(merged).not.toBe(context)
    const resolved = await curl(
      '-X',
      'PUT',
      `${api}/values/user:1`,
      '-H',
      `X-KV-Context: ${merged}`,
      '-d',
      'resolved',
    )
    expect(resolved.status).toBe(200)
    expect((await curl(`${api}/values/user:1`)).body).toBe('resolved')
  })

  it('keeps reading and writing at quorum after kill -9 of one storage node', async () => {
    const pid = Number(/node-1 +http:\/\/\S+ \(pid (\d+)/.exec(platform.output())?.[1])
    expect(pid).toBeGreaterThan(0)
    process.kill(pid, 'SIGKILL')
    const api = `${platform.url}/v1/kv/namespaces/profiles`
    for (let i = 0; i < 5; i++) {
      expect((await curl('-X', 'PUT', `${api}/values/after-kill-${i}`, '-d', `v${i}`)).status).toBe(200)
      expect((await curl(`${api}/values/after-kill-${i}`)).body).toBe(`v${i}`)
    }
    const strong = await curl('-X', 'PUT', `${api}/values/counter?consistency=strong`, '-d', '1')
    expect(strong.status).toBe(200)
    expect((await curl(`${api}/values/counter?consistency=strong`)).body).toBe('1')
  })
})

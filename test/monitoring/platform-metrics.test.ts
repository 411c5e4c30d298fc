/** The platform's own /metrics: requests by tenant class, Durable Object calls, libSQL requests and rate-limit denials. */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import { call, tokenFor, uniqueTenant } from '../helpers'

const metrics = async () => (await SELF.fetch('http://edge.test/metrics')).text()

/** The value of the first sample whose line starts with `name{` and contains every label pair. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    )
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** The sum of every sample of `name` carrying all the label pairs (any other labels). */
function total(text: string, name: string, labels: Record<string, string>): number {
  return text
    .split('\n')
    .filter(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    )
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

describe('platform metrics', () => {
  it('counts requests by route pattern, status code and tenant class', async () => {
    const route = { route: '/v1/whoami', method: 'GET' }
    const count = (text: string, tenant_class: string, code?: string) =>
      total(text, 'edgeblocks_http_requests_total', { ...route, tenant_class, ...(code ? { code } : {}) })
    const before = await metrics()
    expect((await call('/v1/whoami')).status).toBe(401)
    expect((await call('/v1/whoami', { token: await tokenFor(uniqueTenant(), ['queue:read']) })).status).toBe(
      200,
    )
    expect((await call('/v1/whoami', { token: await tokenFor(uniqueTenant(), ['admin']) })).status).toBe(200)
    // "gateway-tiny" has its own gateway limit in the test pool: the `custom` class.
    await call('/v1/whoami', { token: await tokenFor('gateway-tiny', ['queue:read']) })
    const after = await metrics()
    expect(count(after, 'anonymous', '401')).toBe(count(before, 'anonymous', '401') + 1)
    expect(count(after, 'standard', '200')).toBe(count(before, 'standard', '200') + 1)
    expect(count(after, 'admin', '200')).toBe(count(before, 'admin', '200') + 1)
    expect(count(after, 'custom')).toBe(count(before, 'custom') + 1)
    // The latency histogram counts the same requests by route pattern.
    expect(total(after, 'edgeblocks_http_request_duration_seconds_count', { route: '/v1/whoami' })).toBe(
      total(before, 'edgeblocks_http_request_duration_seconds_count', { route: '/v1/whoami' }) + 4,
    )
  })

  it('counts Durable Object calls by kind and method, with their latency', async () => {
    const before =
      sample(await metrics(), 'edgeblocks_durable_object_calls_total', {
        kind: 'metrics',
        method: 'stats',
      }) ?? 0
    const token = await tokenFor(uniqueTenant())
    expect((await call('/v1/monitoring/stats', { token })).status).toBe(200)
    const text = await metrics()
    expect(sample(text, 'edgeblocks_durable_object_calls_total', { kind: 'metrics', method: 'stats' })).toBe(
      before + MONITORING_LIMITS.shards,
    )
    expect(
      sample(text, 'edgeblocks_durable_object_call_duration_seconds_count', { kind: 'metrics' }),
    ).toBeGreaterThanOrEqual(MONITORING_LIMITS.shards)
    expect(text).toContain('# TYPE edgeblocks_durable_object_call_duration_seconds histogram')
  })

  it('counts gateway rate-limit denials and times libSQL requests', async () => {
    // The test pool limits tenant "gateway-tiny" to 5 requests a minute.
    const token = await tokenFor('gateway-tiny')
    const before = sample(await metrics(), 'edgeblocks_rate_limit_denials_total', { key: 'tenant' }) ?? 0
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await call('/v1/whoami', { token })).status)
    const denied = statuses.filter((s) => s === 429).length
    expect(denied).toBeGreaterThan(0)
    const text = await metrics()
    expect(sample(text, 'edgeblocks_rate_limit_denials_total', { key: 'tenant' })).toBe(before + denied)
    // Minting and checking tokens reads and writes the control plane in libSQL.
    expect(
      sample(text, 'edgeblocks_libsql_request_duration_seconds_count', { outcome: 'ok' }),
    ).toBeGreaterThan(0)
  })
})

/**
 * The gateway's own protection: through the real app (with the test pool's settings, where
 * tenant "gateway-tiny" is limited to 5/60s) and on small apps built with explicit options.
 */
import { env } from 'cloudflare:test'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type AuthEnv, requireScope } from '../../workers/platform/auth/middleware'
import { toProblemResponse } from '../../workers/platform/errors'
import {
  admitThroughLease,
  clientAddress,
  type GatewayRateLimitOptions,
  gatewayRateLimit,
} from '../../workers/ratelimit/gateway'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { problemCode } from './api'

/**
 * A small app behind the middleware: `/open` needs no token, `/whoami` reads the principal it
 * set. `x-test-tenant` stands for a principal an earlier middleware already verified.
 */
function appWith(options: GatewayRateLimitOptions) {
  const app = new Hono<AuthEnv>()
  app.onError((error, c) => toProblemResponse(c, error))
  app.use('*', async function knownPrincipal(c, next) {
    const tenant = c.req.header('x-test-tenant')
    if (tenant) c.set('principal', { tenant, scopes: new Set(), tokenId: 'test', expiresAt: 0 })
    await next()
  })
  app.use('*', gatewayRateLimit(options))
  app.get('/open', (c) => c.text('ok'))
  app.get('/whoami', (c) => c.text(c.get('principal')?.tenant ?? 'nobody'))
  app.get('/scoped', requireScope('ratelimit:read'), (c) => c.text('scoped'))
  return async (path: string, headers: Record<string, string> = {}) => app.request(path, { headers }, env)
}

const off = { tenantLimit: 'off', ipLimit: 'off' } as const

describe('through the platform', () => {
  it('puts the tenant quota on authenticated responses and the address quota on the others', async () => {
    const token = await tokenFor(uniqueTenant('gw'))
    const whoami = await call('/v1/whoami', { token })
    expect(whoami.status).toBe(200)
    expect(whoami.headers.get('ratelimit-policy')).toBe('"gateway:tenant";q=1000000;w=60')
    expect(whoami.headers.get('ratelimit')).toBe('"gateway:tenant";r=999999;t=1')
    const open = await call('/v1')
    expect(open.headers.get('ratelimit-policy')).toBe('"gateway:ip";q=1000000;w=60')
    // Errors are counted and labelled too.
    const missing = await call('/v1/ratelimit/policies/nope', { token })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('ratelimit')).toMatch(/^"gateway:tenant";r=99999\d;t=1$/)
    expect((await call('/healthz')).headers.get('ratelimit')).toBeNull()
  })

  it('answers 429 problem+json with Retry-After once a tenant is over its configured override', async () => {
    const token = await tokenFor('gateway-tiny')
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await call('/v1/whoami', { token })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200])
    const denied = await call('/v1/whoami', { token })
    expect(denied.status).toBe(429)
    expect(denied.headers.get('content-type')).toBe('application/problem+json')
    expect(problemCode(denied.body)).toBe('rate_limited')
    // GCRA at 5 per 60 s: the next unit is due 12 s after the first request.
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(Number(denied.headers.get('retry-after'))).toBeLessThanOrEqual(12)
    expect(denied.headers.get('ratelimit-policy')).toBe('"gateway:tenant";q=5;w=60')
    expect(denied.headers.get('ratelimit')).toMatch(/^"gateway:tenant";r=0;t=\d+$/)
    // Other tenants are not affected.
    expect((await call('/v1/whoami', { token: await tokenFor(uniqueTenant('gw')) })).status).toBe(200)
  })
})

describe('gatewayRateLimit()', () => {
  it('limits per tenant, exactly, under 1,000 concurrent requests', async () => {
    const request = appWith({ tenantLimit: { limit: 100, periodMs: 3_600_000 }, ipLimit: 'off' })
    const tenant = uniqueTenant('gw')
    const responses = await Promise.all(
      Array.from({ length: 1000 }, () => request('/whoami', { 'x-test-tenant': tenant })),
    )
    const statuses = responses.map((response) => response.status)
    expect(statuses.filter((status) => status === 200).length).toBe(100)
    expect(statuses.filter((status) => status === 429).length).toBe(900)
  })

  it('sets the principal once, so requireScope does not verify the token again', async () => {
    const tenant = uniqueTenant('gw')
    const request = appWith(off)
    expect(
      await (await request('/whoami', { authorization: `Bearer ${await tokenFor(tenant)}` })).text(),
    ).toBe(tenant)
    expect(await (await request('/whoami')).text()).toBe('nobody')
    const reader = `Bearer ${await tokenFor(tenant, ['ratelimit:read'])}`
    expect((await request('/scoped', { authorization: reader })).status).toBe(200)
    expect((await request('/scoped', { authorization: 'Bearer not.a.token' })).status).toBe(401)
  })

  it('limits requests without a valid token per client address', async () => {
    const request = appWith({ tenantLimit: 'off', ipLimit: { limit: 2, periodMs: 60_000 } })
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}`
    const from = (headers: Record<string, string>) =>
      request('/open', headers).then((response) => response.status)
    expect([await from({ 'cf-connecting-ip': ip }), await from({ 'cf-connecting-ip': ip })]).toEqual([
      200, 200,
    ])
    expect(await from({ 'cf-connecting-ip': ip })).toBe(429)
    // An invalid token counts against the address, not against a tenant.
    expect(await from({ 'cf-connecting-ip': ip, authorization: 'Bearer a.b.c' })).toBe(429)
    expect(await from({ 'x-forwarded-for': `${ip}, 10.0.0.1` })).toBe(429)
    expect(await from({ 'cf-connecting-ip': '198.51.100.7', 'x-forwarded-for': ip })).toBe(200)
  })

  it('counts IPv6 clients per /64 network', async () => {
    const request = appWith({ tenantLimit: 'off', ipLimit: { limit: 1, periodMs: 60_000 } })
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`
    expect((await request('/open', { 'cf-connecting-ip': `${prefix}::1` })).status).toBe(200)
    expect((await request('/open', { 'cf-connecting-ip': `${prefix}:ffff:2:3:4` })).status).toBe(429)
  })

  it('gives tenants their override, and none to a tenant set to off', async () => {
    const limited = uniqueTenant('gw')
    const exempt = uniqueTenant('gw')
    const request = appWith({
      tenantLimit: { limit: 1, periodMs: 60_000 },
      tenantOverrides: { [exempt]: 'off', [limited]: { limit: 2, periodMs: 60_000 } },
    })
    const statuses = async (tenant: string, times: number) => {
      const authorization = `Bearer ${await tokenFor(tenant)}`
      const results: number[] = []
      for (let i = 0; i < times; i++) results.push((await request('/whoami', { authorization })).status)
      return results
    }
    expect(await statuses(limited, 3)).toEqual([200, 200, 429])
    expect(await statuses(exempt, 3)).toEqual([200, 200, 200])
    expect(
      (await request('/whoami', { authorization: `Bearer ${await tokenFor(exempt)}` })).headers.has(
        'ratelimit',
      ),
    ).toBe(false)
    expect(await statuses(uniqueTenant('gw'), 2)).toEqual([200, 429])
  })

  it('refuses bad options when it is created', () => {
    expect(() => gatewayRateLimit({ tenantLimit: { limit: 0, periodMs: 1000 } })).toThrow(/tenantLimit/)
    expect(() => gatewayRateLimit({ ipLimit: { limit: 5, periodMs: 0.5 } })).toThrow(/ipLimit/)
    expect(() => gatewayRateLimit({ tenantOverrides: { big: { limit: 2_000_000, periodMs: 1 } } })).toThrow(
      /big/,
    )
  })

  it('answers repeated denials from the denial cache, without an object call', async () => {
    const object = `_test:ratelimit-gateway:${crypto.randomUUID()}`
    const policy = { algorithm: 'gcra', limit: 1, periodMs: 60_000, fingerprint: 'gw-test' } as const
    expect((await admitThroughLease(env.RATELIMIT, policy, object)).reason).toBe('within_limit')
    expect((await admitThroughLease(env.RATELIMIT, policy, object)).reason).toBe('over_limit')
    expect((await admitThroughLease(env.RATELIMIT, policy, object)).reason).toBe('cached_denial')
  })
})

describe('clientAddress', () => {
  const address = (headers: Record<string, string>) => clientAddress(new Headers(headers))

  it.each([
    [{ 'cf-connecting-ip': '192.0.2.1' }, '192.0.2.1'],
    [{ 'cf-connecting-ip': ' 192.0.2.1 ', 'x-forwarded-for': '198.51.100.1' }, '192.0.2.1'],
    [{ 'x-forwarded-for': '198.51.100.1, 10.0.0.1' }, '198.51.100.1'],
    [{ 'cf-connecting-ip': '2001:DB8:0:1:2:3:4:5' }, '2001:db8:0:1::/64'],
    [{ 'cf-connecting-ip': '2001:db8::1' }, '2001:db8:0:0::/64'],
    [{ 'cf-connecting-ip': '::1' }, '0:0:0:0::/64'],
    [{ 'cf-connecting-ip': '::ffff:192.0.2.9' }, '192.0.2.9'],
    [{ 'cf-connecting-ip': '999.1.1.1' }, 'unknown'],
    [{ 'cf-connecting-ip': '1::2::3' }, 'unknown'],
    [{ 'cf-connecting-ip': 'not-an-address' }, 'unknown'],
    [{}, 'unknown'],
  ])('%o → %s', (headers, expected) => {
    expect(address(headers)).toBe(expected)
  })
})

/**
 * `POST /v1/ratelimit/check` end to end: exact counts under concurrency for every algorithm,
 * peeking, shadow mode, resets, headers, bad input, tenant isolation.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { checkKeys, findPolicy } from '../../workers/ratelimit/service'
import { call } from '../helpers'
import { check, newTenant, problemCode, putPolicy } from './api'

const ALGORITHMS = [
  'token-bucket',
  'leaky-bucket',
  'gcra',
  'fixed-window',
  'sliding-window-log',
  'sliding-window-counter',
] as const

/** Requests in flight at once over HTTP: auth reads libSQL per request, whose local server allows 256 streams. */
const HTTP_WAVE = 200

describe('exactness under concurrency', () => {
  it.each(ALGORITHMS)(
    '%s: 1,000 concurrent checks on a limit of 100 admit exactly 100',
    async (algorithm) => {
      const { tenant, token } = await newTenant()
      // A 7-day period: nothing refills while the test runs, and no window boundary passes.
      await putPolicy(token, 'api', { algorithm, limit: 100, period: '7d' })
      const policy = await findPolicy(env, tenant, 'api')
      if (!policy) throw new Error('the policy was just created')
      const decisions = await Promise.all(
        Array.from({ length: 1000 }, () => checkKeys(env, tenant, policy, ['k'], 1)),
      )
      const allowed = decisions.filter((decision) => decision.allowed)
      expect(allowed.length).toBe(100)
      // The remaining counts handed out are exactly 99, 98, ..., 0: one per admission.
      expect(allowed.map((decision) => decision.remaining).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      )
      const denied = decisions.filter((decision) => !decision.allowed)
      expect(denied.every((decision) => decision.retryAfterMs > 0 && decision.remaining === 0)).toBe(true)
      // Once the object has denied, this isolate answers from its denial cache — and still admits none.
      const after = await check(token, { policy: 'api', key: 'k' })
      expect(after.body).toMatchObject({ allowed: false, reason: 'cached_denial' })
      expect((await check(token, { policy: 'api', key: 'k', cost: 0 })).body.allowed).toBe(false)
    },
  )

  it('1,000 checks over HTTP, 200 at a time, admit exactly 100', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 100, period: '7d' })
    const results = []
    for (let wave = 0; wave < 1000 / HTTP_WAVE; wave++) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: HTTP_WAVE }, () => check(token, { policy: 'api', key: 'k' })),
        )),
      )
    }
    expect(results.filter((result) => result.status !== 200)).toEqual([])
    expect(results.filter((result) => result.body.allowed).length).toBe(100)
    expect(results.filter((result) => result.body.reason === 'cached_denial').length).toBeGreaterThan(600)
  })
})

describe('costs and peeking', () => {
  it('spends the cost, peeks with cost 0, and refuses a cost that could never fit', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 10, period: '7d' })
    expect((await check(token, { policy: 'api', key: 'k', cost: 7 })).body).toMatchObject({
      allowed: true,
      remaining: 3,
      reason: 'within_limit',
    })
    const peek = await check(token, { policy: 'api', key: 'k', cost: 0 })
    expect(peek.body).toMatchObject({ allowed: true, remaining: 3, reason: 'peek' })
    expect((await check(token, { policy: 'api', key: 'k', cost: 4 })).body).toMatchObject({
      allowed: false,
      remaining: 3,
      reason: 'over_limit',
      deniedKeys: ['k'],
    })
    expect((await check(token, { policy: 'api', key: 'k', cost: 3 })).body.allowed).toBe(true)
    const tooBig = await check(token, { policy: 'api', key: 'other', cost: 11 })
    expect(tooBig.status).toBe(400)
    expect(tooBig.body).toMatchObject({ errors: [{ path: 'body/cost' }] })
    expect((await check(token, { policy: 'api', key: 'other', cost: 0 })).body.remaining).toBe(10)
  })

  it('tells leaky-bucket callers how long to wait for their turn', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'queue', { algorithm: 'leaky-bucket', limit: 1, period: '1h', burst: 3 })
    const delays: number[] = []
    for (let i = 0; i < 3; i++) delays.push((await check(token, { policy: 'queue', key: 'k' })).body.delayMs)
    expect(delays[0]).toBe(0)
    expect(delays[1]).toBeGreaterThan(3_590_000)
    expect(delays[2]).toBeGreaterThan(7_190_000)
    expect((await check(token, { policy: 'queue', key: 'k' })).body.allowed).toBe(false)
  })
})

describe('shadow mode', () => {
  it('counts exactly like enforcing but never denies, and says what it would have done', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 2, period: '1h', shadow: true })
    const results = []
    for (let i = 0; i < 4; i++) results.push(await check(token, { policy: 'api', key: 'k' }))
    expect(results.map((result) => result.body.allowed)).toEqual([true, true, true, true])
    expect(results.map((result) => result.body.shadowDenied)).toEqual([false, false, true, true])
    expect(results[2]?.body).toMatchObject({
      shadow: true,
      reason: 'over_limit',
      remaining: 0,
      deniedKeys: ['k'],
    })
    expect(results[2]?.body.retryAfterMs).toBeGreaterThan(0)
    expect(results[2]?.headers.get('retry-after')).toBeNull()
    // Enforcing from now on: the counts made in shadow mode are the key's real state.
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 2, period: '1h', shadow: false })
    expect((await check(token, { policy: 'api', key: 'k' })).body).toMatchObject({
      allowed: false,
      shadow: false,
    })
  })
})

describe('resets and policy changes', () => {
  it('DELETE .../keys/{key} gives the key its full limit back, in spite of the denial cache', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'sliding-window-log', limit: 2, period: '1h' })
    const key = 'user/42 é'
    await check(token, { policy: 'api', key })
    await check(token, { policy: 'api', key })
    expect((await check(token, { policy: 'api', key })).body.reason).toBe('over_limit')
    expect((await check(token, { policy: 'api', key })).body.reason).toBe('cached_denial')
    const reset = await call(`/v1/ratelimit/policies/api/keys/${encodeURIComponent(key)}`, {
      method: 'DELETE',
      token,
    })
    expect(reset).toMatchObject({ status: 200, body: { policy: 'api', key, reset: true } })
    expect((await check(token, { policy: 'api', key })).body).toMatchObject({ allowed: true, remaining: 1 })
    const missing = await call('/v1/ratelimit/policies/nope/keys/k', { method: 'DELETE', token })
    expect(missing.status).toBe(404)
  })

  it('starts keys afresh when the limit changes', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'token-bucket', limit: 1, period: '1h' })
    await check(token, { policy: 'api', key: 'k' })
    expect((await check(token, { policy: 'api', key: 'k' })).body.allowed).toBe(false)
    await putPolicy(token, 'api', { algorithm: 'token-bucket', limit: 2, period: '1h' })
    expect((await check(token, { policy: 'api', key: 'k' })).body).toMatchObject({
      allowed: true,
      remaining: 1,
    })
  })
})

describe('headers', () => {
  it('carries RateLimit-Policy and RateLimit on admissions and denials, Retry-After on denials', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 2, period: '7d' })
    const admitted = await check(token, { policy: 'api', key: 'k' })
    expect(admitted.headers.get('ratelimit-policy')).toContain('"api";q=2;w=604800')
    expect(admitted.headers.get('ratelimit')).toMatch(/"api";r=1;t=\d+/)
    // The gateway's own quota sits beside it in the same structured-field list.
    expect(admitted.headers.get('ratelimit-policy')).toContain('"gateway:tenant";q=')
    expect(admitted.headers.get('retry-after')).toBeNull()
    await check(token, { policy: 'api', key: 'k' })
    const denied = await check(token, { policy: 'api', key: 'k' })
    expect(denied.status).toBe(200)
    expect(denied.body.allowed).toBe(false)
    expect(denied.headers.get('ratelimit')).toMatch(/"api";r=0;t=\d+/)
    expect(denied.headers.get('retry-after')).toBe(String(Math.ceil(denied.body.retryAfterMs / 1000)))
  })
})

describe('bad input', () => {
  it.each([
    ['no key', { policy: 'api' }],
    ['key and keys', { policy: 'api', key: 'a', keys: ['b'] }],
    ['empty keys', { policy: 'api', keys: [] }],
    ['17 keys', { policy: 'api', keys: Array.from({ length: 17 }, (_, i) => `k${i}`) }],
    ['duplicate keys', { policy: 'api', keys: ['a', 'a'] }],
    ['empty key', { policy: 'api', key: '' }],
    ['long key', { policy: 'api', key: 'x'.repeat(257) }],
    ['control character', { policy: 'api', key: 'a\nb' }],
    ['negative cost', { policy: 'api', key: 'a', cost: -1 }],
    ['fractional cost', { policy: 'api', key: 'a', cost: 0.5 }],
    ['bad policy name', { policy: '../x', key: 'a' }],
    ['unknown field', { policy: 'api', key: 'a', tenant: 'someone-else' }],
  ])('%s: 400, nothing spent', async (_, body) => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 5, period: '7d' })
    const response = await check(token, body)
    expect(response.status).toBe(400)
    expect(problemCode(response.body)).toBe('validation_failed')
    expect((await check(token, { policy: 'api', key: 'a', cost: 0 })).body.remaining).toBe(5)
  })

  it('needs the write scope', async () => {
    const reader = await newTenant(['ratelimit:read'])
    expect((await check(reader.token, { policy: 'api', key: 'a' })).status).toBe(403)
  })
})

describe('tenancy', () => {
  it("keeps tenant A's keys invisible to tenant B, even under the same policy and key names", async () => {
    const a = await newTenant()
    const b = await newTenant()
    await putPolicy(a.token, 'api', { algorithm: 'fixed-window', limit: 1, period: '7d' })
    await check(a.token, { policy: 'api', key: 'shared' })
    expect((await check(a.token, { policy: 'api', key: 'shared' })).body.allowed).toBe(false)
    expect((await check(b.token, { policy: 'api', key: 'shared' })).status).toBe(404)
    await putPolicy(b.token, 'api', { algorithm: 'fixed-window', limit: 1, period: '7d' })
    expect((await check(b.token, { policy: 'api', key: 'shared' })).body).toMatchObject({ allowed: true })
    // B resetting "its" key leaves A's untouched.
    await call('/v1/ratelimit/policies/api/keys/shared', { method: 'DELETE', token: b.token })
    expect((await check(a.token, { policy: 'api', key: 'shared', cost: 0 })).body.remaining).toBe(0)
  })
})

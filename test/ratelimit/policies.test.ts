/** Policies: create/replace, read, list, delete; every bad policy is a 400 that changes nothing. */
import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { check, newTenant, problemCode, putPolicy } from './api'

describe('PUT /v1/ratelimit/policies/{name}', () => {
  it('creates (201) then replaces (200), with the period as ms or a duration string', async () => {
    const { token } = await newTenant()
    const created = await putPolicy(token, 'api', {
      algorithm: 'token-bucket',
      limit: 100,
      period: '1m',
      burst: 20,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'api',
      algorithm: 'token-bucket',
      limit: 100,
      period: 60_000,
      burst: 20,
      shadow: false,
      version: 1,
    })
    const replaced = await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 10, period: 500 })
    expect(replaced.status).toBe(200)
    expect(replaced.body).toMatchObject({ algorithm: 'fixed-window', limit: 10, period: 500, version: 2 })
    expect(replaced.body).not.toHaveProperty('burst')
    for (const [period, ms] of [
      ['250ms', 250],
      ['30s', 30_000],
      ['2h', 7_200_000],
      ['7d', 604_800_000],
    ] as const) {
      const response = await putPolicy(token, 'api', { algorithm: 'gcra', limit: 1, period })
      expect(response.body.period).toBe(ms)
    }
  })

  it.each([
    ['limit 0', { algorithm: 'gcra', limit: 0, period: 1000 }, 'body/limit'],
    ['negative limit', { algorithm: 'gcra', limit: -5, period: 1000 }, 'body/limit'],
    ['fractional limit', { algorithm: 'gcra', limit: 1.5, period: 1000 }, 'body/limit'],
    ['limit over the bound', { algorithm: 'gcra', limit: 1_000_001, period: 1000 }, 'body/limit'],
    ['zero period', { algorithm: 'gcra', limit: 5, period: 0 }, 'body/period'],
    ['zero duration', { algorithm: 'gcra', limit: 5, period: '0s' }, 'body/period'],
    ['period over 7 days', { algorithm: 'gcra', limit: 5, period: '8d' }, 'body/period'],
    ['bad duration', { algorithm: 'gcra', limit: 5, period: '1 minute' }, 'body/period'],
    ['unknown algorithm', { algorithm: 'leaky-faucet', limit: 5, period: 1000 }, 'body/algorithm'],
    ['burst 0', { algorithm: 'token-bucket', limit: 5, period: 1000, burst: 0 }, 'body/burst'],
    ['burst on a window', { algorithm: 'fixed-window', limit: 5, period: 1000, burst: 5 }, 'body/burst'],
    ['big sliding log', { algorithm: 'sliding-window-log', limit: 5000, period: 1000 }, 'body/limit'],
    ['unknown field', { algorithm: 'gcra', limit: 5, period: 1000, brust: 3 }, 'body/brust'],
    ['missing period', { algorithm: 'gcra', limit: 5 }, 'body/period'],
  ])('rejects %s with 400 and keeps the stored policy', async (_, body, path) => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 7, period: 1000 })
    const response = await putPolicy(token, 'api', body)
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(problemCode(response.body)).toBe('validation_failed')
    expect((response.body.errors as Array<{ path: string }>).map((error) => error.path)).toContain(path)
    const stored = await call('/v1/ratelimit/policies/api', { token })
    expect(stored.body).toMatchObject({ algorithm: 'gcra', limit: 7, period: 1000, version: 1 })
  })

  it('rejects a bad name and needs the write scope', async () => {
    const { token } = await newTenant()
    expect((await putPolicy(token, '-bad', { algorithm: 'gcra', limit: 1, period: 1000 })).status).toBe(400)
    const reader = await newTenant(['ratelimit:read'])
    const denied = await putPolicy(reader.token, 'api', { algorithm: 'gcra', limit: 1, period: 1000 })
    expect(denied.status).toBe(403)
    expect((await call('/v1/ratelimit/policies/api', { method: 'PUT', body: {} })).status).toBe(401)
  })
})

describe('GET, list and DELETE', () => {
  it('lists by name with an opaque cursor', async () => {
    const { token } = await newTenant()
    const names = ['e', 'a', 'd', 'b', 'c']
    for (const name of names)
      await putPolicy(token, name, { algorithm: 'fixed-window', limit: 1, period: '1s' })
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const query = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2'
      const page = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(
        `/v1/ratelimit/policies${query}`,
        { token },
      )
      expect(page.status).toBe(200)
      expect(page.body.items.length).toBeLessThanOrEqual(2)
      seen.push(...page.body.items.map((item) => item.name))
      cursor = page.body.nextCursor
    } while (cursor)
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect((await call('/v1/ratelimit/policies?cursor=%%%', { token })).status).toBe(400)
  })

  it('reads with the read scope, deletes with the write scope, then 404', async () => {
    const { tenant, token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 3, period: '1s', shadow: true })
    const { tokenFor } = await import('../helpers')
    const reader = await tokenFor(tenant, ['ratelimit:read'])
    expect((await call('/v1/ratelimit/policies/api', { token: reader })).body).toMatchObject({ shadow: true })
    expect((await call('/v1/ratelimit/policies/api', { method: 'DELETE', token: reader })).status).toBe(403)
    const deleted = await call('/v1/ratelimit/policies/api', { method: 'DELETE', token })
    expect(deleted).toMatchObject({ status: 200, body: { deleted: true } })
    expect((await call('/v1/ratelimit/policies/api', { token })).status).toBe(404)
    expect((await call('/v1/ratelimit/policies/api', { method: 'DELETE', token })).status).toBe(404)
    expect((await check(token, { policy: 'api', key: 'k' })).status).toBe(404)
  })

  it("keeps each tenant's policies invisible to the others", async () => {
    const a = await newTenant()
    const b = await newTenant()
    await putPolicy(a.token, 'private', { algorithm: 'gcra', limit: 3, period: '1s' })
    expect((await call('/v1/ratelimit/policies/private', { token: b.token })).status).toBe(404)
    const listed = await call<{ items: unknown[] }>('/v1/ratelimit/policies', { token: b.token })
    expect(listed.body.items).toEqual([])
    expect((await call('/v1/ratelimit/policies/private', { method: 'DELETE', token: b.token })).status).toBe(
      404,
    )
    expect((await call('/v1/ratelimit/policies/private', { token: a.token })).status).toBe(200)
  })
})

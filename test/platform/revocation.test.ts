import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { isRevoked } from '../../workers/platform/auth/revocation'
import { database, tables } from '../../workers/platform/db'
import { uniqueTenant } from '../helpers'

describe('revocation bound', () => {
  it('takes effect in another isolate within REVOCATION_CACHE_SECONDS', async () => {
    const tenant = uniqueTenant()
    const tokenId = crypto.randomUUID()
    const cacheSeconds = 5
    const t0 = 1_800_000_000_000
    expect(await isRevoked(env, tenant, tokenId, cacheSeconds, t0)).toBe(false)
    // Another isolate revokes: the row appears, this isolate's cache is not told.
    await database(env)
      .insert(tables.tokenRevocations)
      .values({ tenant, tokenId, expiresAt: t0 / 1000 + 3600, revokedAt: t0 })
    expect(await isRevoked(env, tenant, tokenId, cacheSeconds, t0 + 4_999)).toBe(false)
    expect(await isRevoked(env, tenant, tokenId, cacheSeconds, t0 + 5_000)).toBe(true)
  })

  it('with a zero cache, takes effect on the next request', async () => {
    const tenant = uniqueTenant()
    const tokenId = crypto.randomUUID()
    expect(await isRevoked(env, tenant, tokenId, 0)).toBe(false)
    await database(env)
      .insert(tables.tokenRevocations)
      .values({ tenant, tokenId, expiresAt: Math.floor(Date.now() / 1000) + 60, revokedAt: Date.now() })
    expect(await isRevoked(env, tenant, tokenId, 0)).toBe(true)
  })
})

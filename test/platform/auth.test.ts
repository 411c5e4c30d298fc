import { env } from 'cloudflare:test'
import { eq } from 'drizzle-orm'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { revokeToken } from '../../workers/platform/auth/revocation'
import { database, tables } from '../../workers/platform/db'
import { call, tokenFor, uniqueTenant } from '../helpers'

const secret = new TextEncoder().encode(env.JWT_SECRET)
const now = () => Math.floor(Date.now() / 1000)

function claims(tenant: string, scope = 'admin') {
  return new SignJWT({ scope }).setSubject(tenant).setJti(crypto.randomUUID()).setIssuedAt()
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

async function whoami(token: string | undefined, raw?: string) {
  return call('/v1/whoami', { headers: raw ? { authorization: raw } : {}, ...(token ? { token } : {}) })
}

function expectUnauthorized(result: { status: number; headers: Headers; body: Record<string, unknown> }) {
  expect(result.status).toBe(401)
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer/)
  expect(result.headers.get('content-type')).toBe('application/problem+json')
  expect(result.body).toMatchObject({ type: 'urn:edgeblocks:problem:unauthorized', status: 401 })
}

describe('bearer tokens', () => {
  it('accepts a valid token and exposes its tenant and scopes', async () => {
    const tenant = uniqueTenant()
    const { status, body } = await whoami(await tokenFor(tenant, ['queue:read', 'queue:write']))
    expect(status).toBe(200)
    expect(body).toMatchObject({ tenant, scopes: ['queue:read', 'queue:write'] })
  })

  it('refuses a request without a token, with WWW-Authenticate: Bearer', async () => {
    const result = await whoami(undefined)
    expectUnauthorized(result)
    expect(result.headers.get('www-authenticate')).toBe('Bearer')
  })

  it('refuses a malformed Authorization header', async () => {
    expectUnauthorized(await whoami(undefined, 'Basic dXNlcjpwYXNz'))
    expectUnauthorized(await whoami(undefined, 'Bearer not-a-jwt'))
  })

  it('refuses an expired token', async () => {
    const token = await claims(uniqueTenant())
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() - 10)
      .sign(secret)
    const result = await whoami(token)
    expectUnauthorized(result)
    expect(result.body.detail).toMatch(/expired/)
  })

  it('refuses a token that is not yet valid', async () => {
    const token = await claims(uniqueTenant())
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(now() + 600)
      .setExpirationTime(now() + 3600)
      .sign(secret)
    expectUnauthorized(await whoami(token))
  })

  it('refuses a token without exp or jti', async () => {
    const noExp = await new SignJWT({ scope: 'admin' })
      .setSubject(uniqueTenant())
      .setJti(crypto.randomUUID())
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret)
    expectUnauthorized(await whoami(noExp))
    const noJti = await new SignJWT({ scope: 'admin' })
      .setSubject(uniqueTenant())
      .setExpirationTime(now() + 60)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret)
    expectUnauthorized(await whoami(noJti))
  })

  it('refuses a token signed with another secret', async () => {
    const token = await claims(uniqueTenant())
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 3600)
      .sign(new TextEncoder().encode('another-secret-another-secret-0000'))
    expectUnauthorized(await whoami(token))
  })

  it('refuses alg: none', async () => {
    const payload = { sub: uniqueTenant(), scope: 'admin', jti: crypto.randomUUID(), exp: now() + 3600 }
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`
    expectUnauthorized(await whoami(token))
  })

  it('refuses HS512 although HS256 is configured with the same secret', async () => {
    const token = await claims(uniqueTenant())
      .setProtectedHeader({ alg: 'HS512' })
      .setExpirationTime(now() + 3600)
      .sign(secret)
    expectUnauthorized(await whoami(token))
  })

  it('refuses a tenant outside the pattern', async () => {
    for (const tenant of ['UPPER', '-leading', 'a'.repeat(64), 'with space', '']) {
      const token = await claims(tenant)
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(now() + 3600)
        .sign(secret)
      expectUnauthorized(await whoami(token))
    }
  })

  it('answers 403 for a valid token without the scope', async () => {
    const token = await tokenFor(uniqueTenant(), ['queue:read'])
    const { status, body, headers } = await call(`/v1/tokens/${crypto.randomUUID()}`, {
      method: 'DELETE',
      token,
    })
    expect(status).toBe(403)
    expect(headers.get('www-authenticate')).toMatch(/insufficient_scope/)
    expect(body).toMatchObject({ type: 'urn:edgeblocks:problem:forbidden', status: 403 })
  })
})

describe('POST /v1/tokens', () => {
  it('mints a working token with the root key', async () => {
    const tenant = uniqueTenant()
    const { status, body } = await call<{
      token: string
      tokenId: string
      expiresAt: number
      scopes: string[]
    }>('/v1/tokens', {
      body: { tenant, scopes: ['counters:read', 'counters:read', 'admin'], ttlSeconds: 600 },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect(status).toBe(201)
    expect(body.scopes).toEqual(['counters:read', 'admin'])
    expect(body.expiresAt - now()).toBeGreaterThan(590)
    expect(body.expiresAt - now()).toBeLessThanOrEqual(600)
    const me = await whoami(body.token)
    expect(me.body).toMatchObject({ tenant, tokenId: body.tokenId })
  })

  it('refuses to mint without the root key or with a JWT', async () => {
    const body = { tenant: uniqueTenant(), scopes: ['admin'] }
    expectUnauthorized(await call('/v1/tokens', { body }))
    expectUnauthorized(
      await call('/v1/tokens', { body, headers: { authorization: 'Bearer wrong-root-key-000000' } }),
    )
    expectUnauthorized(await call('/v1/tokens', { body, token: await tokenFor(uniqueTenant()) }))
  })

  it('refuses a lifetime over the configured maximum', async () => {
    const { status, body } = await call('/v1/tokens', {
      body: { tenant: uniqueTenant(), scopes: ['admin'], ttlSeconds: 364 * 24 * 3600 },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect(status).toBe(400)
    expect(body).toMatchObject({ errors: [{ path: 'body/ttlSeconds' }] })
  })
})

describe('DELETE /v1/tokens/{tokenId}', () => {
  it('revokes a token of the same tenant: it is refused from then on', async () => {
    const tenant = uniqueTenant()
    const minted = await call<{ token: string; tokenId: string }>('/v1/tokens', {
      body: { tenant, scopes: ['queue:read'] },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect((await whoami(minted.body.token)).status).toBe(200)
    const admin = await tokenFor(tenant, ['admin'])
    const revoked = await call(`/v1/tokens/${minted.body.tokenId}`, { method: 'DELETE', token: admin })
    expect(revoked.status).toBe(200)
    expect(revoked.body).toEqual({ tokenId: minted.body.tokenId, revoked: true })
    const after = await whoami(minted.body.token)
    expectUnauthorized(after)
    expect(after.body.detail).toMatch(/revoked/)
  })

  it("cannot revoke another tenant's token", async () => {
    const victim = uniqueTenant()
    const minted = await call<{ token: string; tokenId: string }>('/v1/tokens', {
      body: { tenant: victim, scopes: ['queue:read'] },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    const attacker = await tokenFor(uniqueTenant(), ['admin'])
    const refused = await call(`/v1/tokens/${minted.body.tokenId}`, { method: 'DELETE', token: attacker })
    expect(refused.status).toBe(404)
    expect(refused.headers.get('content-type')).toBe('application/problem+json')
    expect((await whoami(minted.body.token)).status).toBe(200)
  })

  it('answers 404 for an id that was never issued, and stores nothing', async () => {
    const tenant = uniqueTenant()
    const tokenId = crypto.randomUUID()
    const admin = await tokenFor(tenant, ['admin'])
    const { status, body } = await call(`/v1/tokens/${tokenId}`, { method: 'DELETE', token: admin })
    expect(status).toBe(404)
    expect(body).toMatchObject({ type: 'urn:edgeblocks:problem:not_found', status: 404 })
    const rows = await database(env)
      .select()
      .from(tables.tokenRevocations)
      .where(eq(tables.tokenRevocations.tenant, tenant))
    expect(rows).toEqual([])
  })

  it('keeps the revocation until the token expires, then removes both rows', async () => {
    const tenant = uniqueTenant()
    const minted = await call<{ tokenId: string; expiresAt: number }>('/v1/tokens', {
      body: { tenant, scopes: ['queue:read'], ttlSeconds: 60 },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    const issued = await database(env)
      .select()
      .from(tables.issuedTokens)
      .where(eq(tables.issuedTokens.tokenId, minted.body.tokenId))
    expect(issued).toMatchObject([{ tenant, expiresAt: minted.body.expiresAt }])
    await revokeToken(env, tenant, minted.body.tokenId)
    const revoked = await database(env)
      .select()
      .from(tables.tokenRevocations)
      .where(eq(tables.tokenRevocations.tokenId, minted.body.tokenId))
    expect(revoked).toMatchObject([{ tenant, expiresAt: minted.body.expiresAt }])
    // After the expiry: the id is no longer revocable and the next revocation sweeps both rows.
    const later = (minted.body.expiresAt + 1) * 1000
    await expect(revokeToken(env, tenant, minted.body.tokenId, later)).rejects.toMatchObject({ status: 404 })
    const other = await call<{ tokenId: string }>('/v1/tokens', {
      body: { tenant, scopes: ['queue:read'], ttlSeconds: 3600 },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    await revokeToken(env, tenant, other.body.tokenId, later)
    for (const table of [tables.issuedTokens, tables.tokenRevocations]) {
      const left = await database(env).select().from(table).where(eq(table.tokenId, minted.body.tokenId))
      expect(left).toEqual([])
    }
  })

  it('rejects a token id that is not a UUID', async () => {
    const { status } = await call('/v1/tokens/not-a-uuid', {
      method: 'DELETE',
      token: await tokenFor(uniqueTenant()),
    })
    expect(status).toBe(400)
  })
})

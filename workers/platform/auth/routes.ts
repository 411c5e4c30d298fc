/**
 * Token routes. `POST /v1/tokens` mints a token for any tenant and is authorised by the
 * root key (`Authorization: Bearer <ROOT_KEY>`, compared in constant time), not by a JWT.
 * `DELETE /v1/tokens/{tokenId}` revokes one of the caller's own tenant's issued tokens (admin).
 */
import { Hono } from 'hono'
import { MintedToken, MintTokenRequest, Revoked, TokenIdParam } from '../../../schemas/platform'
import { readConfig } from '../config'
import { AppError } from '../errors'
import { describe } from '../openapi'
import { tenantOf } from '../tenancy'
import { validate } from '../validation'
import { type AuthEnv, requireScope } from './middleware'
import { recordIssuedToken, revokeToken } from './revocation'
import { mintToken } from './token'

const encoder = new TextEncoder()

/** Compares two secrets without leaking where they differ (timing-safe for equal lengths). */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ])
  const x = new Uint8Array(a)
  const y = new Uint8Array(b)
  let difference = 0
  for (let i = 0; i < x.length; i++) difference |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return difference === 0
}

export const tokenRoutes = new Hono<AuthEnv>()
  .post(
    '/',
    describe({
      tags: ['tokens'],
      summary: 'Mint an access token for a tenant (root key)',
      auth: 'root',
      description:
        'Authorise with `Authorization: Bearer <ROOT_KEY>`. The TTL is capped by TOKEN_MAX_TTL_SECONDS.',
      responses: { 201: { description: 'The token', schema: MintedToken } },
      problems: [401],
    }),
    validate('json', MintTokenRequest),
    async function mintTokenRoute(c) {
      const config = readConfig(c.env)
      const given = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1]
      if (!given || !(await sameSecret(given, config.rootKey))) {
        throw new AppError('unauthorized', 'Minting tokens needs the root key as a bearer token.', {
          headers: { 'WWW-Authenticate': 'Bearer realm="root"' },
        })
      }
      const request = c.req.valid('json')
      if (request.ttlSeconds > config.tokenMaxTtlSeconds) {
        throw new AppError('validation_failed', 'The requested lifetime is over the configured maximum.', {
          errors: [{ path: 'body/ttlSeconds', message: `At most ${config.tokenMaxTtlSeconds}` }],
        })
      }
      const scopes = [...new Set(request.scopes)]
      const minted = await mintToken(config.jwtSecret, {
        tenant: request.tenant,
        scopes,
        ttlSeconds: request.ttlSeconds,
      })
      await recordIssuedToken(c.env, request.tenant, minted.tokenId, minted.expiresAt)
      return c.json(
        {
          token: minted.token,
          tokenType: 'Bearer' as const,
          tokenId: minted.tokenId,
          tenant: request.tenant,
          scopes,
          expiresAt: minted.expiresAt,
        },
        201,
      )
    },
  )
  .delete(
    '/:tokenId',
    describe({
      tags: ['tokens'],
      summary: "Revoke one of the tenant's tokens",
      scope: 'admin',
      description:
        'Only a token minted by `POST /v1/tokens` for this tenant and not yet expired can be revoked; any other id is a 404.',
      responses: { 200: { description: 'Revoked', schema: Revoked } },
      problems: [404],
    }),
    requireScope('admin'),
    validate('param', TokenIdParam),
    async function revokeTokenRoute(c) {
      const { tokenId } = c.req.valid('param')
      await revokeToken(c.env, tenantOf(c), tokenId)
      return c.json({ tokenId, revoked: true as const })
    },
  )

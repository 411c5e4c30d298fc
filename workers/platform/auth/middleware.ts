/**
 * `requireScope(scope)`: the route's gate. It authenticates the bearer token (signature,
 * algorithm, time window, claims, revocation), then checks the scope, and exposes the
 * verified `principal` to handlers. 401 with `WWW-Authenticate: Bearer` for a missing,
 * malformed, invalid or revoked token; 403 for a valid token without the scope.
 */
import type { MiddlewareHandler } from 'hono'
import { readConfig } from '../config'
import type { Env } from '../env'
import { AppError } from '../errors'
import { isRevoked } from './revocation'
import { hasScope, type Principal, SCOPE_PATTERN, verifyToken } from './token'

export interface AuthVariables {
  principal: Principal
}

export type AuthEnv = { Bindings: Env; Variables: AuthVariables }

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/

/** Reads `Authorization: Bearer <jwt>` and verifies it; throws 401 AppErrors. */
export async function authenticate(env: Env, authorization: string | undefined): Promise<Principal> {
  if (!authorization) {
    throw new AppError('unauthorized', 'This route needs a bearer token.', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    })
  }
  const match = BEARER.exec(authorization)
  if (!match?.[1]) {
    throw new AppError('unauthorized', 'The Authorization header is not "Bearer <token>".', {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_request"' },
    })
  }
  const config = readConfig(env)
  const principal = await verifyToken(config.jwtSecret, match[1])
  if (await isRevoked(env, principal.tenant, principal.tokenId, config.revocationCacheSeconds)) {
    throw new AppError('unauthorized', 'The token has been revoked.', {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    })
  }
  return principal
}

export function requireScope(scope: string): MiddlewareHandler<AuthEnv> {
  if (!SCOPE_PATTERN.test(scope)) {
    throw new Error(`requireScope: "${scope}" is not a valid scope`)
  }
  return async function requireScopeMiddleware(c, next) {
    const principal = c.get('principal') ?? (await authenticate(c.env, c.req.header('authorization')))
    c.set('principal', principal)
    if (!hasScope(principal, scope)) {
      throw new AppError('forbidden', `This route needs the "${scope}" scope.`, {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      })
    }
    await next()
  }
}

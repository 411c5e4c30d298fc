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
import type { AuthEnv } from './auth-env'
import { isRevoked } from './revocation'
import { redeemTicket } from './tickets'
import { hasScope, type Principal, SCOPE_PATTERN, verifyToken } from './token'

/** Re-exported so routes take the env type from where they take `requireScope`. */
export type { AuthEnv, AuthVariables } from './auth-env'

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

/**
 * The principal of a request: its bearer token; or, for a GET without `Authorization` (a
 * browser's WebSocket or EventSource), a stream ticket in `?ticket=` minted for exactly this
 * path, redeemed once. Throws 401 AppErrors.
 */
export async function authenticateRequest(env: Env, request: Request): Promise<Principal> {
  const authorization = request.headers.get('authorization') ?? undefined
  if (authorization === undefined && request.method === 'GET') {
    const url = new URL(request.url)
    const ticket = url.searchParams.get('ticket')
    if (ticket !== null) return redeemTicket(env, ticket, url.pathname)
  }
  return authenticate(env, authorization)
}

/** Whether a request carries credentials `authenticateRequest` would look at. */
export function carriesCredentials(request: Request): boolean {
  if (request.headers.has('authorization')) return true
  return request.method === 'GET' && new URL(request.url).searchParams.has('ticket')
}

export function requireScope(scope: string): MiddlewareHandler<AuthEnv> {
  if (!SCOPE_PATTERN.test(scope)) {
    throw new Error(`requireScope: "${scope}" is not a valid scope`)
  }
  return async function requireScopeMiddleware(c, next) {
    const principal = c.get('principal') ?? (await authenticateRequest(c.env, c.req.raw))
    c.set('principal', principal)
    if (!hasScope(principal, scope)) {
      throw new AppError('forbidden', `This route needs the "${scope}" scope.`, {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      })
    }
    await next()
  }
}

/**
 * Access tokens: HS256 JWTs signed with `JWT_SECRET`.
 *
 * Guarantees: a token verifies only if it is HS256 (no `none`, no other algorithm, even
 * HS512 with the same secret), correctly signed, inside its `nbf`..`exp` window and carries
 * `sub` (a tenant matching TENANT_PATTERN), `jti` and a well-formed `scope`. The tenant of
 * a verified token is the only tenant its requests can reach.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { SCOPE_PATTERN, TENANT_PATTERN } from '../../../schemas/platform'
import { AppError } from '../errors'

export const JWT_ALGORITHM = 'HS256'
/** The `typ` of stream tickets (tickets.ts): signed with the same key, never accepted as a token. */
export const TICKET_TYPE = 'stream-ticket+jwt'
export { SCOPE_PATTERN, TENANT_PATTERN }

export interface Principal {
  tenant: string
  scopes: ReadonlySet<string>
  tokenId: string
  /** Expiry, seconds since the epoch. */
  expiresAt: number
}

export interface MintRequest {
  tenant: string
  scopes: string[]
  ttlSeconds: number
  /** Seconds since the epoch; injected for tests. */
  now?: number
}

export interface MintedToken {
  token: string
  tokenId: string
  expiresAt: number
}

const encoder = new TextEncoder()
const keyCache = new Map<string, Uint8Array>()

function keyFor(secret: string): Uint8Array {
  let key = keyCache.get(secret)
  if (!key) {
    key = encoder.encode(secret)
    keyCache.set(secret, key)
  }
  return key
}

export async function mintToken(secret: string, request: MintRequest): Promise<MintedToken> {
  const now = request.now ?? Math.floor(Date.now() / 1000)
  const tokenId = crypto.randomUUID()
  const expiresAt = now + request.ttlSeconds
  const token = await new SignJWT({ scope: request.scopes.join(' ') })
    .setProtectedHeader({ alg: JWT_ALGORITHM, typ: 'JWT' })
    .setSubject(request.tenant)
    .setJti(tokenId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(expiresAt)
    .sign(keyFor(secret))
  return { token, tokenId, expiresAt }
}

const unauthorized = (detail: string) =>
  new AppError('unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } })

export async function verifyToken(secret: string, token: string, now?: number): Promise<Principal> {
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload']
  let typ: string | undefined
  try {
    ;({
      payload,
      protectedHeader: { typ },
    } = await jwtVerify(token, keyFor(secret), {
      algorithms: [JWT_ALGORITHM],
      requiredClaims: ['exp', 'sub', 'jti'],
      ...(now !== undefined ? { currentDate: new Date(now * 1000) } : {}),
    }))
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw unauthorized('The token has expired.')
    if (error instanceof joseErrors.JWTClaimValidationFailed)
      throw unauthorized(`Token claim rejected: ${error.message}`)
    if (error instanceof joseErrors.JOSEAlgNotAllowed)
      throw unauthorized(`Only ${JWT_ALGORITHM} tokens are accepted.`)
    throw unauthorized('The token is malformed or its signature is invalid.')
  }
  if (typ === TICKET_TYPE) throw unauthorized('A stream ticket is not an access token.')
  const tenant = payload.sub ?? ''
  if (!TENANT_PATTERN.test(tenant)) throw unauthorized('The token subject is not a valid tenant name.')
  const scope = typeof payload.scope === 'string' ? payload.scope : ''
  const scopes = scope.split(' ').filter(Boolean)
  if (!scopes.every((s) => SCOPE_PATTERN.test(s))) throw unauthorized('The token scope is malformed.')
  return { tenant, scopes: new Set(scopes), tokenId: String(payload.jti), expiresAt: Number(payload.exp) }
}

/** `admin` grants everything; otherwise the exact scope is needed (`x:write` does not imply `x:read`). */
export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has('admin') || principal.scopes.has(scope)
}

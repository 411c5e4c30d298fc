/**
 * Stream tickets: how a browser opens a stream. A browser's `WebSocket` and `EventSource`
 * cannot send `Authorization`, so a page first mints a ticket with its bearer token
 * (`POST /v1/stream-tickets`) and opens the stream with `?ticket=<ticket>`.
 *
 * Guarantees: a ticket is an HS256 JWT of its own type (`stream-ticket+jwt`), so it never
 * passes as an access token and an access token never passes as a ticket. It carries the
 * minting token's tenant and scopes (never more), the minting token's id and exactly one
 * path, and lives at most 60 s. It opens that path once: a GET with another path, a second
 * use (recorded in the tenant's `StreamTicketLedger` before the stream opens), an expired
 * ticket and a ticket whose minting token was revoked are refused with 401.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { readConfig } from '../config'
import type { Env } from '../env'
import { AppError } from '../errors'
import { objectStub } from '../tenancy'
import { isRevoked } from './revocation'
import { JWT_ALGORITHM, type Principal, TICKET_TYPE } from './token'

export interface TicketClaims {
  principal: Principal
  /** The ticket's own id (single use is recorded under it). */
  ticketId: string
  path: string
}

const encoder = new TextEncoder()

const refused = (detail: string) =>
  new AppError('unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } })

export async function mintTicket(
  secret: string,
  principal: Principal,
  path: string,
  ttlSeconds: number,
  now = Math.floor(Date.now() / 1000),
): Promise<{ ticket: string; expiresAt: number }> {
  // Never outlive the token that minted it.
  const expiresAt = Math.min(now + ttlSeconds, principal.expiresAt)
  const ticket = await new SignJWT({ scope: [...principal.scopes].join(' '), path, tid: principal.tokenId })
    .setProtectedHeader({ alg: JWT_ALGORITHM, typ: TICKET_TYPE })
    .setSubject(principal.tenant)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(encoder.encode(secret))
  return { ticket, expiresAt }
}

/** Checks the signature, type, lifetime and path of a ticket; single use is the ledger's job. */
export async function verifyTicket(
  secret: string,
  ticket: string,
  path: string,
  now?: number,
): Promise<TicketClaims> {
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload']
  try {
    ;({ payload } = await jwtVerify(ticket, encoder.encode(secret), {
      algorithms: [JWT_ALGORITHM],
      typ: TICKET_TYPE,
      requiredClaims: ['exp', 'sub', 'jti', 'path', 'tid'],
      ...(now !== undefined ? { currentDate: new Date(now * 1000) } : {}),
    }))
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw refused('The stream ticket has expired.')
    throw refused('The stream ticket is malformed or its signature is invalid.')
  }
  if (payload.path !== path) throw refused('The stream ticket was minted for another path.')
  const scope = typeof payload.scope === 'string' ? payload.scope : ''
  return {
    principal: {
      tenant: String(payload.sub),
      scopes: new Set(scope.split(' ').filter(Boolean)),
      tokenId: String(payload.tid),
      expiresAt: Number(payload.exp),
    },
    ticketId: String(payload.jti),
    path,
  }
}

/** Verifies a ticket for `path`, checks its minting token is not revoked, and uses it up. */
export async function redeemTicket(env: Env, ticket: string, path: string): Promise<Principal> {
  const config = readConfig(env)
  const { principal, ticketId } = await verifyTicket(config.jwtSecret, ticket, path)
  if (await isRevoked(env, principal.tenant, principal.tokenId, config.revocationCacheSeconds)) {
    throw refused('The token that minted this stream ticket has been revoked.')
  }
  const ledger = objectStub(env.STREAM_TICKETS, principal.tenant, 'stream-tickets', 'ledger')
  if (!(await ledger.redeem(ticketId, principal.expiresAt * 1000))) {
    throw refused('The stream ticket has already been used.')
  }
  return principal
}

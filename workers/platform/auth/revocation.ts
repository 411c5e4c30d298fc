/**
 * Token revocation. A revoked token id is stored in libSQL until the token would have
 * expired. Each isolate remembers "not revoked" answers for `REVOCATION_CACHE_SECONDS`, so
 * a revocation takes effect everywhere within that bound (immediately in the isolate that
 * revoked it); the cache is what keeps a libSQL round-trip off every request.
 */
import { and, eq, lt } from 'drizzle-orm'
import { database, tables } from '../db'
import type { Env } from '../env'
import { AppError } from '../errors'
import { IsolateCache } from '../isolate-cache'

const { tokenRevocations } = tables

/** tenant \n tokenId → "not revoked", trusted for the configured seconds. */
const notRevoked = new IsolateCache<true>(0)

const cacheKey = (tenant: string, tokenId: string) => `${tenant}\n${tokenId}`

export async function isRevoked(
  env: Env,
  tenant: string,
  tokenId: string,
  cacheSeconds: number,
  now = Date.now(),
): Promise<boolean> {
  const key = cacheKey(tenant, tokenId)
  if (notRevoked.lookup(key, now)) return false
  let rows: unknown[]
  try {
    rows = await database(env)
      .select({ tokenId: tokenRevocations.tokenId })
      .from(tokenRevocations)
      .where(and(eq(tokenRevocations.tenant, tenant), eq(tokenRevocations.tokenId, tokenId)))
      .limit(1)
  } catch {
    // Fail closed, and say it is temporary: the request may be retried.
    throw new AppError('unavailable', 'The token store could not be reached; retry shortly.', {
      headers: { 'Retry-After': '1' },
    })
  }
  if (rows.length > 0) return true
  if (cacheSeconds > 0) notRevoked.set(key, true, now, cacheSeconds * 1000)
  return false
}

/** Revokes a token id of a tenant; idempotent. `expiresAt` in seconds since the epoch. */
export async function revokeToken(
  env: Env,
  tenant: string,
  tokenId: string,
  expiresAt: number,
  now = Date.now(),
): Promise<void> {
  const db = database(env)
  await db
    .insert(tokenRevocations)
    .values({ tenant, tokenId, expiresAt, revokedAt: now })
    .onConflictDoNothing()
  await db.delete(tokenRevocations).where(lt(tokenRevocations.expiresAt, Math.floor(now / 1000)))
  notRevoked.delete(cacheKey(tenant, tokenId))
}

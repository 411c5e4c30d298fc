/**
 * Token revocation. Minting records each token id with its expiry (`recordIssuedToken`);
 * only a recorded, unexpired id of the caller's tenant can be revoked, and the revocation
 * row lives until the token expires, when both rows are removed (a tenant cannot grow the
 * tables with made-up ids). Each isolate remembers "not revoked" answers for `REVOCATION_CACHE_SECONDS`, so
 * a revocation takes effect everywhere within that bound (immediately in the isolate that
 * revoked it); the cache is what keeps a libSQL round-trip off every request.
 */
import { and, eq, gt, lte } from 'drizzle-orm'
import { database, tables } from '../db'
import type { Env } from '../env'
import { AppError } from '../errors'
import { IsolateCache } from '../isolate-cache'

const { issuedTokens, tokenRevocations } = tables

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

/** Records a minted token id (at mint time) so it can be revoked later. `expiresAt` in seconds. */
export async function recordIssuedToken(
  env: Env,
  tenant: string,
  tokenId: string,
  expiresAt: number,
  now = Date.now(),
): Promise<void> {
  await database(env).insert(issuedTokens).values({ tenant, tokenId, expiresAt, issuedAt: now })
}

/**
 * Revokes a token the tenant was issued; idempotent. Throws 404 for an id that was never
 * issued to this tenant or has expired. Removes every expired issue and revocation row.
 */
export async function revokeToken(
  env: Env,
  tenant: string,
  tokenId: string,
  now = Date.now(),
): Promise<void> {
  const db = database(env)
  const nowSeconds = Math.floor(now / 1000)
  const [issued] = await db
    .select({ expiresAt: issuedTokens.expiresAt })
    .from(issuedTokens)
    .where(
      and(
        eq(issuedTokens.tenant, tenant),
        eq(issuedTokens.tokenId, tokenId),
        gt(issuedTokens.expiresAt, nowSeconds),
      ),
    )
    .limit(1)
  if (!issued) throw new AppError('not_found', `No unexpired token "${tokenId}" was issued to this tenant.`)
  await db.batch([
    db
      .insert(tokenRevocations)
      .values({ tenant, tokenId, expiresAt: issued.expiresAt, revokedAt: now })
      .onConflictDoNothing(),
    db.delete(tokenRevocations).where(lte(tokenRevocations.expiresAt, nowSeconds)),
    db.delete(issuedTokens).where(lte(issuedTokens.expiresAt, nowSeconds)),
  ])
  notRevoked.delete(cacheKey(tenant, tokenId))
}

/**
 * Tenancy: every Durable Object name and every registry row is built from the token's
 * tenant (`sub`), never from anything else in the request, so a token for tenant A cannot
 * name an object or a row of tenant B. Object names follow `<tenant>:<kind>:<name>#<shard>`.
 */
import type { Context } from 'hono'
import type { AuthEnv } from './auth/auth-env'
import { AppError } from './errors'
import { hostedStub } from './hosted-object'

/** The tenant of the authenticated request. Throws if the route forgot `requireScope`. */
// biome-ignore lint/suspicious/noExplicitAny: any route path and input
export function tenantOf(c: Context<AuthEnv, any, any>): string {
  const principal = c.get('principal')
  if (!principal) throw new AppError('internal', 'Route has no authentication middleware.')
  return principal.tenant
}

/** The name of a tenant's object: `<tenant>:<kind>:<name>` plus `#<shard>` for sharded resources. */
export function objectName(tenant: string, kind: string, name: string, shard?: number): string {
  return shard === undefined ? `${tenant}:${kind}:${name}` : `${tenant}:${kind}:${name}#${shard}`
}

/** A stub of a tenant's object, addressed by name through `idFromName` (see hosted-object.ts). */
export function objectStub<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  tenant: string,
  kind: string,
  name: string,
  shard?: number,
): DurableObjectStub<T> {
  return hostedStub(namespace, objectName(tenant, kind, name, shard))
}

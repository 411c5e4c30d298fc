/**
 * `gatewayRateLimit()`: the platform protecting itself. Every request it sees is limited by
 * the rate limiter's own objects — per tenant when it carries a valid bearer token, per client
 * address otherwise — with GCRA (bursts up to the limit, then `limit` per period).
 *
 * - Tenant: the middleware authenticates the token once (signature, claims, revocation) and
 *   stores the principal in `c.var.principal`, which `requireScope` then reuses, so routes
 *   do not verify it again. An invalid token is not rejected here: the request is limited
 *   per address and the route answers 401 as usual.
 * - Address: `cf-connecting-ip` (set by Cloudflare, not forgeable there), else the first
 *   `X-Forwarded-For` entry, else `unknown`; IPv6 addresses count per /64 network, the block a
 *   single subscriber usually holds. Anything not shaped like an address is `unknown`.
 * - Responses carry `RateLimit-Policy` / `RateLimit` for `"gateway:tenant"` or `"gateway:ip"`;
 *   over the limit, a 429 problem with `Retry-After`, answered from the isolate's denial cache
 *   without an object call until the retry time.
 *
 * Settings (options override them, else from configuration): GATEWAY_TENANT_LIMIT,
 * GATEWAY_TENANT_OVERRIDES, GATEWAY_IP_LIMIT; a rate `off` disables that limit.
 */
import type { Context, MiddlewareHandler } from 'hono'
import {
  type AuthEnv,
  type AuthVariables,
  authenticateRequest,
  carriesCredentials,
} from '../platform/auth/middleware'
import type { Principal } from '../platform/auth/token'
import { type RateSetting, readConfig } from '../platform/config'
import { AppError } from '../platform/errors'
import { recordRateLimitDenial } from '../platform/runtime-metrics'
import { objectName } from '../platform/tenancy'
import { capacityOf, type Decision, POLICY_BOUNDS } from './decision'
import { rateLimitHeaders } from './headers'
import { LeaseBook, maxLeaseFor } from './leases'
import type { KeyPolicy, RateLimitBucket } from './object'
import { denials } from './service'

export interface GatewayRateLimitOptions {
  /** Requests per tenant (valid bearer token). Default: GATEWAY_TENANT_LIMIT. */
  tenantLimit?: RateSetting
  /** Tenants with their own limit, replacing the default. Default: GATEWAY_TENANT_OVERRIDES. */
  tenantOverrides?: Readonly<Record<string, RateSetting>>
  /** Requests per client address without a valid token. Default: GATEWAY_IP_LIMIT. */
  ipLimit?: RateSetting
}

/** What the middleware puts in the context: the verified principal, when the token is valid. */
export type GatewayRateLimitVariables = Partial<AuthVariables>

/** The quota policy names in the headers; `:` cannot occur in a tenant's policy names. */
export const TENANT_QUOTA = 'gateway:tenant'
export const IP_QUOTA = 'gateway:ip'

function checkRate(rate: RateSetting | undefined, what: string): void {
  if (rate === undefined || rate === 'off') return
  const { limit, periodMs } = rate
  const validLimit = Number.isInteger(limit) && limit >= 1 && limit <= POLICY_BOUNDS.maxLimit
  const validPeriod =
    Number.isInteger(periodMs) &&
    periodMs >= POLICY_BOUNDS.minPeriodMs &&
    periodMs <= POLICY_BOUNDS.maxPeriodMs
  if (!validLimit || !validPeriod) {
    throw new Error(`gatewayRateLimit: ${what} needs a whole limit 1–1000000 and a period of 1 ms–7 days`)
  }
}

export function gatewayRateLimit(options: GatewayRateLimitOptions = {}): MiddlewareHandler<AuthEnv> {
  checkRate(options.tenantLimit, 'tenantLimit')
  checkRate(options.ipLimit, 'ipLimit')
  for (const [tenant, rate] of Object.entries(options.tenantOverrides ?? {})) checkRate(rate, tenant)
  const fixed: GatewayRateLimitOptions = {
    ...options,
    ...(options.tenantOverrides ? { tenantOverrides: { ...options.tenantOverrides } } : {}),
  }

  return async function gatewayRateLimitMiddleware(c, next) {
    const config = readConfig(c.env)
    const principal = await verifiedPrincipal(c)
    let quota: string
    let rate: RateSetting
    let object: string
    if (principal) {
      c.set('principal', principal)
      const overrides = fixed.tenantOverrides ?? config.gatewayTenantOverrides
      quota = TENANT_QUOTA
      rate = Object.hasOwn(overrides, principal.tenant)
        ? (overrides[principal.tenant] as RateSetting)
        : (fixed.tenantLimit ?? config.gatewayTenantLimit)
      object = objectName(principal.tenant, 'ratelimit-gateway', 'tenant')
    } else {
      quota = IP_QUOTA
      rate = fixed.ipLimit ?? config.gatewayIpLimit
      object = objectName('_gateway', 'ratelimit-gateway', `ip:${clientAddress(c.req.raw.headers)}`)
    }
    if (rate === 'off') return next()

    const policy = gatewayPolicy(rate)
    const decision = await admitThroughLease(c.env.RATELIMIT, policy, object)
    const headers = rateLimitHeaders(quota, policy, decision)
    if (!decision.allowed) {
      recordRateLimitDenial(principal ? 'tenant' : 'ip')
      const who = principal ? `Tenant "${principal.tenant}" is` : 'This client address is'
      throw new AppError(
        'rate_limited',
        `${who} over the gateway limit of ${rate.limit} requests per ${rate.periodMs / 1000} s.`,
        { headers },
      )
    }
    await next()
    // A 101 (WebSocket upgrade) response cannot be copied to add headers.
    if (c.res.status === 101) return
    for (const [header, value] of Object.entries(headers)) c.header(header, value, { append: true })
  }
}

/** This isolate's leases of gateway units, noted with the object's decision at each grant. */
const leases = new LeaseBook<Decision>()

/**
 * Admits one request against `object`'s limit from this isolate's lease, leasing more from the
 * object when it runs out (see leases.ts for the bound this keeps). A denial the isolate already
 * knows is answered without an object call until its retry time.
 */
export async function admitThroughLease(
  namespace: DurableObjectNamespace<RateLimitBucket>,
  policy: KeyPolicy,
  object: string,
): Promise<Decision> {
  const now = Date.now()
  const key = `${object}\n${policy.fingerprint}`
  const local = leases.take(key, now)
  if (local?.note) return { ...local.note, remaining: local.note.remaining + leases.held(key, now) }
  const cached = denials.lookup(key, 1, now)
  if (cached) return cached
  const maxLease = maxLeaseFor(capacityOf(policy))
  const { want, giveBack } = leases.request(key, maxLease, now)
  const { decision, granted } = await namespace
    .get(namespace.idFromName(object))
    .lease(policy, want, giveBack)
  leases.granted(key, granted, maxLease, now, decision)
  if (!decision.allowed) denials.remember(key, 1, decision, now)
  return granted > 0 ? { ...decision, remaining: decision.remaining + leases.held(key, now) } : decision
}

function gatewayPolicy(rate: Exclude<RateSetting, 'off'>): KeyPolicy {
  const { limit, periodMs } = rate
  return { algorithm: 'gcra', limit, periodMs, fingerprint: `gateway/gcra/${limit}/${periodMs}` }
}

/** The principal of a valid bearer token or stream ticket; undefined without one or with an invalid one. */
async function verifiedPrincipal(c: Context<AuthEnv>): Promise<Principal | undefined> {
  const known = c.get('principal')
  if (known) return known
  if (!carriesCredentials(c.req.raw)) return undefined
  try {
    return await authenticateRequest(c.env, c.req.raw)
  } catch (error) {
    if (error instanceof AppError && error.code === 'unauthorized') return undefined
    throw error
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** The client's address as a limiting key: IPv4 as is, IPv6 as its /64, else `unknown`. */
export function clientAddress(headers: Headers): string {
  const candidates = [headers.get('cf-connecting-ip'), headers.get('x-forwarded-for')?.split(',')[0]]
  for (const candidate of candidates) {
    const address = candidate?.trim() ?? ''
    if (IPV4.test(address)) return address
    const network = ipv6Network(address)
    if (network) return network
  }
  return 'unknown'
}

/** `2001:db8:1:2:3:4:5:6` → `2001:db8:1:2::/64`; IPv4-mapped addresses give the IPv4 address. */
function ipv6Network(text: string): string | undefined {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined
  const mapped = /^::ffff:([\d.]+)$/i.exec(text)?.[1]
  if (mapped) return IPV4.test(mapped) ? mapped : undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  if (!groups.every((group) => /^[0-9A-Fa-f]{1,4}$/.test(group))) return undefined
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`
}

/**
 * Stampede protection (memcached meta style), as two commands on the Upstash wire:
 *
 * `LEASEGET key lease-ms [XFETCH beta]` → `[status, value, token]`
 *   - `hit`: fresh value, no token.
 *   - `miss`: no value; you hold the lease (`token`): compute and `LEASESET`.
 *   - `wait`: no value and someone else holds the lease: retry shortly.
 *   - `refresh`: the value is stale (past its TTL, within its stale-while-revalidate
 *     window) or chosen for early recomputation by XFetch; you get it *and* the lease.
 *   - `stale`: the stale value, while another caller refreshes it.
 * `LEASESET key token value [EX s | PX ms] [SWR s]` → `OK`, or nil when the token is not
 *   the key's live lease (expired, or revoked by another write of the key).
 * `LEASEDROP key token` → 1 when it gave the live lease up (nothing to store), else 0.
 *
 * Guarantees: at most one live lease per key, so N concurrent misses cause one recompute
 * while the lease lives; any ordinary write or delete of the key revokes its lease, so a
 * slow recompute cannot overwrite a newer value. XFetch (Vattani et al.): a hit becomes a
 * `refresh` with probability that rises as expiry nears: now − computeMs·beta·ln(rand) ≥
 * expiry, computeMs measured from lease to set. Leases live in the node's memory only.
 */
import {
  type Context,
  type ExpiryOption,
  parseDouble,
  parseExpiryOption,
  parseInteger,
  RedisError,
  type Reply,
  SYNTAX,
  typed,
} from './args'

export interface Lease {
  token: string
  issuedAt: number
  expiresAt: number
}

export class Leases {
  private readonly byKey = new Map<string, Lease>()
  private issued = 0

  live(key: string, now: number): Lease | undefined {
    const lease = this.byKey.get(key)
    if (lease && lease.expiresAt <= now) {
      this.byKey.delete(key)
      return undefined
    }
    return lease
  }

  issue(key: string, now: number, ms: number, random: () => number): Lease {
    const token = `${(++this.issued).toString(36)}.${Math.floor(random() * 2 ** 48).toString(36)}`
    const lease = { token, issuedAt: now, expiresAt: now + ms }
    this.byKey.set(key, lease)
    return lease
  }

  revoke(key: string): void {
    this.byKey.delete(key)
  }

  clear(): void {
    this.byKey.clear()
  }

  get size(): number {
    return this.byKey.size
  }
}

export function leaseget(ctx: Context & { leases: Leases }, args: string[]): Reply {
  const [key, msRaw, option, betaRaw] = args as [string, string, string | undefined, string | undefined]
  const ms = parseInteger(msRaw)
  if (ms <= 0) throw new RedisError("ERR invalid expire time in 'leaseget' command")
  let beta: number | undefined
  if (option !== undefined) {
    if (option.toUpperCase() !== 'XFETCH' || betaRaw === undefined || args.length > 4)
      throw new RedisError(SYNTAX)
    beta = parseDouble(betaRaw)
  }
  const { ks, now, leases } = ctx
  const fresh = typed(ks.read(key, now), 'string')
  const held = leases.live(key, now)
  if (fresh) {
    const { expiresAt, computeMs } = fresh
    const early =
      beta !== undefined &&
      expiresAt !== undefined &&
      computeMs !== undefined &&
      now - computeMs * beta * Math.log(ctx.random()) >= expiresAt
    if (!early || held) return ['hit', fresh.value.data, null]
    return ['refresh', fresh.value.data, leases.issue(key, now, ms, ctx.random).token]
  }
  const stale = typed(ks.lookupStale(key, now), 'string')
  if (held) return stale ? ['stale', stale.value.data, null] : ['wait', null, null]
  const token = leases.issue(key, now, ms, ctx.random).token
  return stale ? ['refresh', stale.value.data, token] : ['miss', null, token]
}

export function leaseset(ctx: Context & { leases: Leases }, args: string[]): Reply {
  const [key, token, value] = args as [string, string, string]
  const option: ExpiryOption = {}
  let swrMs: number | undefined
  for (let i = 3; i < args.length; ) {
    const used = parseExpiryOption(args, i, option, 'leaseset', ctx.now, {})
    if (used > 0) {
      i += used
      continue
    }
    if (args[i]?.toUpperCase() !== 'SWR' || args[i + 1] === undefined) throw new RedisError(SYNTAX)
    swrMs = parseInteger(args[i + 1] as string) * 1000
    if (swrMs < 0) throw new RedisError(SYNTAX)
    i += 2
  }
  const lease = ctx.leases.live(key, ctx.now)
  if (!lease || lease.token !== token) return null
  ctx.leases.revoke(key)
  const expiresAt = option.expiresAt ?? undefined
  ctx.ks.put(key, { type: 'string', data: value }, expiresAt, ctx.now, {
    computeMs: ctx.now - lease.issuedAt,
    staleUntil: expiresAt !== undefined && swrMs !== undefined ? expiresAt + swrMs : undefined,
  })
  return 'OK'
}

export function leasedrop(ctx: Context & { leases: Leases }, args: string[]): Reply {
  const [key, token] = args as [string, string]
  const lease = ctx.leases.live(key, ctx.now)
  if (!lease || lease.token !== token) return 0
  ctx.leases.revoke(key)
  return 1
}

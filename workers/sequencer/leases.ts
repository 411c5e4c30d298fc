/**
 * The generator-ID registry's rules: which of the 1,024 Snowflake generator IDs a
 * generator gets, and for how long. One registry per tenant decides alone (a Durable
 * Object), so its decisions are serial and need no further coordination.
 *
 * - A generator (a holder, named by its generator name) asks for a lease. If it still has
 *   a row, the lease is renewed, even if it has expired: nobody else has used that ID
 *   since. Otherwise it gets the lowest ID with no row or an expired one.
 * - A lease is a window of ID timestamps (see `issueUnderLease` in snowflake.ts): the
 *   holder issues IDs with timestamps below `expiresAtMs`; whoever takes the ID next starts
 *   at `issueFromMs` = the previous holder's expiry. Renewing extends the window from
 *   the later of the registry's clock and the holder's (or its last ID's timestamp) by the
 *   lease duration, so a holder with a clock ahead can still issue; it never shortens it.
 *
 * Guarantees: no two live holders share an ID (a live holder's row is only replaced once
 * the registry's clock passes its expiry), and IDs of successive holders of one generator
 * ID never meet, whatever the clocks of the generators say.
 * Costs: one registry call per lease duration per generator; a generator that stops holds
 * its ID until its lease expires; at most 1,024 live generators per tenant.
 */
import { MAX_GENERATOR_ID } from './snowflake'

/** How long a generator-ID lease lasts; holders renew once half of it has passed. */
export const GENERATOR_LEASE_MS = 10 * 60_000

export interface LeaseRow {
  generatorId: number
  holder: string
  /** The first ID timestamp the holder may use, Unix ms. */
  issueFromMs: number
  /** The holder's IDs carry timestamps below this; the registry frees the ID from then on. */
  expiresAtMs: number
}

export interface LeaseRequest {
  holder: string
  /** Where the holder's IDs are: the later of its clock and its last ID's timestamp (Unix ms). */
  holderTimeMs: number
  nowMs: number
  durationMs: number
}

/** The row to store for `request`, or undefined when all 1,024 IDs are held by live leases. */
export function grantLease(rows: readonly LeaseRow[], request: LeaseRequest): LeaseRow | undefined {
  const { holder, holderTimeMs, nowMs, durationMs } = request
  const windowEnd = Math.max(nowMs, holderTimeMs) + durationMs
  const own = rows.find((row) => row.holder === holder)
  if (own) return { ...own, expiresAtMs: Math.max(own.expiresAtMs, windowEnd) }

  const byId = new Map(rows.map((row) => [row.generatorId, row]))
  for (let generatorId = 0; generatorId <= MAX_GENERATOR_ID; generatorId++) {
    const previous = byId.get(generatorId)
    if (previous && previous.expiresAtMs > nowMs) continue
    const issueFromMs = previous ? previous.expiresAtMs : 0
    return { generatorId, holder, issueFromMs, expiresAtMs: Math.max(windowEnd, issueFromMs + durationMs) }
  }
  return undefined
}

/** True when a holder should renew before issuing: less than half of the lease is left. */
export function shouldRenew(
  lease: Pick<LeaseRow, 'expiresAtMs'>,
  nowMs: number,
  durationMs: number,
): boolean {
  return lease.expiresAtMs - nowMs < durationMs / 2
}

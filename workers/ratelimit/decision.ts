/**
 * What every rate-limiting algorithm shares: the policy it enforces, the decision it returns
 * and the bounds that keep its arithmetic exact.
 *
 * Units: time in milliseconds (`now` is ms since the epoch, a whole number), quantities in
 * cost units (a request of `cost: 3` spends 3). Every algorithm keeps its state in whole
 * numbers scaled so that refilling is an integer per millisecond (e.g. the token bucket counts
 * token·ms), and every bound below keeps those integers under 2^50, so no decision is ever
 * off by a rounding error: the guarantees in the doc blocks hold to the unit. The algorithm
 * names and those bounds are defined with the policy schema (schemas/ratelimit.ts).
 */
import { type Algorithm, BUCKET_ALGORITHMS } from '../../schemas/ratelimit'

export { ALGORITHMS, type Algorithm, BUCKET_ALGORITHMS, POLICY_BOUNDS } from '../../schemas/ratelimit'

export interface RatePolicy {
  algorithm: Algorithm
  /** Cost units admitted per `periodMs` (the window limit, or the refill per period for buckets). */
  limit: number
  /** The period, in ms: the window length, or the time a bucket takes to refill `limit` units. */
  periodMs: number
  /** Bucket algorithms only: the bucket size, i.e. the largest burst, in cost units (default `limit`). */
  burst?: number | undefined
}

/**
 * Why a decision came out as it did.
 * - `within_limit`: admitted, the cost fit.
 * - `over_limit`: denied by the algorithm; retry after `retryAfterMs`.
 * - `cached_denial`: denied by this isolate's denial cache, without asking the key's object.
 * - `peek`: `cost: 0`, nothing was spent; `allowed` tells whether one unit would be admitted now.
 */
export type Reason = 'within_limit' | 'over_limit' | 'cached_denial' | 'peek'

export interface Decision {
  /** Whether the request may go ahead. */
  allowed: boolean
  /** The most cost units a key can spend at once: the window limit, or the bucket size. */
  limit: number
  /** Cost units that could still be spent right now, after this decision. Never negative. */
  remaining: number
  /** Milliseconds until the key is back to its full `limit` if nothing more is spent (0: full now). */
  resetAfterMs: number
  /**
   * 0 when allowed. When denied, the milliseconds until a request of the same cost would be
   * admitted if nobody else spends meanwhile: the earliest moment worth retrying.
   */
  retryAfterMs: number
  /** Leaky bucket only: milliseconds the admitted request waits for its turn in the queue; else 0. */
  delayMs: number
  reason: Reason
}

/** A decision and the key's new state (`undefined` state: a key that has never spent anything). */
export interface Outcome<State> {
  decision: Decision
  state: State | undefined
}

/** How many cost units a key can spend at once under `policy`. */
export function capacityOf(policy: RatePolicy): number {
  return BUCKET_ALGORITHMS.has(policy.algorithm) ? (policy.burst ?? policy.limit) : policy.limit
}

/** A decision's shared fields; the algorithms fill in the numbers. */
export function decisionOf(
  allowed: boolean,
  numbers: Pick<Decision, 'limit' | 'remaining' | 'resetAfterMs' | 'retryAfterMs'> & { delayMs?: number },
): Decision {
  return {
    allowed,
    limit: numbers.limit,
    remaining: numbers.remaining,
    resetAfterMs: numbers.resetAfterMs,
    retryAfterMs: allowed ? 0 : numbers.retryAfterMs,
    delayMs: allowed ? (numbers.delayMs ?? 0) : 0,
    reason: allowed ? 'within_limit' : 'over_limit',
  }
}

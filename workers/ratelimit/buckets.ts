/**
 * The bucket family: token bucket, leaky bucket (as a queue) and GCRA. All three refill at
 * `rate = limit / periodMs` units per ms and hold at most `burst` units (default `limit`).
 *
 * They admit exactly the same requests: the token bucket counts what is left, the leaky
 * bucket counts what is queued, GCRA remembers when the bucket will be empty again. What
 * differs is what they say back: the leaky bucket also tells each admitted request how long
 * to wait for its turn, so the work it lets through flows at the rate with no bursts at all.
 *
 * Each function is pure: state, `now` (ms, a whole number) and `cost` in; the decision and the
 * new state out. Precondition (checked by `decide`): 0 ≤ cost ≤ burst, all integers.
 */
import { capacityOf, decisionOf, type Outcome, type RatePolicy } from './decision'

/** Tokens are counted in token·ms (tokens × periodMs), so each millisecond refills `limit` exactly. */
export interface TokenBucketState {
  credit: number
  /** When `credit` was last brought up to date, ms. */
  at: number
}

/**
 * Token bucket. The bucket holds up to `burst` tokens and gains `limit` tokens per period; a
 * request takes `cost` tokens if that many are there, and is denied otherwise.
 *
 * Guarantee: in any interval of length t ms, the admitted cost is at most
 * `burst + limit × t / periodMs` — and the bucket admits every request that keeps that true
 * for all intervals ending now (it is the greediest limiter with that bound).
 * Cost: O(1) time, two numbers of state per key.
 */
export function tokenBucket(
  policy: RatePolicy,
  state: TokenBucketState | undefined,
  now: number,
  cost: number,
): Outcome<TokenBucketState> {
  const { limit, periodMs } = policy
  const burst = capacityOf(policy)
  const full = burst * periodMs
  const price = cost * periodMs
  const at = Math.max(now, state?.at ?? now)
  const refilled = state ? Math.min(full, state.credit + (at - state.at) * limit) : full
  const allowed = refilled >= price
  const credit = allowed ? refilled - price : refilled
  const decision = decisionOf(allowed, {
    limit: burst,
    remaining: Math.floor(credit / periodMs),
    resetAfterMs: Math.ceil((full - credit) / limit),
    retryAfterMs: Math.ceil((price - credit) / limit),
  })
  return { decision, state: allowed ? { credit, at } : state }
}

/** Queued work in unit·ms (units × periodMs), so the queue drains `limit` per ms exactly. */
export interface LeakyBucketState {
  water: number
  /** When `water` was last drained up to, ms. */
  at: number
}

/**
 * Leaky bucket, as a queue (the shaper, like nginx `limit_req` without `nodelay`). Admitted
 * work joins a queue of at most `burst` units that drains at `limit` per period; a request
 * that does not fit is denied. An admitted request is told `delayMs`: how long until the work
 * queued ahead of it has drained. A caller that waits that long before acting gets its turn.
 *
 * Guarantees: admission is the token bucket's (at most `burst + rate × t` in any t ms);
 * and for callers that wait their `delayMs`, the work that starts in any interval of t ms is
 * less than `rate × (t + 1) + cost` of one request — a constant flow, no bursts (the 1 ms is
 * `delayMs` being rounded up to whole milliseconds). Cost: O(1) time, two numbers per key.
 */
export function leakyBucket(
  policy: RatePolicy,
  state: LeakyBucketState | undefined,
  now: number,
  cost: number,
): Outcome<LeakyBucketState> {
  const { limit, periodMs } = policy
  const burst = capacityOf(policy)
  const full = burst * periodMs
  const price = cost * periodMs
  const at = Math.max(now, state?.at ?? now)
  const ahead = state ? Math.max(0, state.water - (at - state.at) * limit) : 0
  const allowed = ahead + price <= full
  const water = allowed ? ahead + price : ahead
  const decision = decisionOf(allowed, {
    limit: burst,
    remaining: Math.floor((full - water) / periodMs),
    resetAfterMs: Math.ceil(water / limit),
    retryAfterMs: Math.ceil((ahead + price - full) / limit),
    delayMs: Math.ceil(ahead / limit),
  })
  return { decision, state: allowed ? { water, at } : state }
}

/**
 * GCRA's state: the theoretical arrival time (TAT) of the next request, kept exact as whole
 * milliseconds `tat` plus `fraction / limit` of a millisecond, because the emission interval
 * `periodMs / limit` is rarely a whole number of milliseconds.
 */
export interface GcraState {
  tat: number
  fraction: number
}

/**
 * GCRA, the generic cell rate algorithm (virtual scheduling, as in redis-cell). Requests are
 * due one emission interval T = periodMs / limit apart; the TAT is when the next one is due.
 * A request of cost c moves the TAT to max(TAT, now) + c·T and is admitted if the new TAT is
 * at most `burst × T` ahead of now (the textbook's tolerance τ = (burst − 1)·T, for c = 1).
 *
 * Guarantee: the token bucket's — at most `burst + limit × t / periodMs` in any t ms — with a
 * single timestamp as state. Cost: O(1) time, one instant (two numbers) per key.
 */
export function gcra(
  policy: RatePolicy,
  state: GcraState | undefined,
  now: number,
  cost: number,
): Outcome<GcraState> {
  const { limit, periodMs } = policy
  const burst = capacityOf(policy)
  // Durations here are in ticks of 1/limit ms, so the emission interval T is exactly periodMs ticks.
  const T = periodMs
  const tolerance = burst * T
  const tatAhead = state ? Math.max(0, (state.tat - now) * limit + state.fraction) : 0
  const newTatAhead = tatAhead + cost * T
  const allowed = newTatAhead <= tolerance
  const ahead = allowed ? newTatAhead : tatAhead
  const decision = decisionOf(allowed, {
    limit: burst,
    remaining: Math.floor((tolerance - ahead) / T),
    resetAfterMs: Math.ceil(ahead / limit),
    retryAfterMs: Math.ceil((newTatAhead - tolerance) / limit),
  })
  const tat = { tat: now + Math.floor(ahead / limit), fraction: ahead % limit }
  return { decision, state: allowed ? tat : state }
}

/**
 * Gives back `units` that a GCRA key spent and did not use (a lease's leftovers): the TAT moves
 * back by units·T, never before now, exactly as if those units had never been spent.
 */
export function gcraRefund(
  policy: RatePolicy,
  state: GcraState | undefined,
  now: number,
  units: number,
): GcraState | undefined {
  if (!state || units <= 0) return state
  const { limit, periodMs } = policy
  const ahead = Math.max(0, (state.tat - now) * limit + state.fraction - units * periodMs)
  return ahead === 0 ? undefined : { tat: now + Math.floor(ahead / limit), fraction: ahead % limit }
}

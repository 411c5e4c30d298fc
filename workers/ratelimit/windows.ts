/**
 * The window family: fixed window, sliding window log and sliding window counter. Each
 * admits at most `limit` cost units per window of `periodMs`; they differ in which windows.
 * Fixed windows are aligned to the epoch: window n is [n·periodMs, (n+1)·periodMs).
 *
 * Each function is pure: state, `now` (ms, a whole number) and `cost` in; the decision and the
 * new state out. Precondition (checked by `decide`): 0 ≤ cost ≤ limit, all integers.
 */
import { decisionOf, type Outcome, type RatePolicy } from './decision'

export interface FixedWindowState {
  /** The window index, floor(time / periodMs). */
  window: number
  /** Cost units admitted in that window. */
  count: number
}

/**
 * Fixed window: one counter per aligned window, reset when the window ends.
 *
 * Guarantee: at most `limit` per aligned window; any interval of `periodMs` overlaps two
 * windows, so up to 2 × limit can pass around a boundary. Cost: O(1), two numbers per key.
 */
export function fixedWindow(
  policy: RatePolicy,
  state: FixedWindowState | undefined,
  now: number,
  cost: number,
): Outcome<FixedWindowState> {
  const { limit, periodMs } = policy
  const window = Math.max(Math.floor(now / periodMs), state?.window ?? 0)
  const used = state?.window === window ? state.count : 0
  const allowed = used + cost <= limit
  const count = allowed ? used + cost : used
  const untilWindowEnds = (window + 1) * periodMs - now
  const decision = decisionOf(allowed, {
    limit,
    remaining: limit - count,
    resetAfterMs: count > 0 ? untilWindowEnds : 0,
    retryAfterMs: untilWindowEnds,
  })
  return { decision, state: allowed ? { window, count } : state }
}

export interface SlidingLogState {
  /** The admitted requests still inside the window: [time ms, cost], oldest first. */
  entries: Array<[at: number, cost: number]>
}

/**
 * Sliding window log: remembers when every admitted unit was spent and counts those in the
 * last `periodMs`, the window (now − periodMs, now].
 *
 * Guarantee: exact — at most `limit` in ANY interval of `periodMs` (half-open), wherever it
 * starts. Cost: O(limit) memory and time per key (one entry per admitted request; requests at
 * the same millisecond share one), which is why its limit is capped lower than the others'.
 */
export function slidingWindowLog(
  policy: RatePolicy,
  state: SlidingLogState | undefined,
  now: number,
  cost: number,
): Outcome<SlidingLogState> {
  const { limit, periodMs } = policy
  const last = state?.entries.at(-1)
  const at = Math.max(now, last?.[0] ?? now)
  const inWindow = (state?.entries ?? []).filter(([time]) => time > at - periodMs)
  const used = inWindow.reduce((sum, [, spent]) => sum + spent, 0)
  const allowed = used + cost <= limit
  const entries = inWindow
  if (allowed && cost > 0) {
    const newest = entries.at(-1)
    if (newest && newest[0] === at) entries[entries.length - 1] = [at, newest[1] + cost]
    else entries.push([at, cost])
  }
  const count = allowed ? used + cost : used
  // Denied: the earliest time enough of the oldest entries have left the window for `cost` to fit.
  let retryAfterMs = 0
  let freed = 0
  for (const [time, spent] of allowed ? [] : entries) {
    freed += spent
    if (used - freed + cost <= limit) {
      retryAfterMs = time + periodMs - now
      break
    }
  }
  const newest = entries.at(-1)
  const decision = decisionOf(allowed, {
    limit,
    remaining: limit - count,
    resetAfterMs: newest ? newest[0] + periodMs - now : 0,
    retryAfterMs,
  })
  return { decision, state: allowed ? { entries } : state }
}

export interface SlidingWindowState {
  /** The current window index, floor(time / periodMs). */
  window: number
  /** Cost units admitted in the current window and in the one before it. */
  current: number
  previous: number
}

/**
 * Sliding window counter (Cloudflare's approximation): counts per aligned window, and
 * estimates the last `periodMs` as `previous × (share of the previous window still inside) +
 * current`, assuming the previous window's requests were spread evenly.
 *
 * Guarantee: at most `limit` per aligned window, and the estimate never exceeds `limit`;
 * exact for evenly spread traffic, and any interval of `periodMs` holds less than 2 × limit
 * even against a burst timed at a boundary. Cost: O(1), three numbers per key.
 */
export function slidingWindowCounter(
  policy: RatePolicy,
  state: SlidingWindowState | undefined,
  now: number,
  cost: number,
): Outcome<SlidingWindowState> {
  const { limit, periodMs: P } = policy
  const window = Math.max(Math.floor(now / P), state?.window ?? 0)
  const previous =
    state?.window === window ? state.previous : state?.window === window - 1 ? state.current : 0
  const used = state?.window === window ? state.current : 0
  const elapsed = Math.max(0, now - window * P)
  // The estimate in unit·ms: the previous window weighs (P − elapsed) / P.
  const estimate = (current: number) => previous * (P - elapsed) + current * P
  const allowed = estimate(used + cost) <= limit * P
  const current = allowed ? used + cost : used
  const decision = decisionOf(allowed, {
    limit,
    remaining: Math.floor((limit * P - estimate(current)) / P),
    resetAfterMs: current > 0 ? (window + 2) * P - now : previous > 0 ? (window + 1) * P - now : 0,
    retryAfterMs: allowed ? 0 : slidingRetryAfterMs(limit, P, window, previous, used, cost) - now,
  })
  return { decision, state: allowed ? { window, current, previous } : state }
}

/** The earliest time a request of `cost` fits, if nothing else is admitted meanwhile. */
function slidingRetryAfterMs(
  limit: number,
  P: number,
  window: number,
  previous: number,
  current: number,
  cost: number,
): number {
  // Later in this window, once the previous window's weight has fallen far enough:
  // previous × (P − e) ≤ (limit − current − cost) × P  ⇔  e ≥ P − spare × P / previous.
  const spare = limit - current - cost
  if (previous > 0 && spare >= 0) {
    const elapsed = P - Math.floor((spare * P) / previous)
    if (elapsed < P) return window * P + elapsed
  }
  // Otherwise in the next window, where this window's count becomes the previous one.
  if (current === 0) return (window + 1) * P
  const elapsed = Math.max(0, P - Math.floor(((limit - cost) * P) / current))
  return (window + 1) * P + elapsed
}

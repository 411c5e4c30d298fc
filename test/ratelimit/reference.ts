/**
 * Brute-force references for the rate-limiting algorithms: each recomputes, from the full
 * list of admitted requests, what the algorithm should decide — no state, no cleverness,
 * exact integer arithmetic. Used by the randomized stream tests.
 */
import type { RatePolicy } from '../../workers/ratelimit/algorithms'
import { capacityOf } from '../../workers/ratelimit/algorithms'

export interface Admitted {
  at: number
  cost: number
}

const sumCost = (requests: Admitted[]) => requests.reduce((sum, request) => sum + request.cost, 0)

/**
 * The bucket family admits a request iff, for every interval [s, now] (s = now or any earlier
 * admission), the admitted cost in it plus this cost stays within burst + rate × (now − s).
 */
export function bucketAdmits(policy: RatePolicy, admitted: Admitted[], now: number, cost: number): boolean {
  const burst = capacityOf(policy)
  const fits = (start: number, inInterval: number) =>
    inInterval * policy.periodMs <= burst * policy.periodMs + (now - start) * policy.limit
  // Walk back from now, so the cost admitted in [start, now] accumulates as start moves earlier.
  let inInterval = cost
  if (!fits(now, inInterval)) return false
  for (let i = admitted.length - 1; i >= 0; i--) {
    const request = admitted[i] as Admitted
    inInterval += request.cost
    if (!fits(request.at, inInterval)) return false
  }
  return true
}

/** The leaky queue's start times: each admitted request starts when the one before it has drained. */
export function leakyDelaysMs(policy: RatePolicy, admitted: Admitted[]): number[] {
  // Exact finish times in ticks of 1/limit ms: E_i = max(a_i, E_{i-1} + c_{i-1} × T), T = period ticks.
  const delays: number[] = []
  let previousStart = Number.NEGATIVE_INFINITY
  let previousCost = 0
  for (const request of admitted) {
    const start = Math.max(request.at * policy.limit, previousStart + previousCost * policy.periodMs)
    delays.push(Math.ceil((start - request.at * policy.limit) / policy.limit))
    previousStart = start
    previousCost = request.cost
  }
  return delays
}

export function fixedWindowAdmits(
  policy: RatePolicy,
  admitted: Admitted[],
  now: number,
  cost: number,
): boolean {
  const window = Math.floor(now / policy.periodMs)
  const used = sumCost(admitted.filter((request) => Math.floor(request.at / policy.periodMs) === window))
  return used + cost <= policy.limit
}

/** Cost admitted in the sliding window (t − period, t]. */
export function usedInLog(policy: RatePolicy, admitted: Admitted[], t: number): number {
  return sumCost(admitted.filter((request) => request.at > t - policy.periodMs && request.at <= t))
}

export function slidingLogAdmits(
  policy: RatePolicy,
  admitted: Admitted[],
  now: number,
  cost: number,
): boolean {
  return usedInLog(policy, admitted, now) + cost <= policy.limit
}

/** The earliest time ≥ now at which `cost` fits in the sliding log, with no further admissions. */
export function slidingLogRetryAt(
  policy: RatePolicy,
  admitted: Admitted[],
  now: number,
  cost: number,
): number {
  const recent = admitted.filter((request) => request.at > now - policy.periodMs)
  const candidates = [now, ...recent.map((request) => request.at + policy.periodMs)].sort((a, b) => a - b)
  const fits = candidates.find((t) => usedInLog(policy, recent, t) + cost <= policy.limit)
  if (fits === undefined) throw new Error('the reference found no retry time')
  return fits
}

export function slidingCounterAdmits(
  policy: RatePolicy,
  admitted: Admitted[],
  now: number,
  cost: number,
): boolean {
  const P = policy.periodMs
  const window = Math.floor(now / P)
  const inWindow = (w: number) => sumCost(admitted.filter((request) => Math.floor(request.at / P) === w))
  const elapsed = now - window * P
  return inWindow(window - 1) * (P - elapsed) + (inWindow(window) + cost) * P <= policy.limit * P
}

/** The largest cost admitted in any half-open interval [x, x + length) that starts at an admission. */
export function maxInAnyInterval(admitted: Admitted[], length: number): number {
  let most = 0
  for (const first of admitted) {
    most = Math.max(
      most,
      sumCost(admitted.filter((request) => request.at >= first.at && request.at < first.at + length)),
    )
  }
  return most
}

export interface StreamRequest {
  at: number
  cost: number
}

/**
 * A request stream with bursts (several requests in the same millisecond), steady stretches
 * and idle gaps, costs 1–`maxCost`, starting at `start` ms.
 */
export function requestStream(
  random: () => number,
  options: { count: number; periodMs: number; maxCost: number; start: number },
): StreamRequest[] {
  const requests: StreamRequest[] = []
  let at = options.start
  for (let i = 0; i < options.count; i++) {
    const roll = random()
    if (roll < 0.35) at += 0
    else if (roll < 0.85) at += Math.floor(random() * Math.max(2, options.periodMs / 5))
    else at += Math.floor(random() * options.periodMs * 2)
    requests.push({ at, cost: 1 + Math.floor(random() * options.maxCost) })
  }
  return requests
}

/**
 * One entry point over the six algorithms: `decide` (spend), `peek` (look without spending)
 * and `decideWithHolds`, which respects units reserved by pending multi-key checks.
 *
 * Guarantees: each algorithm's own (see buckets.ts and windows.ts); a decision with holds
 * admits a request only if its cost plus every held unit fits, so every hold can still be
 * committed later — holds never let a key exceed its limit. Cost: that of the algorithm, at
 * most twice (a probe with the holds, then the real spend). Pure: `now` is an argument.
 */
import {
  type GcraState,
  gcra,
  type LeakyBucketState,
  leakyBucket,
  type TokenBucketState,
  tokenBucket,
} from './buckets'
import { capacityOf, type Decision, type Outcome, type RatePolicy } from './decision'
import {
  type FixedWindowState,
  fixedWindow,
  type SlidingLogState,
  type SlidingWindowState,
  slidingWindowCounter,
  slidingWindowLog,
} from './windows'

export * from './decision'

/** The state of one key under one policy; its shape depends on the policy's algorithm. */
export type KeyState = object

/**
 * Spends `cost` units of a key if they fit. `state` must come from the same policy (the
 * object hosting the key drops its state when the policy's parameters change).
 */
export function decide(
  policy: RatePolicy,
  state: KeyState | undefined,
  now: number,
  cost: number,
): Outcome<KeyState> {
  if (!Number.isInteger(cost) || cost < 0 || cost > capacityOf(policy)) {
    throw new RangeError(`cost must be a whole number from 0 to ${capacityOf(policy)}`)
  }
  if (!Number.isInteger(now)) throw new RangeError('now must be a whole number of milliseconds')
  switch (policy.algorithm) {
    case 'token-bucket':
      return tokenBucket(policy, state as TokenBucketState | undefined, now, cost)
    case 'leaky-bucket':
      return leakyBucket(policy, state as LeakyBucketState | undefined, now, cost)
    case 'gcra':
      return gcra(policy, state as GcraState | undefined, now, cost)
    case 'fixed-window':
      return fixedWindow(policy, state as FixedWindowState | undefined, now, cost)
    case 'sliding-window-log':
      return slidingWindowLog(policy, state as SlidingLogState | undefined, now, cost)
    case 'sliding-window-counter':
      return slidingWindowCounter(policy, state as SlidingWindowState | undefined, now, cost)
  }
}

/**
 * Spends nothing. `remaining` and `resetAfterMs` are the key's current ones; `allowed` and
 * `retryAfterMs` say whether a request of one unit would be admitted now.
 */
export function peek(policy: RatePolicy, state: KeyState | undefined, now: number, held = 0): Decision {
  const current = decideWithHolds(policy, state, now, 0, held).decision
  const oneUnit = decideWithHolds(policy, state, now, 1, held).decision
  return { ...current, allowed: oneUnit.allowed, retryAfterMs: oneUnit.retryAfterMs, reason: 'peek' }
}

/**
 * `decide`, with `held` units reserved on the key by pending multi-key checks: admitted only if
 * `cost + held` fits, and then only `cost` is spent; `remaining` excludes the held units.
 */
export function decideWithHolds(
  policy: RatePolicy,
  state: KeyState | undefined,
  now: number,
  cost: number,
  held: number,
): Outcome<KeyState> {
  if (held === 0) return decide(policy, state, now, cost)
  const withoutHolds = (decision: Decision): Decision => ({
    ...decision,
    remaining: Math.max(0, decision.remaining - held),
  })
  if (cost + held > capacityOf(policy)) {
    // Only the holds stand in the way; they are committed or released within milliseconds.
    const alone = decide(policy, state, now, 0).decision
    const retryAfterMs = Math.max(1, decide(policy, state, now, cost).decision.retryAfterMs)
    return {
      decision: withoutHolds({ ...alone, allowed: false, retryAfterMs, reason: 'over_limit' }),
      state,
    }
  }
  const probe = decide(policy, state, now, cost + held)
  if (!probe.decision.allowed) return { decision: withoutHolds(probe.decision), state }
  const spent = decide(policy, state, now, cost)
  return { decision: withoutHolds(spent.decision), state: spent.state }
}

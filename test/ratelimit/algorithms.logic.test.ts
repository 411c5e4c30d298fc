/**
 * The six algorithms against brute-force references, over seeded random request streams with
 * an injected clock: every decision must equal the reference's, every guarantee in the doc
 * blocks must hold over the whole stream, and the numbers a client backs off by (remaining,
 * retryAfterMs, resetAfterMs) must be exact.
 */
import { describe, expect, it } from 'vitest'
import {
  type Algorithm,
  capacityOf,
  type Decision,
  decide,
  type KeyState,
  type RatePolicy,
} from '../../workers/ratelimit/algorithms'
import { seededRandom } from '../support/seeded'
import {
  type Admitted,
  bucketAdmits,
  fixedWindowAdmits,
  leakyDelaysMs,
  maxInAnyInterval,
  requestStream,
  slidingCounterAdmits,
  slidingLogAdmits,
  slidingLogRetryAt,
  usedInLog,
} from './reference'

const SEEDS = [1, 7, 42, 2024, 90210]
const STREAM_LENGTH = 300
const START = 1_700_000_000_123

const BUCKET_SHAPES: Array<Omit<RatePolicy, 'algorithm'>> = [
  { limit: 5, periodMs: 1000 },
  { limit: 3, periodMs: 997 },
  { limit: 7, periodMs: 60 },
  { limit: 4, periodMs: 1000, burst: 9 },
  { limit: 10, periodMs: 333, burst: 2 },
]
const WINDOW_SHAPES: Array<Omit<RatePolicy, 'algorithm'>> = [
  { limit: 5, periodMs: 1000 },
  { limit: 3, periodMs: 997 },
  { limit: 12, periodMs: 60 },
  { limit: 1, periodMs: 250 },
]

const REFERENCES: Record<Algorithm, (p: RatePolicy, a: Admitted[], now: number, cost: number) => boolean> = {
  'token-bucket': bucketAdmits,
  'leaky-bucket': bucketAdmits,
  gcra: bucketAdmits,
  'fixed-window': fixedWindowAdmits,
  'sliding-window-log': slidingLogAdmits,
  'sliding-window-counter': slidingCounterAdmits,
}

interface Step {
  at: number
  cost: number
  decision: Decision
}

/** The numbers a client backs off by, checked exactly against the algorithm itself. */
function backOffProblems(policy: RatePolicy, state: KeyState | undefined, step: Step): string[] {
  const { at, cost, decision } = step
  const problems: string[] = []
  const capacity = capacityOf(policy)
  // `remaining` more units are admitted right now, and not one more.
  let probe = state
  for (let i = 0; i < decision.remaining; i++) {
    const next = decide(policy, probe, at, 1)
    if (!next.decision.allowed)
      problems.push(`at ${at}: unit ${i + 1} of remaining ${decision.remaining} denied`)
    probe = next.state
  }
  if (decide(policy, probe, at, 1).decision.allowed) {
    problems.push(`at ${at}: more than remaining=${decision.remaining} admitted`)
  }
  // Denied: the same cost is admitted at now + retryAfterMs, and not a millisecond earlier.
  if (!decision.allowed) {
    const retryAt = at + decision.retryAfterMs
    if (decision.retryAfterMs < 1)
      problems.push(`at ${at}: denied with retryAfterMs ${decision.retryAfterMs}`)
    if (!decide(policy, state, retryAt, cost).decision.allowed)
      problems.push(`at ${at}: still denied at retry`)
    if (decide(policy, state, retryAt - 1, cost).decision.allowed)
      problems.push(`at ${at}: retryAfter too late`)
  }
  // After resetAfterMs the key is full again, and not a millisecond earlier.
  const resetAt = at + decision.resetAfterMs
  if (decide(policy, state, resetAt, 0).decision.remaining !== capacity) {
    problems.push(`at ${at}: not full at resetAfterMs ${decision.resetAfterMs}`)
  }
  if (decision.resetAfterMs > 0 && decide(policy, state, resetAt - 1, 0).decision.remaining === capacity) {
    problems.push(`at ${at}: full before resetAfterMs ${decision.resetAfterMs}`)
  }
  return problems
}

/** Runs a stream through an algorithm, comparing each decision with the reference. */
function runStream(policy: RatePolicy, seed: number) {
  const random = seededRandom(seed)
  const requests = requestStream(random, {
    count: STREAM_LENGTH,
    periodMs: policy.periodMs,
    maxCost: Math.min(3, capacityOf(policy)),
    start: START,
  })
  const reference = REFERENCES[policy.algorithm]
  const admitted: Admitted[] = []
  const steps: Step[] = []
  const problems: string[] = []
  let state: KeyState | undefined
  for (const { at, cost } of requests) {
    const expected = reference(policy, admitted, at, cost)
    const outcome = decide(policy, state, at, cost)
    const step = { at, cost, decision: outcome.decision }
    if (outcome.decision.allowed !== expected) {
      problems.push(`at ${at} cost ${cost}: allowed=${outcome.decision.allowed}, reference says ${expected}`)
    }
    if (outcome.decision.allowed) admitted.push({ at, cost })
    state = outcome.state
    problems.push(...backOffProblems(policy, state, step))
    steps.push(step)
  }
  return { admitted, steps, problems }
}

const cases = (algorithms: Algorithm[], shapes: Array<Omit<RatePolicy, 'algorithm'>>) =>
  algorithms.flatMap((algorithm) =>
    shapes.flatMap((shape) => SEEDS.map((seed) => ({ policy: { algorithm, ...shape }, seed }))),
  )

const label = ({ policy, seed }: { policy: RatePolicy; seed: number }) =>
  `${policy.algorithm} ${policy.limit}/${policy.periodMs}ms burst ${policy.burst ?? '-'} seed ${seed}`

describe('bucket family against the greedy reference', () => {
  it.each(cases(['token-bucket', 'gcra', 'leaky-bucket'], BUCKET_SHAPES).map((c) => [label(c), c]))(
    '%s',
    (_, { policy, seed }) => {
      const { admitted, problems } = runStream(policy, seed)
      expect(problems).toEqual([])
      // Never more than burst + rate × t in any interval of length t (checked over every pair).
      const burst = capacityOf(policy)
      const overBound: string[] = []
      for (let i = 0; i < admitted.length; i++) {
        let inInterval = 0
        for (let j = i; j < admitted.length; j++) {
          const first = admitted[i] as Admitted
          const last = admitted[j] as Admitted
          inInterval += last.cost
          if (inInterval * policy.periodMs > burst * policy.periodMs + (last.at - first.at) * policy.limit) {
            overBound.push(`${inInterval} admitted in [${first.at}, ${last.at}]`)
          }
        }
      }
      expect(overBound).toEqual([])
      expect(admitted.length).toBeGreaterThan(burst)
    },
  )

  it.each(cases(['leaky-bucket'], BUCKET_SHAPES).map((c) => [label(c), c]))(
    '%s: admitted work starts as a constant flow',
    (_, { policy, seed }) => {
      const { steps } = runStream(policy, seed)
      const admittedSteps = steps.filter((step) => step.decision.allowed)
      const delays = leakyDelaysMs(policy, admittedSteps)
      expect(admittedSteps.map((step) => step.decision.delayMs)).toEqual(delays)
      // Work starting in any interval of t ms is less than rate × (t + 1) plus one request's cost.
      const starts = admittedSteps.map((step, i) => ({ at: step.at + (delays[i] ?? 0), cost: step.cost }))
      const tooDense: string[] = []
      for (let i = 0; i < starts.length; i++) {
        let before = 0
        for (let j = i; j < starts.length; j++) {
          const first = starts[i] as Admitted
          const last = starts[j] as Admitted
          if (before * policy.periodMs >= (last.at - first.at + 1) * policy.limit) {
            tooDense.push(`${before + last.cost} starting in [${first.at}, ${last.at}]`)
          }
          before += last.cost
        }
      }
      expect(tooDense).toEqual([])
    },
  )
})

describe('window family against the brute-force references', () => {
  it.each(cases(['fixed-window'], WINDOW_SHAPES).map((c) => [label(c), c]))('%s', (_, { policy, seed }) => {
    const { admitted, problems } = runStream(policy, seed)
    expect(problems).toEqual([])
    const perWindow = new Map<number, number>()
    for (const { at, cost } of admitted) {
      const window = Math.floor(at / policy.periodMs)
      perWindow.set(window, (perWindow.get(window) ?? 0) + cost)
    }
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(policy.limit)
    expect(maxInAnyInterval(admitted, policy.periodMs)).toBeLessThanOrEqual(2 * policy.limit)
  })

  it.each(cases(['sliding-window-log'], WINDOW_SHAPES).map((c) => [label(c), c]))(
    '%s',
    (_, { policy, seed }) => {
      const { admitted, steps, problems } = runStream(policy, seed)
      expect(problems).toEqual([])
      // At most `limit` in ANY window-length interval.
      expect(maxInAnyInterval(admitted, policy.periodMs)).toBeLessThanOrEqual(policy.limit)
      // Each denial's retry time is the first moment enough old entries have left the window.
      const admittedSoFar: Admitted[] = []
      for (const step of steps) {
        if (step.decision.allowed) admittedSoFar.push({ at: step.at, cost: step.cost })
        else {
          const retryAt = slidingLogRetryAt(policy, admittedSoFar, step.at, step.cost)
          expect(step.at + step.decision.retryAfterMs).toBe(retryAt)
        }
        expect(step.decision.remaining).toBe(policy.limit - usedInLog(policy, admittedSoFar, step.at))
      }
    },
  )

  it.each(cases(['sliding-window-counter'], WINDOW_SHAPES).map((c) => [label(c), c]))(
    '%s',
    (_, { policy, seed }) => {
      const { admitted, problems } = runStream(policy, seed)
      expect(problems).toEqual([])
      const perWindow = new Map<number, number>()
      for (const { at, cost } of admitted) {
        const window = Math.floor(at / policy.periodMs)
        perWindow.set(window, (perWindow.get(window) ?? 0) + cost)
      }
      expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(policy.limit)
      expect(maxInAnyInterval(admitted, policy.periodMs)).toBeLessThan(2 * policy.limit)
    },
  )
})

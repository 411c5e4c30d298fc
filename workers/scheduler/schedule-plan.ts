/**
 * The decisions of a recurring schedule, as plain functions of its spec and `now`.
 *
 * - Planned times come from a cron expression in a time zone (`cron.ts`, with its DST
 *   policy) or a fixed interval (`interval.ts`).
 * - Jitter: each planned time t runs at t + jitter(t), jitter uniform in [0, J) where J is
 *   the schedule's jitter capped by the gap to the next planned time (so runs never swap
 *   order). It is derived from a hash of the schedule and t, not from `Math.random`, so
 *   it is the same after a restart and in tests.
 * - Catch-up (Quartz's misfire handling, Temporal's catch-up window): when the schedule
 *   wakes late (the platform was down, the object was evicted), a planned time whose due
 *   time is more than `catchupWindowMs` in the past is missed. Of the others, `all` runs
 *   every one (at most `limit` per wake; the rest on the next, immediate wake), `last`
 *   runs only the latest and counts the rest as missed.
 * - Overlap (Temporal's overlap policies), when a run is still going: `skip` drops the new
 *   run, `buffer_one` keeps one to start when the running ones finish (later ones are
 *   dropped while one is buffered), `allow_all` starts it anyway.
 *
 * Cost: `collectDue` enumerates planned times of the catch-up window only (times before
 * it are skipped in one jump); `last` finds its run by a binary search over next-time
 * calls (~log2(window in seconds) of them).
 */

import { hash32 } from '../platform/hashing'
import { type CronExpression, parseCron } from './cron'
import { nextCronTime } from './cron-search'
import { nextIntervalTime } from './interval'

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'allow_all'] as const
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number]
export const CATCHUP_POLICIES = ['all', 'last'] as const
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number]

export type Timing =
  | { kind: 'cron'; cron: string; timeZone: string }
  | { kind: 'interval'; everySeconds: number; anchorMs: number }

export interface PlanSpec {
  timing: Timing
  jitterMs: number
  catchupWindowMs: number
  catchup: CatchupPolicy
}

export interface Planner {
  /** The first planned time strictly after `afterMs`, if any. */
  next(afterMs: number): number | undefined
  /** When planned time `planned` is due (planned + jitter). */
  dueAt(planned: number): number
}

/** A planner for a validated spec; `seed` names the schedule (its jitter stream). */
export function plannerFor(spec: PlanSpec, seed: string): Planner {
  const { timing } = spec
  let cron: CronExpression | undefined
  if (timing.kind === 'cron') {
    const parsed = parseCron(timing.cron)
    if (!parsed.ok) throw new Error(`Invalid stored cron expression: ${parsed.error}`)
    cron = parsed.cron
  }
  const next = (afterMs: number): number | undefined =>
    timing.kind === 'cron' && cron
      ? nextCronTime(cron, timing.timeZone, afterMs)
      : timing.kind === 'interval'
        ? nextIntervalTime(timing, afterMs)
        : undefined
  return {
    next,
    dueAt(planned) {
      if (spec.jitterMs <= 0) return planned
      const following = next(planned)
      const span = Math.min(spec.jitterMs, following === undefined ? spec.jitterMs : following - planned)
      return planned + Math.floor((hash32(`${seed}@${planned}`) / 2 ** 32) * span)
    },
  }
}

export interface DueRuns {
  /** Planned times to run now, oldest first. */
  run: number[]
  /** The first and last planned times given up (outside the window, or before the last). */
  missed?: { first: number; last: number }
  /** The latest planned time handled; the next wake starts after it. */
  cursor: number
  /** The next planned time after `cursor`, if any. */
  nextPlanned: number | undefined
}

/**
 * The runs due at `now` for a schedule that has handled every planned time up to
 * `cursor`. `all` returns at most `limit`; call again (with the new cursor) for more.
 */
export function collectDue(
  spec: PlanSpec,
  planner: Planner,
  cursor: number,
  now: number,
  limit: number,
): DueRuns {
  const oldestKept = now - spec.catchupWindowMs
  let missed: DueRuns['missed']
  const miss = (first: number, last: number) => {
    missed = { first: missed?.first ?? first, last }
  }
  let planned = planner.next(cursor)
  // Planned before the window minus the largest jitter: missed whatever their jitter; one jump.
  const surelyMissedBefore = oldestKept - spec.jitterMs
  if (planned !== undefined && planned < surelyMissedBefore) {
    cursor = lastPlannedBefore(planner, planned, surelyMissedBefore)
    miss(planned, cursor)
    planned = planner.next(cursor)
  }
  const run: number[] = []
  if (spec.catchup === 'last') {
    if (planned !== undefined && planner.dueAt(planned) <= now) {
      let latest = lastPlannedBefore(planner, planned, now + 1)
      if (planner.dueAt(latest) > now) latest = lastPlannedBefore(planner, planned, latest)
      if (latest > planned) miss(planned, lastPlannedBefore(planner, planned, latest))
      if (planner.dueAt(latest) >= oldestKept) run.push(latest)
      else miss(latest, latest)
      cursor = latest
      planned = planner.next(latest)
    }
  } else {
    while (planned !== undefined && planner.dueAt(planned) <= now && run.length < limit) {
      if (planner.dueAt(planned) < oldestKept) miss(planned, planned)
      else run.push(planned)
      cursor = planned
      planned = planner.next(planned)
    }
  }
  return { run, ...(missed ? { missed } : {}), cursor, nextPlanned: planned }
}

/**
 * The last planned time before `bound`, given a planned time `from` before it: a binary
 * search for the largest x whose next planned time is still before `bound`.
 */
export function lastPlannedBefore(planner: Planner, from: number, bound: number): number {
  const first = planner.next(from)
  if (first === undefined || first >= bound) return from
  let low = first - 1
  let high = bound - 1
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    const next = planner.next(middle)
    if (next !== undefined && next < bound) low = next - 1
    else high = middle
  }
  return planner.next(low) ?? from
}

export type Admission = 'start' | 'buffer' | 'skip'

/** Whether a new run starts, waits (buffered) or is dropped, given the runs still going. */
export function admitRun(overlap: OverlapPolicy, running: number, buffered: number): Admission {
  if (running === 0 && buffered === 0) return 'start'
  if (overlap === 'allow_all') return 'start'
  if (overlap === 'buffer_one' && buffered === 0) return 'buffer'
  return 'skip'
}

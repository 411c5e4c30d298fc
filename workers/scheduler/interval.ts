/**
 * Fixed-interval schedules: runs at `anchor + k·every` for every whole k ≥ 0, in absolute
 * time (milliseconds since the epoch), so daylight-saving changes never stretch or shrink
 * an interval. The anchor is the schedule's `startAt` (by default its creation time).
 *
 * Bounds: at least `MIN_INTERVAL_SECONDS` (1 s: one Durable Object alarm a second is
 * cheap; anything finer is a loop, not a schedule) and at most `MAX_INTERVAL_SECONDS`
 * (366 days), both in schemas/scheduler.ts. Cost: O(1) arithmetic per next run.
 */

export { MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from '../../schemas/scheduler'

export interface IntervalSpec {
  everySeconds: number
  /** The first run, ms since the epoch. */
  anchorMs: number
}

/** The first run strictly after `afterMs`. */
export function nextIntervalTime(spec: IntervalSpec, afterMs: number): number {
  const everyMs = spec.everySeconds * 1000
  if (afterMs < spec.anchorMs) return spec.anchorMs
  const elapsedIntervals = Math.floor((afterMs - spec.anchorMs) / everyMs) + 1
  return spec.anchorMs + elapsedIntervals * everyMs
}

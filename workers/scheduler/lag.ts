/**
 * Scheduler lag for the platform's `/metrics`: how late a task's attempt starts compared
 * with its due time (`edgeblocks_scheduler_lag_seconds`), and what a shard reports about
 * its due-but-not-started backlog.
 *
 * The due time of an attempt is the task's `due_at` (its run time, or a retry's backoff
 * time); for the first attempt of a schedule's run it is the run's planned time, so a
 * schedule object that woke late counts too. Lag is measured with the shard's clock at
 * the moment the attempt is marked running, in the same transaction, so each started
 * attempt is observed exactly once. Cost: one upsert per started attempt (one row per
 * bucket); a snapshot is a scan of LAG_BOUNDS rows and one indexed range count.
 */

/** Seconds: from a timely alarm (tens of ms) to a backlog of a quarter hour. */
export const LAG_BOUNDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]

export interface LagHistogram {
  /** Non-cumulative counts per bound of LAG_BOUNDS (lags above the last are only in `count`). */
  counts: number[]
  sum: number
  count: number
}

/** What one shard says about itself, measured with its clock. */
export interface ShardLag {
  lag: LagHistogram
  /** Tasks due (at or before now) and not started: waiting for a round or for their tenant's limits. */
  backlog: number
  /** Seconds since the earliest due time among the backlog; 0 when there is none. */
  oldestOverdueSeconds: number
}

/** The due time an attempt's lag is measured from (see the header). */
export function dueTimeOf(task: { dueAt: number; plannedAt: number | null; attemptsSoFar: number }): number {
  return task.plannedAt !== null && task.attemptsSoFar === 0
    ? Math.min(task.plannedAt, task.dueAt)
    : task.dueAt
}

export function lagSeconds(dueAt: number, startedAt: number): number {
  return Math.max(0, startedAt - dueAt) / 1000
}

/** The index of the first bound ≥ seconds; LAG_BOUNDS.length for lags above every bound. */
export function lagBucket(seconds: number): number {
  const i = LAG_BOUNDS.findIndex((bound) => seconds <= bound)
  return i < 0 ? LAG_BOUNDS.length : i
}

/** A histogram from rows (bucket index, count, sum of the lags in it). */
export function lagHistogram(
  rows: ReadonlyArray<{ bucket: number; count: number; sum: number }>,
): LagHistogram {
  const h: LagHistogram = { counts: LAG_BOUNDS.map(() => 0), sum: 0, count: 0 }
  for (const row of rows) {
    if (row.bucket < LAG_BOUNDS.length) h.counts[row.bucket] = row.count
    h.sum += row.sum
    h.count += row.count
  }
  return h
}

export function overdueSeconds(earliestDueAt: number | null, now: number): number {
  return earliestDueAt === null ? 0 : Math.max(0, now - earliestDueAt) / 1000
}

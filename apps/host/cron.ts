/**
 * Cron Triggers on the host: each expression of wrangler.toml's `[triggers] crons` fires
 * the Worker's `scheduled()` at its next matching minute in UTC, as Cloudflare runs them.
 * Expressions are parsed by the scheduler block's parser (workers/scheduler/cron.ts); the
 * six-field form with seconds is refused, as Cloudflare refuses it. A run missed while
 * the process was down is not made up; a run that is still going when the next falls due
 * does not delay it (each invocation is independent). The clock is injected, so tests
 * fire schedules without sleeping. Cost: one timer per expression; finding the next time
 * is a forward scan of the calendar (see workers/scheduler/cron-search.ts).
 */
import { parseCron } from '../../workers/scheduler/cron'
import { nextCronTime } from '../../workers/scheduler/cron-search'

export interface CronClock {
  now(): number
  /** Calls `run` after `ms`; returns a cancel function. */
  setTimer(run: () => void, ms: number): () => void
}

export const systemClock: CronClock = {
  now: () => Date.now(),
  setTimer(run, ms) {
    const timer = setTimeout(run, ms)
    timer.unref?.()
    return () => clearTimeout(timer)
  },
}

/** Timers past 2^31-1 ms overflow: long waits re-arm in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

export type CronFire = (cron: string, scheduledTime: number) => Promise<void>

export class CronTriggers {
  private readonly schedules: { source: string; cron: NonNullable<ReturnType<typeof validCron>> }[]
  private readonly cancels = new Map<string, () => void>()
  private stopped = true

  constructor(
    crons: readonly string[],
    private readonly fire: CronFire,
    private readonly clock: CronClock = systemClock,
    private readonly log: (message: string, error?: unknown) => void = () => {},
  ) {
    this.schedules = crons.map((source) => ({ source, cron: validCron(source) }))
  }

  /** The next time each expression fires after `now`, in order of the configuration. */
  nextTimes(now = this.clock.now()): { cron: string; at: number | undefined }[] {
    return this.schedules.map(({ source, cron }) => ({ cron: source, at: nextCronTime(cron, 'UTC', now) }))
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    const now = this.clock.now()
    for (const schedule of this.schedules) this.arm(schedule, nextCronTime(schedule.cron, 'UTC', now))
  }

  stop(): void {
    this.stopped = true
    for (const cancel of this.cancels.values()) cancel()
    this.cancels.clear()
  }

  private arm(schedule: (typeof this.schedules)[number], due: number | undefined): void {
    if (this.stopped || due === undefined) return
    const wait = Math.min(Math.max(0, due - this.clock.now()), MAX_TIMER_MS)
    this.cancels.set(
      schedule.source,
      this.clock.setTimer(() => this.due(schedule, due), wait),
    )
  }

  private due(schedule: (typeof this.schedules)[number], due: number): void {
    if (this.stopped) return
    const now = this.clock.now()
    // Woken early (a long wait in steps, or a timer that ran ahead): wait for the rest.
    if (now < due) {
      this.arm(schedule, due)
      return
    }
    this.fire(schedule.source, due).catch((error) =>
      this.log(`scheduled() for "${schedule.source}" failed`, error),
    )
    this.arm(schedule, nextCronTime(schedule.cron, 'UTC', Math.max(due, now)))
  }
}

function validCron(source: string) {
  const parsed = parseCron(source)
  if (!parsed.ok) throw new Error(`wrangler.toml [triggers] crons: "${source}": ${parsed.error}`)
  if (
    parsed.cron.seconds.length !== 1 ||
    parsed.cron.seconds[0] !== 0 ||
    source.trim().split(/\s+/).length > 5
  )
    throw new Error(
      `wrangler.toml [triggers] crons: "${source}": Cron Triggers have five fields (no seconds)`,
    )
  return parsed.cron
}

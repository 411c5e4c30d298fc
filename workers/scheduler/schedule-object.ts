/**
 * `SchedulerSchedule`: one Durable Object per recurring schedule, `<tenant>:schedule:<name>`,
 * armed with its own alarm for its next due time. It is the schedule's clock and memory;
 * the work of a run is a task in a scheduler shard (so runs get the same retries, history,
 * fairness and tenant limits as one-off tasks), and the shard reports back when the task
 * ends (`runFinished`).
 *
 * On each wake it takes the due planned times (`collectDue`: catch-up window and policy),
 * admits each run by the overlap policy (`admitRun`), records it, then creates the run's
 * task under an id derived from the schedule's generation and the run id, so creating it
 * twice (a retry after a crash) names the same task: each run executes at least once and
 * is created once. A run counts as going from then until its task succeeds, fails for
 * good or is cancelled. Paused: no planned runs (trigger still works); times planned while
 * paused are not caught up on resume.
 */
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { admitRun, collectDue, plannerFor } from './schedule-plan'
import {
  type RunReason,
  type RunStatus,
  type RunView,
  type ScheduleRecord,
  type ScheduleSpec,
  ScheduleStore,
} from './schedule-store'
import { derivedTaskId, shardName, shardOfTask } from './tasks'

/** Planned runs handled per wake (catch-up `all`); more wake the alarm again at once. */
const RUNS_PER_WAKE = 100
/** Retry delay for a run whose task could not be created (its shard unreachable). */
const START_RETRY_MS = 2_000

export interface ScheduleState {
  name: string
  spec: ScheduleSpec
  paused: boolean
  pauseNote: string | null
  /** When the next planned run is due (planned time plus jitter); null when paused or none. */
  nextRunAt: number | null
  going: number
  buffered: number
  createdAt: number
  updatedAt: number
}

export class SchedulerSchedule extends HostedObject<Env> {
  private readonly store: ScheduleStore
  /** The clock; tests replace it. */
  clock: () => number = () => Date.now()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ScheduleStore(ctx.storage.sql)
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
    })
  }

  async create(tenant: string, name: string, spec: ScheduleSpec, paused: boolean): Promise<ScheduleState> {
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      if (this.store.load()) throw new AppError('conflict', `A schedule named "${name}" already exists.`)
      const generation = crypto.randomUUID()
      const planner = plannerFor(spec, `${tenant}/${name}/${generation}`)
      const next = planner.next(now)
      this.store.insert({
        tenant,
        name,
        spec,
        generation,
        paused,
        pauseNote: null,
        cursor: now,
        nextDueAt: next === undefined ? null : planner.dueAt(next),
        createdAt: now,
        updatedAt: now,
      })
    })
    await this.armAlarm()
    return this.describe()
  }

  async describe(): Promise<ScheduleState> {
    const record = this.record()
    const counts = this.store.counts()
    return {
      name: record.name,
      spec: record.spec,
      paused: record.paused,
      pauseNote: record.pauseNote,
      nextRunAt: record.paused ? null : record.nextDueAt,
      going: counts.going,
      buffered: counts.buffered,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    }
  }

  async pause(note: string | null): Promise<ScheduleState> {
    this.store.setPaused(true, note, this.clock())
    await this.armAlarm()
    return this.describe()
  }

  /** Resumes from now: times planned while paused are not run. */
  async resume(): Promise<ScheduleState> {
    const now = this.clock()
    const started = this.ctx.storage.transactionSync(() => {
      const record = this.record()
      this.store.setPaused(false, null, now)
      const planner = plannerFor(record.spec, this.seed(record))
      const next = planner.next(now)
      this.store.advance(Math.max(now, record.cursor), next === undefined ? null : planner.dueAt(next))
      return this.startBufferedIfIdle(now)
    })
    await this.startRuns(started)
    await this.armAlarm()
    return this.describe()
  }

  /** Runs now, outside the plan, under the overlap policy (also while paused). */
  async trigger(): Promise<RunView> {
    const now = this.clock()
    const runId = `trigger-${crypto.randomUUID()}`
    const started = this.ctx.storage.transactionSync(() =>
      this.admit(this.record(), runId, now, 'trigger', now),
    )
    await this.startRuns(started)
    return this.store.get(runId) as RunView
  }

  /** Forgets the schedule and its history; a run already going finishes on its own. */
  async remove(): Promise<void> {
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    this.store.migrate()
  }

  async runs(limit: number): Promise<RunView[]> {
    this.record()
    return this.store.recent(limit)
  }

  /**
   * A run's task ended (reported by its shard, at least once; a repeat, or a report about
   * the task of an earlier schedule of the same name, changes nothing).
   */
  async runFinished(runId: string, taskId: string, status: RunStatus, finishedAt: number): Promise<void> {
    const record = this.store.load()
    if (!record) return
    const started = this.ctx.storage.transactionSync(() => {
      if (!this.store.finishRun(runId, taskId, status, finishedAt)) return []
      return record.paused ? [] : this.startBufferedIfIdle(this.clock())
    })
    await this.startRuns(started)
  }

  override async alarm(): Promise<void> {
    const record = this.store.load()
    if (!record) return
    const now = this.clock()
    let more = false
    const started: RunView[] = this.store.starting()
    if (!record.paused) {
      const planner = plannerFor(record.spec, this.seed(record))
      const due = collectDue(record.spec, planner, record.cursor, now, RUNS_PER_WAKE)
      more = due.run.length === RUNS_PER_WAKE
      this.ctx.storage.transactionSync(() => {
        if (due.missed) {
          const { first, last } = due.missed
          this.store.addRun({
            runId: `missed-${first}-${last}`,
            plannedAt: first,
            reason: 'schedule',
            status: 'missed',
            taskId: null,
            startedAt: null,
            finishedAt: now,
            detail: `Planned times from ${new Date(first).toISOString()} to ${new Date(last).toISOString()} were not run (catch-up "${record.spec.catchup}", window ${record.spec.catchupWindowMs / 1000} s).`,
          })
        }
        for (const planned of due.run)
          started.push(...this.admit(record, `planned-${planned}`, planned, 'schedule', now))
        this.store.advance(due.cursor, due.nextPlanned === undefined ? null : planner.dueAt(due.nextPlanned))
      })
    }
    await this.startRuns(started)
    await this.armAlarm(more ? now : undefined)
  }

  /** Records a new run as starting, buffered or skipped; returns it when it starts. */
  private admit(
    record: ScheduleRecord,
    runId: string,
    plannedAt: number,
    reason: RunReason,
    now: number,
  ): RunView[] {
    const counts = this.store.counts()
    const admission = admitRun(record.spec.overlap, counts.going, counts.buffered)
    const status: RunStatus =
      admission === 'start' ? 'starting' : admission === 'buffer' ? 'buffered' : 'skipped'
    const run: RunView = {
      runId,
      plannedAt,
      reason,
      status,
      taskId: null,
      startedAt: admission === 'start' ? now : null,
      finishedAt: admission === 'skip' ? now : null,
      detail:
        admission === 'skip'
          ? `Skipped: ${counts.going} run(s) still going (overlap "${record.spec.overlap}").`
          : null,
    }
    this.store.addRun(run)
    return admission === 'start' ? [run] : []
  }

  private startBufferedIfIdle(now: number): RunView[] {
    const buffered = this.store.oldestBuffered()
    if (!buffered || this.store.counts().going > 0) return []
    this.store.markStarting(buffered.runId, '', now)
    return [{ ...buffered, status: 'starting', startedAt: now }]
  }

  /** Creates each run's task in its shard (idempotent: the id is derived from the run). */
  private async startRuns(runs: RunView[]): Promise<void> {
    if (runs.length === 0) return
    const record = this.record()
    const now = this.clock()
    await Promise.all(
      runs.map(async (run) => {
        const taskId = await derivedTaskId(`${this.seed(record)}/${run.runId}`)
        this.store.markStarting(run.runId, taskId, now)
        const shard = shardOfTask(taskId)
        try {
          await this.env.SCHEDULER_SHARDS.get(
            this.env.SCHEDULER_SHARDS.idFromName(shardName(shard)),
          ).createTask(shard, {
            id: taskId,
            tenant: record.tenant,
            target: record.spec.target,
            priority: record.spec.priority,
            runAt: now,
            retry: record.spec.retry,
            timeoutMs: record.spec.timeoutMs,
            schedule: { name: record.name, runId: run.runId, plannedAt: run.plannedAt },
          })
          this.store.markRunning(run.runId)
        } catch {
          // Stays `starting`; the alarm tries again (same id, so never twice).
        }
      }),
    )
    await this.armAlarm()
  }

  private async armAlarm(at?: number): Promise<void> {
    const record = this.store.load()
    if (!record) return
    const candidates: number[] = []
    if (at !== undefined) candidates.push(at)
    if (!record.paused && record.nextDueAt !== null) candidates.push(record.nextDueAt)
    if (this.store.starting().length > 0) candidates.push(this.clock() + START_RETRY_MS)
    if (candidates.length === 0) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(Math.min(...candidates))
  }

  private record(): ScheduleRecord {
    const record = this.store.load()
    if (!record) throw new AppError('not_found', 'No such schedule.')
    return record
  }

  private seed(record: ScheduleRecord): string {
    return `${record.tenant}/${record.name}/${record.generation}`
  }
}

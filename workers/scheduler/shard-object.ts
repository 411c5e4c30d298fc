/**
 * `SchedulerShard`: one of SHARD_COUNT Durable Objects, `scheduler-shard#<i>`, shared by
 * all tenants, each holding the one-off tasks whose id hashes to it (and the runs of
 * recurring schedules, which are tasks too). A thin host around `ShardStore`: it keeps the
 * due times in a table and one alarm on the earliest of them; there is no leader and no
 * polling loop.
 *
 * Each alarm is one fair dispatch round (`fairness.ts`): up to TASKS_PER_TENANT_PER_ROUND
 * due tasks of every tenant, as many as the tenant's limits grant (`SchedulerTenant`),
 * marked running under a lease in one transaction, then started without waiting for
 * them, and the alarm re-armed (immediately, if more are due). Each attempt's outcome is
 * recorded in one transaction; a retry goes back to the table with its backoff due time.
 * If this object dies mid-attempt, the lease expires and the attempt counts as failed:
 * at-least-once, never lost. A schedule run's end is reported to its schedule object
 * from an outbox, retried until it arrives.
 */
import { SCHEDULER_LIMITS } from '../../schemas/scheduler'
import { backoffDelayMs } from '../platform/delivery'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import { planRound } from './fairness'
import type { ShardLag } from './lag'
import { LeaseReleases } from './lease-releases'
import { type Dispatch, type NewTask, type RunOutcome, ShardStore, type TaskView } from './shard-store'
import { runAttempt } from './targets'
import { afterAttempt, LEASE_MARGIN_MS, type TaskStatus } from './tasks'

export const TASKS_PER_TENANT_PER_ROUND = 25
/** A tenant's slot is leased for the longest attempt a task may make, plus the margin. */
const GATE_LEASE_MS = SCHEDULER_LIMITS.maxTimeoutMs + LEASE_MARGIN_MS
/** How long a tenant whose limits could not be reached is left alone. */
const UNREACHABLE_TENANT_PAUSE_MS = 1_000
const OUTCOMES_PER_ALARM = 100

export interface Created {
  task: TaskView
  replayed: boolean
}

export class SchedulerShard extends HostedObject<Env> {
  private readonly store: ShardStore
  /** The clock, randomness (backoff jitter) and outbound fetch; tests replace them. */
  clock: () => number = () => Date.now()
  random: () => number = Math.random
  fetcher: (request: Request) => Promise<Response> = (request) => fetch(request)
  private readonly inFlight = new Map<string, Promise<void>>()
  private round: Promise<void> | undefined
  private readonly leases: LeaseReleases
  private armedAt: number | null = null
  private index = -1

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ShardStore(ctx.storage.sql)
    this.leases = new LeaseReleases((tenant, ids) => this.limitsOf(tenant).release(ids))
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
      const stored = this.ctx.storage.sql.exec("SELECT value FROM meta WHERE key = 'index'").toArray()[0]
      this.index = stored ? Number(stored.value) : -1
      this.armedAt = await ctx.storage.getAlarm()
    })
  }

  /**
   * Creates a task (or returns the one an equal request created: same idempotency key and
   * request hash, or the same derived id). 422 when the key was used for another request;
   * 400 when a new task's requested `runAt` is in the past (a replay is not checked again).
   */
  async createTask(
    shard: number,
    task: NewTask,
    idempotency?: { key: string; requestHash: string },
    requestedRunAt?: number,
  ): Promise<Created> {
    this.rememberIndex(shard)
    const now = this.clock()
    const notInThePast = () => {
      if (requestedRunAt !== undefined && requestedRunAt < now - SCHEDULER_LIMITS.pastToleranceMs) {
        throw new AppError('validation_failed', 'A one-off task cannot run in the past.', {
          errors: [{ path: 'body/runAt', message: 'Must not be in the past' }],
        })
      }
    }
    const result = this.ctx.storage.transactionSync(() =>
      this.store.create(task, now, idempotency, notInThePast),
    )
    if (result.kind === 'key-reused') {
      throw new AppError(
        'unprocessable',
        `The Idempotency-Key was already used for a different request (task ${result.taskId}).`,
      )
    }
    if (result.kind === 'id-taken') throw new AppError('conflict', 'A task with this id already exists.')
    await this.armAlarm()
    return { task: result.task, replayed: result.kind === 'replayed' }
  }

  async getTask(tenant: string, id: string): Promise<TaskView> {
    const task = this.store.get(tenant, id, true)
    if (!task) throw new AppError('not_found', `No task "${id}".`)
    return task
  }

  async listTasks(
    tenant: string,
    status: TaskStatus | undefined,
    after: { createdAt: number; id: string } | undefined,
    limit: number,
  ): Promise<TaskView[]> {
    return this.store.list(tenant, status, after, limit)
  }

  /**
   * Cancels a scheduled, running or failed task: it is never attempted again. An attempt
   * in flight finishes (and then gives its concurrency slot back); its outcome is only
   * recorded in the history.
   */
  async cancelTask(tenant: string, id: string): Promise<TaskView> {
    const now = this.clock()
    const cancelled = this.ctx.storage.transactionSync(() => this.store.cancel(tenant, id, now))
    if (!cancelled.task) throw new AppError('not_found', `No task "${id}".`)
    if (cancelled.task.status !== 'cancelled') {
      throw new AppError('conflict', `The task already ${cancelled.task.status}.`)
    }
    if (cancelled.outcome) await this.report(cancelled.outcome)
    await this.armAlarm()
    return cancelled.task
  }

  /** Moves a failed task back to scheduled, due now, with a fresh series of attempts. */
  async retryTask(tenant: string, id: string): Promise<TaskView> {
    const now = this.clock()
    const retried = this.ctx.storage.transactionSync(() => this.store.retryFailed(tenant, id, now))
    if (!retried) {
      const task = this.store.get(tenant, id)
      if (!task) throw new AppError('not_found', `No task "${id}".`)
      throw new AppError('conflict', `Only a failed task can be retried; this one is ${task.status}.`)
    }
    await this.armAlarm()
    return retried
  }

  /** Called by a tenant's limits object when a slot frees: that tenant may be dispatched again. */
  async wake(tenant: string): Promise<void> {
    this.store.blocks.unblock(tenant)
    await this.armAlarm()
  }

  /** Its lag histogram and due-but-not-started backlog, by its clock (for /metrics). */
  async lagSnapshot(): Promise<ShardLag> {
    return this.store.lag.snapshot(this.clock())
  }

  /** Resolves once no alarm round is running and no attempt of this instance is in flight. */
  async drainInFlight(): Promise<void> {
    while (this.round || this.inFlight.size > 0) {
      await this.round
      await Promise.all([...this.inFlight.values()])
    }
  }

  override async alarm(): Promise<void> {
    this.round = this.runAlarm()
    try {
      await this.round
    } finally {
      this.round = undefined
    }
  }

  private async runAlarm(): Promise<void> {
    this.armedAt = null
    const now = this.clock()
    await this.recoverLostAttempts(now)
    this.store.purgeExpired(now)
    for (const outcome of this.store.outbox.due(now, OUTCOMES_PER_ALARM)) await this.report(outcome)
    await this.dispatchRound(now)
    await this.armAlarm()
  }

  /** One fair round: due tasks per tenant, granted by each tenant's limits, interleaved. */
  private async dispatchRound(now: number): Promise<void> {
    const candidates = this.store.dueCandidates(now, TASKS_PER_TENANT_PER_ROUND)
    if (candidates.length === 0) return
    const wanted = new Map<string, number>()
    for (const candidate of candidates) wanted.set(candidate.tenant, (wanted.get(candidate.tenant) ?? 0) + 1)
    const grants = new Map(
      await Promise.all(
        [...wanted].map(async ([tenant, count]) => {
          try {
            return [
              tenant,
              await this.limitsOf(tenant).acquire(tenant, this.index, count, GATE_LEASE_MS, now),
            ] as const
          } catch {
            return [tenant, undefined] as const
          }
        }),
      ),
    )
    const round = planRound(
      candidates,
      TASKS_PER_TENANT_PER_ROUND,
      (tenant) => grants.get(tenant)?.leaseIds.length ?? 0,
    )
    const unusedLeases = new Map<string, string[]>()
    const started = this.ctx.storage.transactionSync(() => {
      for (const [tenant, acquired] of grants) {
        if (!acquired) this.store.blocks.block(tenant, now + UNREACHABLE_TENANT_PAUSE_MS)
        else if (acquired.refused) this.store.blocks.block(tenant, acquired.refused.until)
        unusedLeases.set(tenant, [...(acquired?.leaseIds ?? [])])
      }
      const dispatches: Array<{ dispatch: Dispatch; secret: string }> = []
      for (const candidate of round) {
        const leaseId = unusedLeases.get(candidate.tenant)?.pop()
        const acquired = grants.get(candidate.tenant)
        if (!leaseId || !acquired) continue
        const dispatch = this.store.start(candidate.id, leaseId, now)
        if (dispatch) dispatches.push({ dispatch, secret: acquired.secret })
        else unusedLeases.get(candidate.tenant)?.push(leaseId)
      }
      return dispatches
    })
    for (const { dispatch, secret } of started) this.launch(dispatch, secret)
    await Promise.all(
      [...unusedLeases]
        .filter(([, ids]) => ids.length > 0)
        .map(([tenant, ids]) => this.leases.release(tenant, ids)),
    )
  }

  private launch(dispatch: Dispatch, secret: string): void {
    const work = this.attempt(dispatch, secret)
      // Only storage or the object itself can fail here; the lease's expiry recovers the attempt.
      .catch((error: unknown) =>
        console.error(JSON.stringify({ level: 'error', task: dispatch.id, error: String(error) })),
      )
      .finally(() => this.inFlight.delete(dispatch.id))
    this.inFlight.set(dispatch.id, work)
  }

  private async attempt(dispatch: Dispatch, secret: string): Promise<void> {
    const startedAt = this.clock()
    const result = await runAttempt(dispatch.target, {
      env: this.env,
      tenant: dispatch.tenant,
      taskId: dispatch.id,
      attempt: dispatch.attempt,
      secret,
      timeoutMs: dispatch.timeoutMs,
      fetcher: this.fetcher,
    }).catch((error: unknown) => {
      console.error(JSON.stringify({ level: 'error', task: dispatch.id, error: String(error) }))
      return {
        ok: false,
        error: 'the attempt failed inside the scheduler; it will be retried',
        durationMs: 0,
      } as const
    })
    await this.settleAttempt(dispatch, startedAt, result)
  }

  private async settleAttempt(
    dispatch: Dispatch,
    startedAt: number,
    result: { ok: boolean; responseCode?: number; error?: string; durationMs: number },
  ): Promise<void> {
    const finishedAt = this.clock()
    const outcome = this.ctx.storage.transactionSync(() =>
      this.store.finish(
        dispatch.id,
        dispatch.leaseId,
        {
          attempt: dispatch.attempt,
          startedAt,
          durationMs: result.durationMs,
          status: result.ok ? 'succeeded' : 'failed',
          ...(result.responseCode !== undefined ? { responseCode: result.responseCode } : {}),
          ...(result.error !== undefined ? { error: result.error } : {}),
        },
        (attempts) => afterAttempt(attempts, result, dispatch.retry, finishedAt, this.random()),
        finishedAt,
      ),
    )
    await this.leases.release(dispatch.tenant, [dispatch.leaseId])
    if (outcome) await this.report(outcome)
    await this.armAlarm()
  }

  /** Attempts whose lease expired with no outcome (this object restarted mid-attempt). */
  private async recoverLostAttempts(now: number): Promise<void> {
    for (const { dispatch, startedAt } of this.store.expiredLeases(now, new Set(this.inFlight.keys()))) {
      await this.settleAttempt(dispatch, startedAt, {
        ok: false,
        error: 'attempt lost: no outcome before its lease expired',
        durationMs: now - startedAt,
      })
    }
  }

  private async report(outcome: RunOutcome): Promise<void> {
    try {
      const schedule = objectStub(this.env.SCHEDULER_SCHEDULES, outcome.tenant, 'schedule', outcome.schedule)
      await schedule.runFinished(outcome.runId, outcome.taskId, outcome.status, outcome.finishedAt)
      this.store.outbox.delivered(outcome.taskId)
    } catch {
      const now = this.clock()
      this.store.outbox.failed(outcome.taskId, (tries) => 1_000 + backoffDelayMs(tries, this.random()), now)
    }
  }

  private limitsOf(tenant: string) {
    return objectStub(this.env.SCHEDULER_TENANTS, tenant, 'scheduler-tenant', 'settings')
  }

  private rememberIndex(shard: number): void {
    if (this.index === shard) return
    this.index = shard
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('index', ?)", String(shard))
  }

  private async armAlarm(): Promise<void> {
    const at = this.store.nextWakeAt(this.clock())
    if (at === undefined) {
      if (this.armedAt !== null) await this.ctx.storage.deleteAlarm()
      this.armedAt = null
    } else if (this.armedAt !== at) {
      await this.ctx.storage.setAlarm(at)
      this.armedAt = at
    }
  }
}

/**
 * The one-off tasks of one scheduler shard, in its Durable Object's SQLite. Every row
 * carries its tenant and every read is filtered by it; the object calls each method that
 * writes inside one `transactionSync`, so each read-compute-write is atomic.
 *
 * Tables: `tasks` (state and next due time, see tasks.ts) and `attempts` (the last
 * HISTORY_LIMIT per task), task-records.ts; idempotency keys, tenant blocks and the run
 * outbox, shard-tables.ts. Cost: a dispatch round is one windowed scan of the due tasks
 * (index on status, due_at); every other operation is a few indexed statements.
 */
import { type Candidate, PRIORITIES } from './fairness'
import { dueTimeOf, lagSeconds } from './lag'
import { earliest, IdempotencyKeys, LagRecorder, RunOutbox, SIDE_TABLES, TenantBlocks } from './shard-tables'
import {
  type AttemptRecord,
  attemptStartOf,
  type Dispatch,
  type NewTask,
  type Row,
  type RunOutcome,
  TASK_TABLES,
  type TaskView,
  toAttempt,
  toDispatch,
  toView,
} from './task-records'
import { HISTORY_LIMIT, keepUntil, LEASE_MARGIN_MS, type NextStep, type TaskStatus } from './tasks'

export type { AttemptRecord, Dispatch, NewTask, RunOutcome, TaskView } from './task-records'

export type CreateResult =
  | { kind: 'created' | 'replayed'; task: TaskView }
  | { kind: 'key-reused'; taskId: string }
  | { kind: 'id-taken' }

export class ShardStore {
  readonly keys: IdempotencyKeys
  readonly blocks: TenantBlocks
  readonly outbox: RunOutbox
  readonly lag: LagRecorder

  constructor(private readonly sql: SqlStorage) {
    this.keys = new IdempotencyKeys(sql)
    this.blocks = new TenantBlocks(sql)
    this.outbox = new RunOutbox(sql)
    this.lag = new LagRecorder(sql)
  }

  migrate(): void {
    this.sql.exec(TASK_TABLES + SIDE_TABLES)
  }

  /**
   * Creates a task; with an idempotency key, the same key and hash return the first task.
   * `checkNew` runs only when a task is about to be created (it throws to refuse).
   */
  create(
    task: NewTask,
    now: number,
    idempotency?: { key: string; requestHash: string },
    checkNew: () => void = () => {},
  ): CreateResult {
    if (idempotency) {
      const earlier = this.keys.find(task.tenant, idempotency.key, now)
      if (earlier) {
        if (earlier.requestHash !== idempotency.requestHash)
          return { kind: 'key-reused', taskId: earlier.taskId }
        const first = this.get(task.tenant, earlier.taskId)
        if (first) return { kind: 'replayed', task: first }
      }
    }
    const existing = this.sql.exec('SELECT tenant FROM tasks WHERE id = ?', task.id).toArray()[0]
    if (existing) {
      const mine = existing.tenant === task.tenant ? this.get(task.tenant, task.id) : undefined
      return mine ? { kind: 'replayed', task: mine } : { kind: 'id-taken' }
    }
    checkNew()
    this.sql.exec(
      `INSERT INTO tasks (id, tenant, status, priority, run_at, due_at, target, retry, timeout_ms,
         schedule, run_id, planned_at, created_at, updated_at)
       VALUES (?, ?, 'scheduled', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      task.id,
      task.tenant,
      PRIORITIES.indexOf(task.priority),
      task.runAt,
      task.runAt,
      JSON.stringify(task.target),
      JSON.stringify(task.retry),
      task.timeoutMs,
      task.schedule?.name ?? null,
      task.schedule?.runId ?? null,
      task.schedule?.plannedAt ?? null,
      now,
      now,
    )
    if (idempotency) this.keys.remember(task.tenant, idempotency.key, idempotency.requestHash, task.id, now)
    return { kind: 'created', task: this.get(task.tenant, task.id) as TaskView }
  }

  get(tenant: string, id: string, withHistory = false): TaskView | undefined {
    const row = this.sql.exec('SELECT * FROM tasks WHERE tenant = ? AND id = ?', tenant, id).toArray()[0]
    if (!row) return undefined
    const view = toView(row)
    if (withHistory) {
      view.history = this.sql
        .exec('SELECT * FROM attempts WHERE task_id = ? ORDER BY attempt', id)
        .toArray()
        .map(toAttempt)
    }
    return view
  }

  /** A tenant's tasks after position (createdAt, id), oldest first. */
  list(
    tenant: string,
    status: TaskStatus | undefined,
    after: { createdAt: number; id: string } | undefined,
    limit: number,
  ) {
    return this.sql
      .exec(
        `SELECT * FROM tasks WHERE tenant = ? AND (? IS NULL OR status = ?)
           AND (created_at > ? OR (created_at = ? AND id > ?))
         ORDER BY created_at, id LIMIT ?`,
        tenant,
        status ?? null,
        status ?? null,
        after?.createdAt ?? -1,
        after?.createdAt ?? -1,
        after?.id ?? '',
        limit,
      )
      .toArray()
      .map(toView)
  }

  /** Up to `perTenant` due tasks of each tenant not blocked by its limits. */
  dueCandidates(now: number, perTenant: number): Candidate[] {
    return this.sql
      .exec(
        `SELECT id, tenant, priority, due_at FROM (
           SELECT id, tenant, priority, due_at,
                  ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY priority, due_at, id) AS position
           FROM tasks WHERE status = 'scheduled' AND due_at <= ?
             AND tenant NOT IN (SELECT tenant FROM tenant_blocks WHERE until > ?))
         WHERE position <= ?`,
        now,
        now,
        perTenant,
      )
      .toArray()
      .map((row) => ({
        id: String(row.id),
        tenant: String(row.tenant),
        priorityRank: Number(row.priority),
        dueAt: Number(row.due_at),
      }))
  }

  /** Marks a due task running under a lease (its lag observed); undefined if it is no longer due. */
  start(id: string, leaseId: string, now: number): Dispatch | undefined {
    const due = this.sql
      .exec("SELECT due_at, planned_at, attempt_total FROM tasks WHERE id = ? AND status = 'scheduled'", id)
      .toArray()[0]
    const row = this.sql
      .exec(
        `UPDATE tasks SET status = 'running', attempts = attempts + 1, attempt_total = attempt_total + 1,
           lease_id = ?, lease_until = ? + timeout_ms + ?, due_at = NULL, updated_at = ?
         WHERE id = ? AND status = 'scheduled' AND due_at <= ? RETURNING *`,
        leaseId,
        now,
        LEASE_MARGIN_MS,
        now,
        id,
        now,
      )
      .toArray()[0]
    if (!row || !due) return undefined
    const dueAt = dueTimeOf({
      dueAt: Number(due.due_at),
      plannedAt: due.planned_at === null ? null : Number(due.planned_at),
      attemptsSoFar: Number(due.attempt_total),
    })
    this.lag.observe(lagSeconds(dueAt, now))
    return toDispatch(row)
  }

  /**
   * Records the outcome of the attempt holding `leaseId` and moves the task to `next`
   * (computed from the current series' attempt count). Returns the run outcome to report
   * when a schedule's task reached its end. An outcome for a lease the task no longer
   * holds (cancelled meanwhile, or recovered as lost) is kept in the history only.
   */
  finish(
    id: string,
    leaseId: string,
    attempt: AttemptRecord,
    decide: (attemptsInSeries: number) => NextStep,
    now: number,
  ): RunOutcome | undefined {
    this.sql.exec(
      `INSERT OR REPLACE INTO attempts (task_id, attempt, started_at, duration_ms, status, response_code, error)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      id,
      attempt.attempt,
      attempt.startedAt,
      attempt.durationMs,
      attempt.status,
      attempt.responseCode ?? null,
      attempt.error ?? null,
    )
    this.sql.exec(
      'DELETE FROM attempts WHERE task_id = ? AND attempt <= ?',
      id,
      attempt.attempt - HISTORY_LIMIT,
    )
    const row = this.sql
      .exec("SELECT * FROM tasks WHERE id = ? AND status = 'running' AND lease_id = ?", id, leaseId)
      .toArray()[0]
    if (!row) return undefined
    const next = decide(Number(row.attempts))
    const lastError = attempt.status === 'failed' ? (attempt.error ?? 'failed') : null
    if (next.status === 'scheduled') {
      this.sql.exec(
        `UPDATE tasks SET status = 'scheduled', due_at = ?, lease_id = NULL, lease_until = NULL,
           last_error = ?, last_code = ?, updated_at = ? WHERE id = ?`,
        next.dueAt,
        lastError,
        attempt.responseCode ?? null,
        now,
        id,
      )
      return undefined
    }
    this.sql.exec(
      `UPDATE tasks SET status = ?, lease_id = NULL, lease_until = NULL, last_error = ?, last_code = ?,
         updated_at = ?, finished_at = ?, expires_at = ? WHERE id = ?`,
      next.status,
      lastError,
      attempt.responseCode ?? null,
      now,
      now,
      keepUntil(next.status, now),
      id,
    )
    return this.queueOutcome(row, next.status, now)
  }

  /** Running tasks whose lease ran out and whose attempt this instance is not awaiting. */
  expiredLeases(now: number, awaited: ReadonlySet<string>): Array<{ dispatch: Dispatch; startedAt: number }> {
    return this.sql
      .exec("SELECT * FROM tasks WHERE status = 'running' AND lease_until <= ?", now)
      .toArray()
      .filter((row) => !awaited.has(String(row.id)))
      .map((row) => ({ dispatch: toDispatch(row), startedAt: attemptStartOf(row) }))
  }

  /** Cancels a scheduled, running or failed task; returns it (as it is when not cancellable). */
  cancel(tenant: string, id: string, now: number): { task?: TaskView; outcome?: RunOutcome } {
    const row = this.sql
      .exec(
        "SELECT * FROM tasks WHERE tenant = ? AND id = ? AND status IN ('scheduled', 'running', 'failed')",
        tenant,
        id,
      )
      .toArray()[0]
    if (!row) return { task: this.get(tenant, id) }
    this.sql.exec(
      `UPDATE tasks SET status = 'cancelled', due_at = NULL, lease_id = NULL, lease_until = NULL,
         updated_at = ?, finished_at = ?, expires_at = ? WHERE id = ?`,
      now,
      now,
      keepUntil('cancelled', now),
      id,
    )
    const outcome = row.status === 'failed' ? undefined : this.queueOutcome(row, 'cancelled', now)
    return { task: this.get(tenant, id), ...(outcome ? { outcome } : {}) }
  }

  /** A failed task starts a new series of attempts now; undefined if it is not failed. */
  retryFailed(tenant: string, id: string, now: number): TaskView | undefined {
    const updated = this.sql
      .exec(
        `UPDATE tasks SET status = 'scheduled', attempts = 0, due_at = ?, finished_at = NULL, expires_at = NULL,
           updated_at = ? WHERE tenant = ? AND id = ? AND status = 'failed' RETURNING id`,
        now,
        now,
        tenant,
        id,
      )
      .toArray()
    return updated.length > 0 ? this.get(tenant, id) : undefined
  }

  purgeExpired(now: number): number {
    const expired = this.sql.exec('DELETE FROM tasks WHERE expires_at <= ? RETURNING id', now).toArray()
    for (const row of expired) this.sql.exec('DELETE FROM attempts WHERE task_id = ?', row.id)
    this.keys.purge(now)
    this.blocks.purge(now)
    return expired.length
  }

  /** The earliest time something here needs the alarm, if anything does. */
  nextWakeAt(now: number): number | undefined {
    const times = [
      earliest(
        this.sql,
        `SELECT MIN(due_at) AS at FROM tasks WHERE status = 'scheduled'
           AND tenant NOT IN (SELECT tenant FROM tenant_blocks WHERE until > ?)`,
        now,
      ),
      earliest(this.sql, "SELECT MIN(lease_until) AS at FROM tasks WHERE status = 'running'"),
      earliest(this.sql, 'SELECT MIN(expires_at) AS at FROM tasks WHERE expires_at IS NOT NULL'),
      this.blocks.earliestEnd(),
      this.outbox.earliest(),
      this.keys.earliestExpiry(),
    ].filter((at) => at !== undefined)
    return times.length > 0 ? Math.min(...times) : undefined
  }

  private queueOutcome(row: Row, status: RunOutcome['status'], now: number): RunOutcome | undefined {
    if (row.schedule === null) return undefined
    const outcome: RunOutcome = {
      taskId: String(row.id),
      tenant: String(row.tenant),
      schedule: String(row.schedule),
      runId: String(row.run_id),
      status,
      finishedAt: now,
    }
    this.outbox.add(outcome)
    return outcome
  }
}

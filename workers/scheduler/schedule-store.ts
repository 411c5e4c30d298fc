/**
 * The state of one recurring schedule in its Durable Object's SQLite: the spec, whether it
 * is paused, the cursor (the latest planned time already handled) and the next due time,
 * and its runs. A run is `starting` (its task is being created), `running` (its task is
 * not finished), `buffered` (waiting for the running ones, overlap `buffer_one`), or
 * finished: `succeeded`, `failed`, `cancelled`, `skipped` (overlap) or `missed` (catch-up).
 * Finished runs beyond the last RUN_HISTORY_LIMIT are deleted. The object calls each
 * writing method inside one `transactionSync`.
 */
import type { Priority } from './fairness'
import type { CatchupPolicy, OverlapPolicy, Timing } from './schedule-plan'
import type { Target } from './targets'
import type { RetryPolicy } from './tasks'

export const RUN_HISTORY_LIMIT = 100

export interface ScheduleSpec {
  timing: Timing
  target: Target
  priority: Priority
  retry: RetryPolicy
  timeoutMs: number
  overlap: OverlapPolicy
  catchup: CatchupPolicy
  catchupWindowMs: number
  jitterMs: number
}

export type RunStatus =
  | 'starting'
  | 'running'
  | 'buffered'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'skipped'
  | 'missed'

export type RunReason = 'schedule' | 'trigger'

export interface RunView {
  runId: string
  plannedAt: number
  reason: RunReason
  status: RunStatus
  taskId: string | null
  startedAt: number | null
  finishedAt: number | null
  detail: string | null
}

export interface ScheduleRecord {
  tenant: string
  name: string
  spec: ScheduleSpec
  generation: string
  paused: boolean
  pauseNote: string | null
  cursor: number
  nextDueAt: number | null
  createdAt: number
  updatedAt: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schedule (
  id INTEGER PRIMARY KEY CHECK (id = 1), tenant TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
  generation TEXT NOT NULL, paused INTEGER NOT NULL, pause_note TEXT, cursor INTEGER NOT NULL,
  next_due_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, planned_at INTEGER NOT NULL,
  reason TEXT NOT NULL, status TEXT NOT NULL, task_id TEXT, started_at INTEGER, finished_at INTEGER, detail TEXT);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, seq);
`

const GOING: RunStatus[] = ['starting', 'running']
const FINISHED_SQL = "('succeeded', 'failed', 'cancelled', 'skipped', 'missed')"

function toRun(row: Record<string, SqlStorageValue>): RunView {
  const numberOrNull = (value: SqlStorageValue | undefined) =>
    value === null || value === undefined ? null : Number(value)
  return {
    runId: String(row.run_id),
    plannedAt: Number(row.planned_at),
    reason: row.reason as RunReason,
    status: row.status as RunStatus,
    taskId: row.task_id === null ? null : String(row.task_id),
    startedAt: numberOrNull(row.started_at),
    finishedAt: numberOrNull(row.finished_at),
    detail: row.detail === null ? null : String(row.detail),
  }
}

export class ScheduleStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(SCHEMA)
  }

  load(): ScheduleRecord | undefined {
    const row = this.sql.exec('SELECT * FROM schedule WHERE id = 1').toArray()[0]
    if (!row) return undefined
    return {
      tenant: String(row.tenant),
      name: String(row.name),
      spec: JSON.parse(String(row.spec)) as ScheduleSpec,
      generation: String(row.generation),
      paused: row.paused === 1,
      pauseNote: row.pause_note === null ? null : String(row.pause_note),
      cursor: Number(row.cursor),
      nextDueAt: row.next_due_at === null ? null : Number(row.next_due_at),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    }
  }

  insert(record: ScheduleRecord): void {
    this.sql.exec(
      `INSERT INTO schedule (id, tenant, name, spec, generation, paused, pause_note, cursor, next_due_at, created_at, updated_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.tenant,
      record.name,
      JSON.stringify(record.spec),
      record.generation,
      record.paused ? 1 : 0,
      record.pauseNote,
      record.cursor,
      record.nextDueAt,
      record.createdAt,
      record.updatedAt,
    )
  }

  setPaused(paused: boolean, note: string | null, now: number): void {
    this.sql.exec(
      'UPDATE schedule SET paused = ?, pause_note = ?, updated_at = ? WHERE id = 1',
      paused ? 1 : 0,
      note,
      now,
    )
  }

  advance(cursor: number, nextDueAt: number | null): void {
    this.sql.exec('UPDATE schedule SET cursor = ?, next_due_at = ? WHERE id = 1', cursor, nextDueAt)
  }

  counts(): { going: number; buffered: number } {
    const row = this.sql
      .exec(
        `SELECT SUM(status IN ('starting', 'running')) AS going, SUM(status = 'buffered') AS buffered
         FROM runs WHERE status IN ('starting', 'running', 'buffered')`,
      )
      .one()
    return { going: Number(row.going ?? 0), buffered: Number(row.buffered ?? 0) }
  }

  addRun(run: RunView): void {
    this.sql.exec(
      `INSERT OR IGNORE INTO runs (run_id, planned_at, reason, status, task_id, started_at, finished_at, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      run.runId,
      run.plannedAt,
      run.reason,
      run.status,
      run.taskId,
      run.startedAt,
      run.finishedAt,
      run.detail,
    )
    this.sql.exec(
      `DELETE FROM runs WHERE status IN ${FINISHED_SQL} AND seq <= (SELECT MAX(seq) FROM runs) - ?`,
      RUN_HISTORY_LIMIT,
    )
  }

  /** Marks a run starting with its task id (from `buffered`, or re-marks a `starting` one). */
  markStarting(runId: string, taskId: string, now: number): void {
    this.sql.exec(
      "UPDATE runs SET status = 'starting', task_id = ?, started_at = COALESCE(started_at, ?) WHERE run_id = ?",
      taskId,
      now,
      runId,
    )
  }

  markRunning(runId: string): void {
    this.sql.exec("UPDATE runs SET status = 'running' WHERE run_id = ? AND status = 'starting'", runId)
  }

  /** Ends a going run of task `taskId`; false when it is not (any more) going. */
  finishRun(runId: string, taskId: string, status: RunStatus, finishedAt: number): boolean {
    const finished = this.sql
      .exec(
        `UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ? AND task_id = ?
           AND status IN ('starting', 'running') RETURNING run_id`,
        status,
        finishedAt,
        runId,
        taskId,
      )
      .toArray()
    return finished.length > 0
  }

  oldestBuffered(): RunView | undefined {
    const row = this.sql
      .exec("SELECT * FROM runs WHERE status = 'buffered' ORDER BY seq LIMIT 1")
      .toArray()[0]
    return row ? toRun(row) : undefined
  }

  /** Runs whose task creation has not been confirmed yet. */
  starting(): RunView[] {
    return this.sql.exec("SELECT * FROM runs WHERE status = 'starting' ORDER BY seq").toArray().map(toRun)
  }

  get(runId: string): RunView | undefined {
    const row = this.sql.exec('SELECT * FROM runs WHERE run_id = ?', runId).toArray()[0]
    return row ? toRun(row) : undefined
  }

  /** The latest runs first. */
  recent(limit: number): RunView[] {
    return this.sql.exec('SELECT * FROM runs ORDER BY seq DESC LIMIT ?', limit).toArray().map(toRun)
  }

  isGoing(status: RunStatus): boolean {
    return GOING.includes(status)
  }
}

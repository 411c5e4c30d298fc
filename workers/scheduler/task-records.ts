/**
 * The rows of a scheduler shard: the tasks and attempts tables, the shapes the shard
 * hands out (`TaskView`, `Dispatch`, `RunOutcome`) and the conversions from rows.
 */
import { PRIORITIES, type Priority } from './fairness'
import type { Target } from './targets'
import { LEASE_MARGIN_MS, type RetryPolicy, type TaskStatus } from './tasks'

export interface ScheduleRun {
  name: string
  runId: string
  plannedAt: number
}

export interface NewTask {
  id: string
  tenant: string
  target: Target
  priority: Priority
  runAt: number
  retry: RetryPolicy
  timeoutMs: number
  schedule?: ScheduleRun
}

export interface AttemptRecord {
  attempt: number
  startedAt: number
  durationMs: number
  status: 'succeeded' | 'failed'
  responseCode?: number
  error?: string
}

export interface TaskView {
  id: string
  status: TaskStatus
  priority: Priority
  target: Target
  runAt: number
  /** When the next attempt is due (only while scheduled). */
  dueAt: number | null
  /** Attempts in the current series (reset by a manual retry). */
  attempts: number
  retry: RetryPolicy
  timeoutMs: number
  createdAt: number
  updatedAt: number
  finishedAt: number | null
  lastError: string | null
  lastResponseCode: number | null
  schedule: ScheduleRun | null
  history?: AttemptRecord[]
}

/** A task just marked running, with what its attempt needs. */
export interface Dispatch {
  id: string
  tenant: string
  target: Target
  retry: RetryPolicy
  timeoutMs: number
  attempt: number
  leaseId: string
}

export interface RunOutcome {
  taskId: string
  tenant: string
  schedule: string
  runId: string
  status: 'succeeded' | 'failed' | 'cancelled'
  finishedAt: number
}

export type Row = Record<string, SqlStorageValue>

export const TASK_TABLES = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, status TEXT NOT NULL, priority INTEGER NOT NULL,
  run_at INTEGER NOT NULL, due_at INTEGER, target TEXT NOT NULL, retry TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, attempt_total INTEGER NOT NULL DEFAULT 0,
  lease_id TEXT, lease_until INTEGER, last_error TEXT, last_code INTEGER,
  schedule TEXT, run_id TEXT, planned_at INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER, expires_at INTEGER);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (status, due_at);
CREATE INDEX IF NOT EXISTS tasks_tenant ON tasks (tenant, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS attempts (
  task_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
  status TEXT NOT NULL, response_code INTEGER, error TEXT, PRIMARY KEY (task_id, attempt));
`

export const json = <T>(value: SqlStorageValue | undefined): T => JSON.parse(String(value)) as T
const numberOrNull = (value: SqlStorageValue | undefined) =>
  value === null || value === undefined ? null : Number(value)

export function toView(row: Row): TaskView {
  return {
    id: String(row.id),
    status: row.status as TaskStatus,
    priority: PRIORITIES[Number(row.priority)] ?? 'normal',
    target: json<Target>(row.target),
    runAt: Number(row.run_at),
    dueAt: row.status === 'scheduled' ? numberOrNull(row.due_at) : null,
    attempts: Number(row.attempts),
    retry: json<RetryPolicy>(row.retry),
    timeoutMs: Number(row.timeout_ms),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: numberOrNull(row.finished_at),
    lastError: row.last_error === null ? null : String(row.last_error),
    lastResponseCode: numberOrNull(row.last_code),
    schedule:
      row.schedule === null
        ? null
        : { name: String(row.schedule), runId: String(row.run_id), plannedAt: Number(row.planned_at) },
  }
}

/** What an attempt of a running task needs (its lease is the one it holds). */
export function toDispatch(row: Row): Dispatch {
  return {
    id: String(row.id),
    tenant: String(row.tenant),
    target: json<Target>(row.target),
    retry: json<RetryPolicy>(row.retry),
    timeoutMs: Number(row.timeout_ms),
    attempt: Number(row.attempt_total),
    leaseId: String(row.lease_id),
  }
}

/** When the attempt of a running task started (its lease is timeout + margin long). */
export function attemptStartOf(row: Row): number {
  return Number(row.lease_until) - Number(row.timeout_ms) - LEASE_MARGIN_MS
}

export function toAttempt(row: Row): AttemptRecord {
  return {
    attempt: Number(row.attempt),
    startedAt: Number(row.started_at),
    durationMs: Number(row.duration_ms),
    status: row.status as AttemptRecord['status'],
    ...(row.response_code !== null ? { responseCode: Number(row.response_code) } : {}),
    ...(row.error !== null ? { error: String(row.error) } : {}),
  }
}

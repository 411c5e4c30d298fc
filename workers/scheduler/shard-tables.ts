/**
 * The small tables beside a shard's tasks, each with one job:
 * - `idempotency`: tenant + Idempotency-Key → the request's hash and its task, for 24 h;
 * - `tenant_blocks`: tenants whose limits said "not now", and until when (a rate limit's
 *   next token, or a concurrency slot's latest possible release; a wake clears it early);
 * - `outbox`: a schedule run's end still to report to its schedule object, retried with
 *   backoff until the report arrives (at-least-once; the schedule ignores repeats);
 * - `lag`: the lag histogram of started attempts, one row per bucket (lag.ts).
 * Callers run these inside the shard's transactions.
 */
import { LAG_BOUNDS, lagBucket, lagHistogram, overdueSeconds, type ShardLag } from './lag'
import type { RunOutcome } from './task-records'
import { IDEMPOTENCY_TTL_MS } from './tasks'

export const SIDE_TABLES = `
CREATE TABLE IF NOT EXISTS idempotency (
  tenant TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, task_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL, PRIMARY KEY (tenant, key));
CREATE TABLE IF NOT EXISTS tenant_blocks (tenant TEXT PRIMARY KEY, until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  task_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, schedule TEXT NOT NULL, run_id TEXT NOT NULL,
  status TEXT NOT NULL, finished_at INTEGER NOT NULL, tries INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lag (bucket INTEGER PRIMARY KEY, count INTEGER NOT NULL, sum REAL NOT NULL);
`

export class IdempotencyKeys {
  constructor(private readonly sql: SqlStorage) {}

  /** The live record of a key (an expired one is deleted first). */
  find(tenant: string, key: string, now: number): { requestHash: string; taskId: string } | undefined {
    this.sql.exec(
      'DELETE FROM idempotency WHERE tenant = ? AND key = ? AND expires_at <= ?',
      tenant,
      key,
      now,
    )
    const row = this.sql
      .exec('SELECT request_hash, task_id FROM idempotency WHERE tenant = ? AND key = ?', tenant, key)
      .toArray()[0]
    return row ? { requestHash: String(row.request_hash), taskId: String(row.task_id) } : undefined
  }

  remember(tenant: string, key: string, requestHash: string, taskId: string, now: number): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO idempotency (tenant, key, request_hash, task_id, expires_at) VALUES (?, ?, ?, ?, ?)',
      tenant,
      key,
      requestHash,
      taskId,
      now + IDEMPOTENCY_TTL_MS,
    )
  }

  purge(now: number): void {
    this.sql.exec('DELETE FROM idempotency WHERE expires_at <= ?', now)
  }

  earliestExpiry(): number | undefined {
    return earliest(this.sql, 'SELECT MIN(expires_at) AS at FROM idempotency')
  }
}

export class TenantBlocks {
  constructor(private readonly sql: SqlStorage) {}

  block(tenant: string, until: number): void {
    this.sql.exec('INSERT OR REPLACE INTO tenant_blocks (tenant, until) VALUES (?, ?)', tenant, until)
  }

  unblock(tenant: string): void {
    this.sql.exec('DELETE FROM tenant_blocks WHERE tenant = ?', tenant)
  }

  purge(now: number): void {
    this.sql.exec('DELETE FROM tenant_blocks WHERE until <= ?', now)
  }

  earliestEnd(): number | undefined {
    return earliest(this.sql, 'SELECT MIN(until) AS at FROM tenant_blocks')
  }
}

export class RunOutbox {
  constructor(private readonly sql: SqlStorage) {}

  add(outcome: RunOutcome): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO outbox (task_id, tenant, schedule, run_id, status, finished_at, next_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      outcome.taskId,
      outcome.tenant,
      outcome.schedule,
      outcome.runId,
      outcome.status,
      outcome.finishedAt,
      outcome.finishedAt,
    )
  }

  due(now: number, limit: number): RunOutcome[] {
    return this.sql
      .exec('SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?', now, limit)
      .toArray()
      .map((row) => ({
        taskId: String(row.task_id),
        tenant: String(row.tenant),
        schedule: String(row.schedule),
        runId: String(row.run_id),
        status: row.status as RunOutcome['status'],
        finishedAt: Number(row.finished_at),
      }))
  }

  delivered(taskId: string): void {
    this.sql.exec('DELETE FROM outbox WHERE task_id = ?', taskId)
  }

  /** Not delivered: try again after `delayMs(tries)`. */
  failed(taskId: string, delayMs: (tries: number) => number, now: number): void {
    const row = this.sql
      .exec('UPDATE outbox SET tries = tries + 1 WHERE task_id = ? RETURNING tries', taskId)
      .toArray()[0]
    if (row) {
      this.sql.exec(
        'UPDATE outbox SET next_at = ? WHERE task_id = ?',
        now + delayMs(Number(row.tries)),
        taskId,
      )
    }
  }

  earliest(): number | undefined {
    return earliest(this.sql, 'SELECT MIN(next_at) AS at FROM outbox')
  }
}

export class LagRecorder {
  constructor(private readonly sql: SqlStorage) {}

  observe(seconds: number): void {
    this.sql.exec(
      `INSERT INTO lag (bucket, count, sum) VALUES (?, 1, ?)
       ON CONFLICT (bucket) DO UPDATE SET count = count + 1, sum = sum + excluded.sum`,
      lagBucket(seconds),
      seconds,
    )
  }

  /** The histogram, and the due tasks not started at `now` (all tenants, blocked ones too). */
  snapshot(now: number): ShardLag {
    const rows = this.sql
      .exec<{ bucket: number; count: number; sum: number }>(
        'SELECT bucket, count, sum FROM lag WHERE bucket <= ?',
        LAG_BOUNDS.length,
      )
      .toArray()
    const backlog = this.sql
      .exec<{ n: number; at: number | null }>(
        "SELECT COUNT(*) AS n, MIN(due_at) AS at FROM tasks WHERE status = 'scheduled' AND due_at <= ?",
        now,
      )
      .one()
    return {
      lag: lagHistogram(rows),
      backlog: backlog.n,
      oldestOverdueSeconds: overdueSeconds(backlog.at, now),
    }
  }
}

/** One `MIN(...) AS at` query's answer (each its own query: SQLite in a Durable Object caps compound selects). */
export function earliest(sql: SqlStorage, query: string, ...bindings: SqlStorageValue[]): number | undefined {
  const at = sql.exec(query, ...bindings).one().at
  return at === null || at === undefined ? undefined : Number(at)
}

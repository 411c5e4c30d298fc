/**
 * `SearchTasks`: a tenant's Meilisearch task log, `<tenant>:search-tasks`. Writes run
 * inside the request that makes them; the task is then recorded here with its final
 * status (succeeded or failed, with the error) and gets the next `uid` of the tenant, so
 * `GET /tasks/{uid}` answers at once and uids increase in completion order.
 *
 * Cost: one insert per write; listings are by uid, newest first, with `from`/`limit` paging.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import type { MeiliErrorBody } from './errors'

declare global {
  namespace Cloudflare {
    interface Env {
      SEARCH_TASKS: DurableObjectNamespace<SearchTasks>
    }
  }
}

export type TaskType =
  | 'documentAdditionOrUpdate'
  | 'documentDeletion'
  | 'settingsUpdate'
  | 'indexCreation'
  | 'indexDeletion'
  | 'indexUpdate'
  /** Extension: the index doubled its shard count (details: previousShards, numberOfShards, movedDocuments). */
  | 'indexSplit'

export interface TaskRecord {
  indexUid: string | null
  status: 'succeeded' | 'failed'
  type: TaskType
  details: Record<string, unknown>
  error: MeiliErrorBody | null
  /** Milliseconds since the epoch. */
  enqueuedAt: number
  startedAt: number
  finishedAt: number
}

export interface TaskView {
  uid: number
  batchUid: number
  indexUid: string | null
  status: TaskRecord['status']
  type: TaskType
  canceledBy: null
  details: Record<string, unknown>
  error: MeiliErrorBody | null
  duration: string
  enqueuedAt: string
  startedAt: string
  finishedAt: string
}

export interface TaskQuery {
  limit: number
  from?: number | undefined
  indexUids?: string[] | undefined
  statuses?: string[] | undefined
  types?: string[] | undefined
}

type TaskRow = {
  uid: number
  index_uid: string | null
  status: TaskRecord['status']
  type: TaskType
  details: string
  error: string | null
  enqueued_at: number
  started_at: number
  finished_at: number
}

function view(row: TaskRow): TaskView {
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    uid: row.uid,
    batchUid: row.uid,
    indexUid: row.index_uid,
    status: row.status,
    type: row.type,
    canceledBy: null,
    details: JSON.parse(row.details) as Record<string, unknown>,
    error: row.error ? (JSON.parse(row.error) as MeiliErrorBody) : null,
    duration: `PT${((row.finished_at - row.started_at) / 1000).toFixed(3)}S`,
    enqueuedAt: iso(row.enqueued_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
  }
}

export class SearchTasks extends HostedObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS tasks (
        uid INTEGER PRIMARY KEY AUTOINCREMENT, index_uid TEXT, status TEXT NOT NULL, type TEXT NOT NULL,
        details TEXT NOT NULL, error TEXT, enqueued_at INTEGER NOT NULL, started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL)`)
    })
  }

  async record(task: TaskRecord): Promise<TaskView> {
    const row = this.ctx.storage.sql
      .exec<TaskRow>(
        `INSERT INTO tasks (index_uid, status, type, details, error, enqueued_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        task.indexUid,
        task.status,
        task.type,
        JSON.stringify(task.details),
        task.error ? JSON.stringify(task.error) : null,
        task.enqueuedAt,
        task.startedAt,
        task.finishedAt,
      )
      .one()
    return view(row)
  }

  async get(uid: number): Promise<TaskView | null> {
    const row = this.ctx.storage.sql.exec<TaskRow>('SELECT * FROM tasks WHERE uid = ?', uid).toArray()[0]
    return row ? view(row) : null
  }

  async list(query: TaskQuery): Promise<{
    results: TaskView[]
    total: number
    limit: number
    from: number | null
    next: number | null
  }> {
    const rows = this.ctx.storage.sql
      .exec<TaskRow>(
        'SELECT * FROM tasks WHERE uid <= ? ORDER BY uid DESC',
        query.from ?? Number.MAX_SAFE_INTEGER,
      )
      .toArray()
      .filter(
        (row) =>
          (!query.indexUids || (row.index_uid !== null && query.indexUids.includes(row.index_uid))) &&
          (!query.statuses || query.statuses.includes(row.status)) &&
          (!query.types || query.types.includes(row.type)),
      )
    const total = this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM tasks').one().n
    const page = rows.slice(0, query.limit)
    const after = rows[query.limit]
    return {
      results: page.map(view),
      total,
      limit: query.limit,
      from: page[0]?.uid ?? null,
      next: after ? after.uid : null,
    }
  }
}

// Engine errors: how they are reported in Hrana, and which ones waiting can cure.
//
// Guarantees:
// - `toHranaError` reports SQLite's *base* result code name as the Hrana error code, as sqld and
//   Turso do (SQLITE_CONSTRAINT for a duplicate key, not SQLITE_CONSTRAINT_UNIQUE; @libsql/client
//   surfaces it as LibsqlError.code), so code written against this server behaves the same in
//   production; the message still says which constraint failed. Our own request errors keep
//   their code (ARGS_INVALID, ROW_LIMIT_EXCEEDED …), and anything else from the binding is
//   LIBSQL_ENGINE_ERROR with its message.
// - `retryWhileBusy` behaves like SQLite's busy handler without blocking the event loop: it reruns a
//   statement that failed with SQLITE_BUSY after 1, 2, 4 … 50 ms until `timeoutMs` has passed, then lets
//   SQLITE_BUSY through. A statement failing with SQLITE_BUSY has done nothing, so rerunning it is safe.
//   SQLITE_BUSY_SNAPSHOT inside a transaction is returned at once: its snapshot is stale, waiting
//   cannot help (SQLite does not wait there either).

import Database from 'libsql'
import type { Connection } from './databases.ts'
import { type HranaError, RequestError } from './hrana.ts'

const SQLITE_BUSY = 5
const SQLITE_BUSY_SNAPSHOT = 517

export function toHranaError(error: unknown): HranaError {
  if (error instanceof RequestError) return { message: error.message, code: error.code }
  if (error instanceof Database.SqliteError) return { message: error.message, code: baseCodeName(error.code) }
  const message = error instanceof Error ? error.message : String(error)
  return { message, code: 'LIBSQL_ENGINE_ERROR' }
}

/** `SQLITE_CONSTRAINT_UNIQUE` → `SQLITE_CONSTRAINT`: every base code name is one word after `SQLITE_`. */
export function baseCodeName(code: string | undefined): string {
  return /^SQLITE_[A-Z]+/.exec(code ?? '')?.[0] ?? 'SQLITE_ERROR'
}

export async function retryWhileBusy<T>(conn: () => Connection, timeoutMs: number, run: () => T): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      return run()
    } catch (error) {
      if (!isRetryableBusy(error, conn()) || Date.now() >= deadline) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(1, deadline - Date.now()))))
  }
}

function isRetryableBusy(error: unknown, conn: Connection): boolean {
  if (!(error instanceof Database.SqliteError) || error.rawCode === undefined) return false
  if ((error.rawCode & 0xff) !== SQLITE_BUSY) return false
  return !(error.rawCode === SQLITE_BUSY_SNAPSHOT && conn.db.inTransaction)
}

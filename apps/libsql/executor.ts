// Executes decoded Hrana stream requests on one stream's connection.
//
// Guarantees:
// - `execute` runs exactly one statement with exactly its arguments (checked in binding.ts).
// - A statement that finds the database locked waits asynchronously up to busyTimeoutMs (errors.ts),
//   so a stream waiting for the write lock never blocks the stream holding it.
// - Rows per statement and bytes per pipeline are bounded (ROW_LIMIT_EXCEEDED, RESPONSE_TOO_LARGE);
//   a writing statement (… RETURNING) over a limit is rolled back: none of its changes is committed;
//   a statement abandoned mid-iteration poisons its connection, which is replaced before the next
//   autocommit statement so no stale read snapshot is ever observed.
// - last_insert_rowid is exact over the whole 64-bit range (the binding's run() rounds beyond 2^53).
// - A batch runs its steps in order; a step whose condition is false is skipped (null result and error).

import Database from 'libsql'
import { bindArgs, isConnectionStateChange, onlyStatement } from './binding.ts'
import type { Connection, Databases, Statement } from './databases.ts'
import { retryWhileBusy, toHranaError } from './errors.ts'
import {
  type BatchCond,
  type BatchStep,
  type Column,
  encodeCols,
  encodeError,
  encodeStmtResult,
  encodeValue,
  type HranaError,
  RequestError,
  type SqlValue,
  type Stmt,
  type StreamRequest,
} from './hrana.ts'
import { type ScannedStatement, scanSql } from './sqlscan.ts'

export interface ExecLimits {
  /** Rows one statement may return. */
  maxRows: number
  /** Encoded row bytes one pipeline or cursor may return. */
  maxResponseBytes: number
  /** How long a statement waits for a lock held by another connection. */
  busyTimeoutMs: number
  /** SQL texts one stream may store with store_sql. */
  maxStoredSql: number
}

/** What a stream owns inside the engine. */
export interface StreamState {
  conn: Connection
  readonly sqls: Map<number, string>
  closed: boolean
}

/** Per-pipeline accounting. */
export interface RunBudget {
  bytesLeft: number
}

export interface StmtOutcome {
  colsJson: string
  rowsJson: string[]
  affectedRowCount: number
  lastInsertRowid: bigint | null
}

/** The outcome of one batch step: a result, an error, or skipped (both undefined). */
export interface StepOutcome {
  result?: StmtOutcome
  error?: HranaError
}

export class Executor {
  private readonly dbs: Databases
  private readonly limits: ExecLimits

  constructor(dbs: Databases, limits: ExecLimits) {
    this.dbs = dbs
    this.limits = { ...limits }
  }

  /** Runs one request; resolves with the StreamResponse JSON, rejects with the request's error. */
  async request(stream: StreamState, req: StreamRequest, budget: RunBudget): Promise<string> {
    switch (req.type) {
      case 'close':
        stream.closed = true
        return '{"type":"close"}'
      case 'execute': {
        const o = await this.execute(stream, req.stmt, budget)
        return `{"type":"execute","result":${encodeStmtResult(o.colsJson, o.rowsJson, o.affectedRowCount, o.lastInsertRowid)}}`
      }
      case 'batch': {
        const steps = await this.batch(stream, req.steps, budget)
        const results = steps.map((s) =>
          s.result
            ? encodeStmtResult(
                s.result.colsJson,
                s.result.rowsJson,
                s.result.affectedRowCount,
                s.result.lastInsertRowid,
              )
            : 'null',
        )
        const errors = steps.map((s) => (s.error ? encodeError(s.error) : 'null'))
        return `{"type":"batch","result":{"step_results":[${results.join(',')}],"step_errors":[${errors.join(',')}]}}`
      }
      case 'sequence':
        await this.sequence(stream, this.resolveSql(stream, req.sql, req.sqlId))
        return '{"type":"sequence"}'
      case 'describe':
        return `{"type":"describe","result":${await this.describe(stream, this.resolveSql(stream, req.sql, req.sqlId))}}`
      case 'store_sql':
        if (stream.sqls.has(req.sqlId))
          throw new RequestError('SQL_ID_IN_USE', `sql_id ${req.sqlId} is already in use on this stream`)
        if (stream.sqls.size >= this.limits.maxStoredSql)
          throw new RequestError(
            'SQL_STORE_LIMIT',
            `a stream may store at most ${this.limits.maxStoredSql} SQL texts`,
          )
        stream.sqls.set(req.sqlId, req.sql)
        return '{"type":"store_sql"}'
      case 'close_sql':
        stream.sqls.delete(req.sqlId)
        return '{"type":"close_sql"}'
      case 'get_autocommit':
        return `{"type":"get_autocommit","is_autocommit":${!stream.conn.db.inTransaction}}`
    }
  }

  /** Runs a batch's steps in order, evaluating each step's condition on the outcomes so far. */
  async batch(
    stream: StreamState,
    steps: BatchStep[],
    budget: RunBudget,
    onStep?: (index: number, outcome: StepOutcome) => void,
  ): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = []
    for (const [i, step] of steps.entries()) {
      let outcome: StepOutcome = {}
      if (step.condition === undefined || this.evalCond(stream, step.condition, outcomes)) {
        try {
          outcome = { result: await this.execute(stream, step.stmt, budget) }
        } catch (error) {
          outcome = { error: toHranaError(error) }
        }
      }
      outcomes.push(outcome)
      onStep?.(i, outcome)
    }
    return outcomes
  }

  async execute(stream: StreamState, stmt: Stmt, budget: RunBudget): Promise<StmtOutcome> {
    const sql = this.resolveSql(stream, stmt.sql, stmt.sqlId)
    const statement = onlyStatement(sql)
    const args = bindArgs(statement.params, stmt)
    return this.withBusyRetry(stream, () => {
      const conn = this.connectionFor(stream)
      if (isConnectionStateChange(statement)) conn.dirty = true
      return this.runStatement(conn, sql, statement, args, stmt.wantRows, budget)
    })
  }

  private async sequence(stream: StreamState, sql: string): Promise<void> {
    for (const statement of scanSql(sql)) {
      await this.withBusyRetry(stream, () => {
        const conn = this.connectionFor(stream)
        conn.dirty = true
        conn.db.exec(statement.text)
      })
    }
  }

  private async describe(stream: StreamState, sql: string): Promise<string> {
    const statement = onlyStatement(sql)
    return this.withBusyRetry(stream, () => {
      const conn = this.connectionFor(stream)
      // Prepared afresh, not from the connection's cache: a cached statement still lists the
      // columns of the schema it was prepared on until it is stepped again.
      const stmt = conn.db.prepare(sql)
      const cols = stmt.reader ? stmt.columns().map((c) => ({ name: c.name, decltype: c.type })) : []
      const readonly = statement.isExplain || explainIsReadonly(conn, statement.text)
      const params = statement.params.names.map((name) => ({ name }))
      return JSON.stringify({ params, cols, is_explain: statement.isExplain, is_readonly: readonly })
    })
  }

  private runStatement(
    conn: Connection,
    sql: string,
    statement: ScannedStatement,
    args: SqlValue[],
    wantRows: boolean,
    budget: RunBudget,
  ): StmtOutcome {
    const stmt = this.dbs.prepare(conn, sql)
    if (!stmt.reader) {
      const info = stmt.run(args)
      const rowid = Number.isSafeInteger(info.lastInsertRowid)
        ? BigInt(info.lastInsertRowid)
        : (this.changes(conn)[1] ?? null)
      return { colsJson: '[]', rowsJson: [], affectedRowCount: info.changes, lastInsertRowid: rowid }
    }
    const rowsJson = statement.hasReturning
      ? this.atomically(conn, () => this.collectRows(conn, sql, stmt, args, wantRows, budget, true, false))
      : this.collectRows(conn, sql, stmt, args, wantRows, budget, false, statement.isExplain)
    // Read after running: a cached statement is re-prepared by its first step when another
    // connection changed the schema, and only then lists the current columns (e.g. of `SELECT *`).
    const cols: Column[] = stmt.columns().map((c) => ({ name: c.name, decltype: c.type }))
    if (!statement.hasReturning)
      return { colsJson: encodeCols(cols), rowsJson, affectedRowCount: 0, lastInsertRowid: null }
    const [changes, rowid] = this.changes(conn)
    return { colsJson: encodeCols(cols), rowsJson, affectedRowCount: Number(changes), lastInsertRowid: rowid }
  }

  private collectRows(
    conn: Connection,
    sql: string,
    stmt: Statement,
    args: SqlValue[],
    wantRows: boolean,
    budget: RunBudget,
    writes: boolean,
    explain: boolean,
  ): string[] {
    const rows: string[] = []
    const before = budget.bytesLeft
    const iterator = stmt.iterate(args) as Iterator<unknown[]> & Iterable<unknown[]>
    try {
      for (const row of iterator) {
        if (!wantRows) continue
        if (rows.length >= this.limits.maxRows)
          throw new RequestError(
            'ROW_LIMIT_EXCEEDED',
            `the statement returned more than ${this.limits.maxRows} rows; add a LIMIT or page through the results`,
          )
        let json = '['
        for (let i = 0; i < row.length; i++) json += (i === 0 ? '' : ',') + encodeValue(row[i])
        json += ']'
        budget.bytesLeft -= json.length
        if (budget.bytesLeft < 0)
          throw new RequestError(
            'RESPONSE_TOO_LARGE',
            `the response exceeded ${this.limits.maxResponseBytes} bytes; select fewer rows or columns`,
          )
        rows.push(json)
      }
    } catch (error) {
      budget.bytesLeft = before // the failed statement's rows are not sent
      // A statement stopped by SQLite (e.g. SQLITE_BUSY while writing) must be reset, or the
      // connection counts it as still running and refuses the savepoint of every retry.
      if (error instanceof Database.SqliteError) iterator.return?.()
      // An error raised by SQLite halts the statement. Anything else leaves it mid-iteration: a writing
      // statement (… RETURNING) is run to its end so its savepoint can be rolled back (atomically());
      // a read is abandoned and its connection poisoned (it may pin an old snapshot).
      if (!(error instanceof Database.SqliteError) && !(writes && drained(iterator))) {
        conn.poisoned = true
        conn.statements.delete(sql)
      }
      throw error
    }
    if (explain) resetExplain(stmt, args)
    return rows
  }

  /**
   * Runs a writing statement inside a savepoint, so a statement that fails after it wrote (e.g. a
   * … RETURNING over the row or byte limit) is rolled back and nothing of it is committed.
   */
  private atomically<T>(conn: Connection, run: () => T): T {
    const outermost = !conn.db.inTransaction
    conn.db.exec('SAVEPOINT hrana_stmt')
    let result: T
    try {
      result = run()
      conn.db.exec('RELEASE hrana_stmt')
    } catch (error) {
      try {
        conn.db.exec('ROLLBACK TO hrana_stmt; RELEASE hrana_stmt')
      } catch {
        conn.poisoned = true // SQLite already ended the transaction; replace the connection to be safe
        // never leave a transaction (and its write lock) open that this statement began
        if (outermost && conn.db.inTransaction) conn.db.exec('ROLLBACK')
      }
      throw error
    }
    return result
  }

  /** [changes(), last_insert_rowid()] of the connection, exact. */
  private changes(conn: Connection): [bigint, bigint | null] {
    const row = (this.dbs.prepare(conn, 'SELECT changes(), last_insert_rowid()').all([]) as unknown[][])[0]
    return [(row?.[0] as bigint | undefined) ?? 0n, (row?.[1] as bigint | undefined) ?? null]
  }

  private evalCond(stream: StreamState, cond: BatchCond, outcomes: StepOutcome[]): boolean {
    switch (cond.type) {
      case 'ok':
        return outcomes[cond.step]?.result !== undefined
      case 'error':
        return outcomes[cond.step]?.error !== undefined
      case 'not':
        return !this.evalCond(stream, cond.cond, outcomes)
      case 'and':
        return cond.conds.every((c) => this.evalCond(stream, c, outcomes))
      case 'or':
        return cond.conds.some((c) => this.evalCond(stream, c, outcomes))
      case 'is_autocommit':
        return !stream.conn.db.inTransaction
    }
  }

  private resolveSql(stream: StreamState, sql: string | undefined, sqlId: number | undefined): string {
    if (sql !== undefined) return sql
    const stored = sqlId === undefined ? undefined : stream.sqls.get(sqlId)
    if (stored === undefined)
      throw new RequestError('SQL_NOT_FOUND', `no SQL text is stored under sql_id ${sqlId}`)
    return stored
  }

  /** The stream's connection, replaced first if poisoned and no transaction depends on it. */
  private connectionFor(stream: StreamState): Connection {
    if (stream.conn.poisoned && !stream.conn.db.inTransaction) stream.conn = this.dbs.replace(stream.conn)
    return stream.conn
  }

  private withBusyRetry<T>(stream: StreamState, run: () => T): Promise<T> {
    return retryWhileBusy(() => stream.conn, this.limits.busyTimeoutMs, run)
  }
}

/** sqlite3_stmt_readonly() computed from the statement's bytecode. */
function explainIsReadonly(conn: Connection, text: string): boolean {
  const explain = conn.db.prepare(`EXPLAIN ${text}`).raw(true)
  const program = explain.all([]) as unknown[][]
  resetExplain(explain, [])
  return !program.some(
    (op) =>
      (op[1] === 'Transaction' && op[3] !== 0n && op[3] !== 0) ||
      op[1] === 'Checkpoint' ||
      op[1] === 'Vacuum' ||
      op[1] === 'JournalMode',
  )
}

/**
 * An EXPLAIN program run to its end stays active in the binding (all() and iterate() do not reset
 * it) until it is garbage-collected, and an active statement holds what it touched: a later DROP
 * TABLE on the connection fails with SQLITE_LOCKED, and after an EXPLAIN of a write the next write
 * keeps the WAL write lock. get() resets the statement after its one step; EXPLAIN has no side effects.
 */
function resetExplain(stmt: Statement, args: SqlValue[]): void {
  stmt.get(args)
}

/** Steps an iterator to its end; false if that fails. */
function drained(iterator: Iterator<unknown>): boolean {
  try {
    while (!iterator.next().done);
    return true
  } catch {
    return false
  }
}

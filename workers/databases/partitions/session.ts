/**
 * A Hrana stream over a partitioned database: each statement goes where the router sends it,
 * on the session's own stream to each shard, so interactive transactions, batches and
 * cursors work as on one database, within these rules:
 *
 * - A transaction stays on one shard. BEGIN is held back until the first statement that names
 *   a shard; the transaction then runs there (BEGIN sent first), and a later statement for
 *   another shard gets an error while the transaction stays open, as SQLite leaves it after a
 *   failed statement. COMMIT/ROLLBACK go to that shard. So a transaction is ACID by SQLite's
 *   own guarantees, and no cross-shard write is ever half done.
 * - Scatter reads and every-shard DDL run outside transactions only.
 * State lives in the (signed) baton, so the next request may reach any isolate.
 */
import { fromHrana, type HranaStmt, statementArgs, toHrana } from './hrana-values'
import { PartitionError } from './literals'
import { gather, type ShardRows } from './merge'
import { type Plan, planStatement } from './route'
import type { PartitionScheme } from './scheme'
import { splitStatements } from './tokens'

export interface HranaError {
  message: string
  code: string
}

export type Outcome = { ok: Record<string, unknown> } | { error: HranaError }

export type NodeResult =
  | { type: 'ok'; response: { type: string; result?: unknown } }
  | { type: 'error'; error: HranaError }

export interface ShardPort {
  /** Runs Hrana requests on one shard's stream (`baton` null opens one). */
  pipeline(
    shard: number,
    baton: string | null,
    requests: unknown[],
  ): Promise<{ baton: string | null; results: NodeResult[] }>
}

export interface SessionState {
  /** Open streams by shard. */
  batons: Record<string, string>
  inTransaction: boolean
  pinned?: number
  /** BEGIN/SAVEPOINT statements waiting for the transaction's shard. */
  prelude: string[]
  /** SQL stored by `store_sql`, by id (the client's statement cache). */
  stored: Record<string, string>
}

/** Stored SQL a session keeps (its text travels in the baton). */
export const MAX_STORED_SQL = { count: 64, bytes: 64 * 1024 }

export const newSessionState = (): SessionState => ({
  batons: {},
  inTransaction: false,
  prelude: [],
  stored: {},
})

const emptyResult = () => ({
  cols: [],
  rows: [],
  affected_row_count: 0,
  last_insert_rowid: null,
  rows_read: 0,
  rows_written: 0,
})

const failure = (code: string, message: string): Outcome => ({ error: { code, message } })

export class PartitionedSession {
  constructor(
    private readonly scheme: PartitionScheme,
    private readonly port: ShardPort,
    readonly state: SessionState,
    /** Told of every planned statement (the router's traffic statistics). */
    private readonly observe?: (plan: Plan, sql: string) => void,
  ) {}

  get autocommit(): boolean {
    return !this.state.inTransaction
  }

  /** Hrana `store_sql`: keeps `sql` under `id` for later statements of this stream. */
  storeSql(id: unknown, sql: unknown): Outcome {
    if (typeof sql !== 'string' || (typeof id !== 'number' && typeof id !== 'string'))
      return failure('INVALID_REQUEST', 'store_sql needs "sql_id" and "sql".')
    const stored = { ...this.state.stored, [String(id)]: sql }
    const bytes = Object.values(stored).reduce((sum, text) => sum + text.length, 0)
    if (Object.keys(stored).length > MAX_STORED_SQL.count || bytes > MAX_STORED_SQL.bytes)
      return failure(
        'SQL_STORE_FULL',
        `A stream keeps at most ${MAX_STORED_SQL.count} stored SQL texts (${MAX_STORED_SQL.bytes} bytes).`,
      )
    this.state.stored = stored
    return { ok: {} }
  }

  closeSql(id: unknown): void {
    delete this.state.stored[String(id)]
  }

  async execute(stmt: HranaStmt): Promise<Outcome> {
    if (stmt.sql_id !== undefined && stmt.sql_id !== null) {
      const text = this.state.stored[String(stmt.sql_id)]
      if (text === undefined) return failure('SQL_NOT_FOUND', `No stored SQL with id ${String(stmt.sql_id)}.`)
      stmt = { ...stmt, sql: text, sql_id: undefined }
    }
    if (typeof stmt.sql !== 'string')
      return failure('INVALID_REQUEST', 'A statement needs "sql" or "sql_id".')
    let plan: ReturnType<typeof planStatement>
    try {
      plan = planStatement(this.scheme, stmt.sql, statementArgs(stmt))
    } catch (error) {
      if (error instanceof PartitionError) return failure('PARTITION_UNSUPPORTED', error.message)
      throw error
    }
    this.observe?.(plan, stmt.sql)
    switch (plan.kind) {
      case 'transaction':
        return this.transactionControl(plan.word, stmt)
      case 'one':
        return this.onShard(plan.shard, stmt)
      case 'every-shard': {
        if (this.state.inTransaction)
          return failure(
            'PARTITION_UNSUPPORTED',
            'Schema changes of partitioned tables run outside transactions.',
          )
        let first: Outcome | undefined
        for (let shard = 0; shard < this.scheme.shards; shard++) {
          const outcome = await this.onShard(shard, stmt)
          if ('error' in outcome) return outcome
          first ??= outcome
        }
        return first as Outcome
      }
      case 'scatter': {
        if (this.state.inTransaction)
          return failure(
            'PARTITION_UNSUPPORTED',
            'A transaction on a partitioned database stays on one shard: pin the partition key in this query.',
          )
        const { select } = plan
        const request = {
          ...stmt,
          sql: select.sql,
          args: Array.isArray(stmt.args) ? stmt.args.slice(0, select.positionalArgs) : [],
          want_rows: true,
        }
        const answers = await Promise.all(
          plan.shards.map((shard) =>
            this.port.pipeline(shard, null, [{ type: 'execute', stmt: request }, { type: 'close' }]),
          ),
        )
        const rows: ShardRows[] = []
        for (const answer of answers) {
          const result = answer.results[0]
          if (result?.type !== 'ok')
            return { error: result?.error ?? { code: 'UNAVAILABLE', message: 'A shard did not answer.' } }
          const set = result.response.result as { cols: ShardRows['columns']; rows: unknown[][] }
          rows.push({ columns: set.cols, rows: set.rows.map((row) => row.map(fromHrana)) })
        }
        const merged = gather(select, rows)
        return {
          ok: {
            ...emptyResult(),
            cols: merged.columns,
            rows: stmt.want_rows === false ? [] : merged.rows.map((row) => row.map(toHrana)),
          },
        }
      }
    }
  }

  private async transactionControl(word: string, stmt: HranaStmt): Promise<Outcome> {
    const state = this.state
    const sql = stmt.sql as string
    if (word === 'BEGIN' || (word === 'SAVEPOINT' && !state.inTransaction)) {
      if (state.inTransaction)
        return failure('SQLITE_ERROR', 'cannot start a transaction within a transaction')
      state.inTransaction = true
      state.prelude = [sql]
      return { ok: emptyResult() }
    }
    if (!state.inTransaction) {
      if (word === 'RELEASE' || word === 'SAVEPOINT') return failure('SQLITE_ERROR', `no such savepoint`)
      return failure('SQLITE_ERROR', `cannot ${word.toLowerCase()} - no transaction is active`)
    }
    const ends = word === 'COMMIT' || word === 'END' || (word === 'ROLLBACK' && !/\bTO\b/i.test(sql))
    if (state.pinned === undefined) {
      if (word === 'SAVEPOINT' || word === 'RELEASE' || word === 'ROLLBACK') state.prelude.push(sql)
      if (ends) this.endTransaction()
      return { ok: emptyResult() }
    }
    const outcome = await this.onShard(state.pinned, stmt)
    if (ends && 'ok' in outcome) this.endTransaction()
    if (word === 'ROLLBACK' && ends) this.endTransaction()
    return outcome
  }

  private endTransaction(): void {
    this.state.inTransaction = false
    this.state.pinned = undefined
    this.state.prelude = []
  }

  private async onShard(shard: number, stmt: HranaStmt): Promise<Outcome> {
    const state = this.state
    const requests: unknown[] = []
    if (state.inTransaction) {
      if (state.pinned === undefined) {
        state.pinned = shard
        for (const sql of state.prelude) requests.push({ type: 'execute', stmt: { sql, want_rows: false } })
        state.prelude = []
      } else if (state.pinned !== shard)
        return failure(
          'PARTITION_UNSUPPORTED',
          `This transaction runs on shard ${state.pinned}; this statement's rows are on shard ${shard}. A transaction on a partitioned database stays within one shard.`,
        )
    }
    requests.push({ type: 'execute', stmt })
    const answer = await this.port.pipeline(shard, state.batons[shard] ?? null, requests)
    if (answer.baton === null) delete state.batons[shard]
    else state.batons[shard] = answer.baton
    for (const result of answer.results) if (result.type === 'error') return { error: result.error }
    const last = answer.results.at(-1)
    return last?.type === 'ok'
      ? { ok: last.response.result as Record<string, unknown> }
      : failure('INTERNAL', 'No result.')
  }

  /** A Hrana `sequence`: statements one after another, stopping at the first error. */
  async sequence(sql: string): Promise<Outcome> {
    for (const statement of splitStatements(sql)) {
      const outcome = await this.execute({ sql: statement, want_rows: false })
      if ('error' in outcome) return outcome
    }
    return { ok: {} }
  }

  /** A Hrana `batch`: steps with conditions over earlier steps' outcomes. */
  async batch(steps: Array<{ condition?: unknown; stmt?: HranaStmt }>) {
    const results: Array<Record<string, unknown> | null> = []
    const errors: Array<HranaError | null> = []
    const holds = (condition: unknown): boolean => {
      const c = condition as
        | { type?: string; step?: number; cond?: unknown; conds?: unknown[] }
        | null
        | undefined
      switch (c?.type) {
        case undefined:
          return true
        case 'ok':
          return results[c.step ?? -1] != null
        case 'error':
          return errors[c.step ?? -1] != null
        case 'not':
          return !holds(c.cond)
        case 'and':
          return (c.conds ?? []).every(holds)
        case 'or':
          return (c.conds ?? []).some(holds)
        case 'is_autocommit':
          return this.autocommit
        default:
          return false
      }
    }
    for (const step of steps) {
      if (!holds(step.condition ?? null)) {
        results.push(null)
        errors.push(null)
        continue
      }
      const outcome = await this.execute(step.stmt ?? {})
      results.push('ok' in outcome ? outcome.ok : null)
      errors.push('error' in outcome ? outcome.error : null)
    }
    return { step_results: results, step_errors: errors }
  }

  /** Closes every shard stream (uncommitted work is rolled back by the shards). */
  async close(): Promise<void> {
    const open = Object.entries(this.state.batons)
    await Promise.all(
      open.map(([shard, baton]) =>
        this.port.pipeline(Number(shard), baton, [{ type: 'close' }]).catch(() => undefined),
      ),
    )
    this.state.batons = {}
    this.endTransaction()
  }
}

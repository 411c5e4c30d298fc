/**
 * The narrow SQLite surface the host needs from each runtime's built-in driver
 * (`node:sqlite` on Node and Deno, `bun:sqlite` on Bun), and the database settings every
 * object file gets: WAL journal and `synchronous=FULL`, so a write that returned (and was
 * therefore acknowledged) is on disk and survives `kill -9` or a power cut.
 */
export type SqlParam = string | number | bigint | null | Uint8Array

export interface QueryResult {
  columns: string[]
  rows: Record<string, unknown>[]
  changes: number
}

export interface SqliteDatabase {
  /** Runs one or more statements without parameters. */
  exec(sql: string): void
  /** Runs one statement with positional parameters. */
  query(sql: string, params: SqlParam[]): QueryResult
  close(): void
}

export type OpenDatabase = (path: string) => SqliteDatabase

/** Settings applied to every database the host opens. */
export const PRAGMAS = 'PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;'

/** A bounded cache of prepared statements (compiling SQL costs more than running it). */
export class StatementCache<S> {
  private readonly entries = new Map<string, S>()
  constructor(
    private readonly prepare: (sql: string) => S,
    private readonly limit = 256,
  ) {}
  get(sql: string): S {
    let statement = this.entries.get(sql)
    if (statement) {
      this.entries.delete(sql)
    } else {
      statement = this.prepare(sql)
      if (this.entries.size >= this.limit) {
        const oldest = this.entries.keys().next().value
        if (oldest !== undefined) this.entries.delete(oldest)
      }
    }
    this.entries.set(sql, statement)
    return statement
  }
  clear(): void {
    this.entries.clear()
  }
}

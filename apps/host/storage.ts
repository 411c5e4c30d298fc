/**
 * A Durable Object's storage over one SQLite database: `sql.exec` with workerd's cursor
 * (`toArray`, `one`, `raw`, iteration, `columnNames`, `rowsRead`, `rowsWritten`),
 * `transactionSync` (nested calls become savepoints), the key-value API and the object's
 * single alarm. Everything is synchronous, as in workerd's SQLite-backed objects, so a
 * method runs to its first `await` without interleaving; every statement outside a
 * transaction is its own durable commit (WAL, synchronous=FULL).
 */
import type { SqliteDatabase, SqlParam } from './sqlite'

const INTERNAL = `
CREATE TABLE IF NOT EXISTS _host_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _host_alarm (slot INTEGER PRIMARY KEY CHECK (slot = 0), at REAL NOT NULL);`

function toParam(value: unknown): SqlParam {
  if (value === undefined || value === null) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value
  throw new TypeError(`Unsupported SQL parameter type: ${typeof value}`)
}

function fromColumn(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)
  if (typeof value === 'bigint') return Number(value)
  return value
}

class Cursor<T extends Record<string, unknown>> {
  readonly columnNames: string[]
  readonly rowsRead: number
  readonly rowsWritten: number
  private readonly rows: T[]
  private index = 0
  constructor(columns: string[], rows: Record<string, unknown>[], changes: number) {
    this.columnNames = columns
    this.rows = rows.map((row) => {
      const converted: Record<string, unknown> = {}
      for (const column of columns) converted[column] = fromColumn(row[column])
      return converted as T
    })
    this.rowsRead = rows.length
    this.rowsWritten = changes
  }
  next(): IteratorResult<T> {
    const row = this.rows[this.index]
    if (row === undefined) return { done: true, value: undefined }
    this.index += 1
    return { done: false, value: row }
  }
  [Symbol.iterator]() {
    return this
  }
  toArray(): T[] {
    const rest = this.rows.slice(this.index)
    this.index = this.rows.length
    return rest
  }
  one(): T {
    const rest = this.toArray()
    if (rest.length !== 1) {
      throw new Error(
        rest.length === 0
          ? 'Expected exactly one result from SQL query, but got no results.'
          : 'Expected exactly one result from SQL query, but got multiple results.',
      )
    }
    return rest[0] as T
  }
  raw(): IterableIterator<unknown[]> {
    const columns = this.columnNames
    return this.toArray()
      .map((row) => columns.map((column) => row[column]))
      [Symbol.iterator]()
  }
}

export interface AlarmScheduler {
  /** Called whenever the persisted alarm changes (`null`: none). */
  alarmChanged(at: number | null): void
}

export class HostStorage {
  readonly sql: {
    exec: (query: string, ...bindings: unknown[]) => Cursor<Record<string, unknown>>
    databaseSize: number
  }
  private depth = 0

  constructor(
    private readonly db: SqliteDatabase,
    private readonly alarms: AlarmScheduler,
  ) {
    db.exec(INTERNAL)
    const exec = (query: string, ...bindings: unknown[]) => this.exec(query, bindings)
    this.sql = {
      exec,
      get databaseSize() {
        const pages = exec('PRAGMA page_count').one().page_count as number
        const size = exec('PRAGMA page_size').one().page_size as number
        return pages * size
      },
    }
  }

  private exec(query: string, bindings: unknown[]): Cursor<Record<string, unknown>> {
    if (bindings.length === 0 && /;\s*\S/.test(query.replace(/;\s*$/, ''))) {
      this.db.exec(query)
      return new Cursor([], [], 0)
    }
    const result = this.db.query(query, bindings.map(toParam))
    return new Cursor(result.columns, result.rows, result.changes)
  }

  transactionSync<T>(body: () => T): T {
    const savepoint = `host_tx_${this.depth}`
    this.db.exec(this.depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${savepoint}`)
    this.depth += 1
    try {
      const result = body()
      this.depth -= 1
      this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${savepoint}`)
      return result
    } catch (error) {
      this.depth -= 1
      this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`)
      throw error
    }
  }

  async transaction<T>(body: (txn: HostStorage) => Promise<T>): Promise<T> {
    return body(this)
  }

  async get(keys: string | string[]): Promise<unknown> {
    const read = (key: string) => {
      const row = this.exec('SELECT value FROM _host_kv WHERE key = ?', [key]).toArray()[0]
      return row ? JSON.parse(row.value as string) : undefined
    }
    if (!Array.isArray(keys)) return read(keys)
    const found = new Map<string, unknown>()
    for (const key of keys) {
      const value = read(key)
      if (value !== undefined) found.set(key, value)
    }
    return found
  }

  async put(entries: string | Record<string, unknown>, value?: unknown): Promise<void> {
    const pairs = typeof entries === 'string' ? [[entries, value] as const] : Object.entries(entries)
    this.transactionSync(() => {
      for (const [key, item] of pairs) {
        this.exec('INSERT OR REPLACE INTO _host_kv (key, value) VALUES (?, ?)', [key, JSON.stringify(item)])
      }
    })
  }

  async delete(keys: string | string[]): Promise<boolean | number> {
    const list = Array.isArray(keys) ? keys : [keys]
    let deleted = 0
    for (const key of list) deleted += this.exec('DELETE FROM _host_kv WHERE key = ?', [key]).rowsWritten
    return Array.isArray(keys) ? deleted : deleted > 0
  }

  async list(
    options: { prefix?: string; start?: string; end?: string; limit?: number; reverse?: boolean } = {},
  ) {
    const rows = this.exec(
      `SELECT key, value FROM _host_kv WHERE key >= ? AND (? IS NULL OR key < ?) AND substr(key, 1, ?) = ?
       ORDER BY key ${options.reverse ? 'DESC' : 'ASC'} LIMIT ?`,
      [
        options.start ?? options.prefix ?? '',
        options.end ?? null,
        options.end ?? null,
        (options.prefix ?? '').length,
        options.prefix ?? '',
        options.limit ?? -1,
      ],
    ).toArray()
    return new Map(rows.map((row) => [row.key as string, JSON.parse(row.value as string)]))
  }

  async deleteAll(): Promise<void> {
    const tables = this.exec(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      [],
    ).toArray()
    this.transactionSync(() => {
      for (const { name } of tables)
        this.exec(`DROP TABLE IF EXISTS "${String(name).replaceAll('"', '""')}"`, [])
    })
    this.db.exec(INTERNAL)
    this.alarms.alarmChanged(null)
  }

  async getAlarm(): Promise<number | null> {
    return this.alarmAt()
  }

  alarmAt(): number | null {
    const row = this.exec('SELECT at FROM _host_alarm WHERE slot = 0', []).toArray()[0]
    return row ? (row.at as number) : null
  }

  async setAlarm(scheduled: number | Date): Promise<void> {
    const at = typeof scheduled === 'number' ? scheduled : scheduled.getTime()
    this.exec('INSERT OR REPLACE INTO _host_alarm (slot, at) VALUES (0, ?)', [at])
    this.alarms.alarmChanged(at)
  }

  async deleteAlarm(): Promise<void> {
    this.exec('DELETE FROM _host_alarm WHERE slot = 0', [])
    this.alarms.alarmChanged(null)
  }

  /** Clears the alarm after its handler succeeded, unless the handler set a new time. */
  clearFiredAlarm(firedAt: number): void {
    this.exec('DELETE FROM _host_alarm WHERE slot = 0 AND at = ?', [firedAt])
  }

  async sync(): Promise<void> {}
}

/** `node:sqlite` (Node >= 22.5, and Deno's Node compatibility) behind the host's SQLite surface. */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { type OpenDatabase, PRAGMAS, type SqlParam, StatementCache } from './sqlite'

interface Prepared {
  statement: StatementSync
  columns: string[] | undefined
}

function columnsOf(statement: StatementSync): string[] | undefined {
  const columns = (statement as { columns?: () => { name: string }[] }).columns
  return typeof columns === 'function' ? columns.call(statement).map((column) => column.name) : undefined
}

const READER = /^\s*(select|with|values|pragma|explain)\b|\breturning\b/i

export const openNodeDatabase: OpenDatabase = (path) => {
  const db = new DatabaseSync(path)
  db.exec(PRAGMAS)
  const statements = new StatementCache<Prepared>((sql) => {
    const statement = db.prepare(sql)
    return { statement, columns: columnsOf(statement) }
  })
  return {
    exec: (sql) => db.exec(sql),
    query(sql, params: SqlParam[]) {
      const { statement, columns } = statements.get(sql)
      const reads = columns ? columns.length > 0 : READER.test(sql)
      if (!reads) {
        const result = statement.run(...params)
        return { columns: [], rows: [], changes: Number(result.changes) }
      }
      const rows = statement.all(...params) as Record<string, unknown>[]
      const names = columns ?? Object.keys(rows[0] ?? {})
      const changes = /\breturning\b/i.test(sql) ? rows.length : 0
      return { columns: names, rows, changes }
    },
    close() {
      statements.clear()
      db.close()
    },
  }
}

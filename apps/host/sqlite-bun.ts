/** `bun:sqlite` behind the host's SQLite surface. */
import { Database, type Statement } from 'bun:sqlite'
import { type OpenDatabase, PRAGMAS, type SqlParam, StatementCache } from './sqlite'

export const openBunDatabase: OpenDatabase = (path) => {
  const db = new Database(path, { create: true, strict: true })
  db.exec(PRAGMAS)
  const statements = new StatementCache<Statement>((sql) => db.prepare(sql))
  return {
    exec: (sql) => db.exec(sql),
    query(sql, params: SqlParam[]) {
      const statement = statements.get(sql)
      const columns = statement.columnNames
      if (columns.length === 0) {
        const result = statement.run(...params)
        return { columns, rows: [], changes: Number(result.changes) }
      }
      const rows = statement.all(...params) as Record<string, unknown>[]
      const changes = /\breturning\b/i.test(sql) ? rows.length : 0
      return { columns, rows, changes }
    },
    close() {
      statements.clear()
      db.close()
    },
  }
}

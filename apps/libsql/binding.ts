// Statement checks and argument binding, done before anything reaches the native binding.
//
// Guarantees:
// - `onlyStatement` accepts SQL holding exactly one statement (SQL_NO_STATEMENT, SQL_MANY_STATEMENTS
//   otherwise); the binding itself would silently run only the first one.
// - `bindArgs` returns one value per parameter index, from our own parameter table (sqlscan.ts),
//   because the binding silently binds NULL for missing arguments and ignores surplus or unknown ones.
//   As the Hrana spec asks, a missing argument, a surplus positional argument or an unknown name is
//   ARGS_INVALID; a name without prefix matches `:name`, `@name` or `$name`; a named argument
//   overrides a positional one; parameters no token references are bound to NULL.
// - `isConnectionStateChange` flags statements that change connection state (PRAGMA, ATTACH, DETACH,
//   CREATE TEMP …), whose connection must not be pooled afterwards.

import { RequestError, type SqlValue, type Stmt } from './hrana.ts'
import { type ParamInfo, type ScannedStatement, scanSql } from './sqlscan.ts'

const CONNECTION_STATE_KEYWORDS = new Set(['PRAGMA', 'ATTACH', 'DETACH'])

export function isConnectionStateChange(s: ScannedStatement): boolean {
  return (
    CONNECTION_STATE_KEYWORDS.has(s.firstKeyword) ||
    s.secondKeyword === 'TEMP' ||
    s.secondKeyword === 'TEMPORARY'
  )
}

export function onlyStatement(sql: string): ScannedStatement {
  const statements = scanSql(sql)
  if (statements.length === 0)
    throw new RequestError('SQL_NO_STATEMENT', 'the SQL text contains no statement')
  if (statements.length > 1)
    throw new RequestError(
      'SQL_MANY_STATEMENTS',
      'the SQL text contains more than one statement; use a batch or a sequence',
    )
  return statements[0]!
}

export function bindArgs(params: ParamInfo, stmt: Stmt): SqlValue[] {
  const { count, names, referenced } = params
  if (stmt.args.length > count)
    throw new RequestError(
      'ARGS_INVALID',
      `the statement has ${count} parameter(s) but ${stmt.args.length} positional argument(s) were given`,
    )
  if (stmt.namedArgs.length === 0 && stmt.args.length === count) return stmt.args
  const values: Array<SqlValue | undefined> = stmt.args.slice()
  for (const [name, value] of stmt.namedArgs) {
    const index = findNamedParam(names, name)
    if (index < 0)
      throw new RequestError('ARGS_INVALID', `the statement has no parameter named ${JSON.stringify(name)}`)
    values[index] = value
  }
  const bound: SqlValue[] = []
  for (let i = 0; i < count; i++) {
    const value = values[i]
    if (value === undefined && referenced[i]) {
      const name = names[i]
      throw new RequestError(
        'ARGS_INVALID',
        `no argument given for parameter ${i + 1}${name ? ` (${name})` : ''}`,
      )
    }
    bound.push(value ?? null)
  }
  return bound
}

function findNamedParam(names: Array<string | null>, name: string): number {
  const exact = names.indexOf(name)
  if (exact >= 0 || ':@$#?'.includes(name[0] ?? '')) return exact
  for (const prefix of [':', '@', '$']) {
    const i = names.indexOf(prefix + name)
    if (i >= 0) return i
  }
  return -1
}

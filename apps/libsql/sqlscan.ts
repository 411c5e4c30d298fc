// SQL text scanner: splits SQL into statements and lists each statement's parameters exactly as SQLite
// numbers them, without preparing anything.
//
// Guarantees:
// - Statement boundaries follow sqlite3_complete(): a `;` ends a statement except inside strings, quoted
//   identifiers, comments and CREATE TRIGGER bodies (BEGIN … END). Pieces holding only whitespace and
//   comments are dropped, so "SELECT 1;" is one statement and "SELECT 1; SELECT 2" is two.
// - Parameters follow sqlite3ExprAssignVarNumber(): `?` takes the next index, `?NNN` takes NNN, and a
//   named parameter (`:a`, `@a`, `$a`, `#a`, with Tcl-style `::` and `(…)` suffixes) takes the next index
//   the first time it appears and reuses it afterwards. `names[i]` is the name of parameter i+1, or null
//   for a bare `?` and for indexes that no token references.
// Cost: one linear pass over the text; results are cached by text (LRU) because clients repeat SQL.

import { nextSqlToken, type SqlToken } from '../../schemas/sql-tokens.ts'

export interface ScannedStatement {
  /** The statement's text, from its first token up to and including its terminating `;`, if any. */
  text: string
  /** Upper-cased first keyword (e.g. 'SELECT', 'PRAGMA'), or '' when it starts with something else. */
  firstKeyword: string
  /** Upper-cased second keyword when the statement starts with CREATE (e.g. 'TEMP', 'TABLE'). */
  secondKeyword: string
  isExplain: boolean
  /** True when a bare RETURNING keyword occurs: an INSERT/UPDATE/DELETE that also returns rows. */
  hasReturning: boolean
  params: ParamInfo
}

export interface ParamInfo {
  /** Number of parameters (sqlite3_bind_parameter_count). */
  count: number
  /** names[i] is parameter i+1's name including its prefix, or null. */
  names: Array<string | null>
  /** referenced[i] is true when some token in the text refers to parameter i+1. */
  referenced: boolean[]
}

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER. */
export const MAX_PARAM_INDEX = 32766

// sqlite3_complete()'s state machine. Token classes: 0 SEMI, 1 WS, 2 OTHER, 3 EXPLAIN, 4 CREATE, 5 TEMP,
// 6 TRIGGER, 7 END. State 1 (START) after a `;` means a statement just ended.
const TRANSITIONS: ReadonlyArray<ReadonlyArray<number>> = [
  [1, 0, 2, 3, 4, 2, 2, 2],
  [1, 1, 2, 3, 4, 2, 2, 2],
  [1, 2, 2, 2, 2, 2, 2, 2],
  [1, 3, 3, 2, 4, 2, 2, 2],
  [1, 4, 2, 2, 2, 4, 5, 2],
  [6, 5, 5, 5, 5, 5, 5, 5],
  [6, 6, 5, 5, 5, 5, 5, 7],
  [1, 7, 5, 5, 5, 5, 5, 5],
]

function tokenClass(token: SqlToken, word: string): number {
  if (token.kind === 'semi') return 0
  if (token.kind === 'ws') return 1
  if (token.kind !== 'ident') return 2
  switch (word) {
    case 'EXPLAIN':
      return 3
    case 'CREATE':
      return 4
    case 'TEMP':
    case 'TEMPORARY':
      return 5
    case 'TRIGGER':
      return 6
    case 'END':
      return 7
    default:
      return 2
  }
}

class StatementBuilder {
  start = -1
  end = -1
  words: string[] = []
  hasReturning = false
  names: Array<string | null> = []
  referenced: boolean[] = []

  addVariable(text: string): void {
    let index: number
    if (text.charCodeAt(0) === 63) {
      if (text.length === 1) index = this.names.length + 1
      else {
        index = Number(text.slice(1))
        // out-of-range indexes are SQLite's "variable number must be between ?1 and ?32766" error
        if (!Number.isSafeInteger(index) || index < 1 || index > MAX_PARAM_INDEX) return
        if (this.names[index - 1] == null) this.setName(index, `?${index}`)
      }
    } else {
      const existing = this.names.indexOf(text)
      index = existing >= 0 ? existing + 1 : this.names.length + 1
      if (existing < 0) this.setName(index, text)
    }
    while (this.names.length < index) this.names.push(null)
    while (this.referenced.length < index) this.referenced.push(false)
    this.referenced[index - 1] = true
  }

  private setName(index: number, name: string): void {
    while (this.names.length < index) this.names.push(null)
    this.names[index - 1] = name
  }

  build(sql: string): ScannedStatement {
    while (this.referenced.length < this.names.length) this.referenced.push(false)
    return {
      text: sql.slice(this.start, this.end),
      firstKeyword: this.words[0] ?? '',
      secondKeyword: this.words[0] === 'CREATE' ? (this.words[1] ?? '') : '',
      isExplain: this.words[0] === 'EXPLAIN',
      hasReturning: this.hasReturning,
      params: { count: this.names.length, names: this.names, referenced: this.referenced },
    }
  }
}

/** Splits `sql` into its statements (whitespace- and comment-only pieces are dropped). */
export function scanSql(sql: string): ScannedStatement[] {
  const cached = cache.get(sql)
  if (cached !== undefined) {
    cache.delete(sql)
    cache.set(sql, cached)
    return cached
  }
  const statements: ScannedStatement[] = []
  let state = 0
  let current = new StatementBuilder()
  let leading = true
  for (let i = 0; i < sql.length; ) {
    const token = nextSqlToken(sql, i)
    i = token.end
    const word = token.kind === 'ident' ? sql.slice(token.start, token.end).toUpperCase() : ''
    state = TRANSITIONS[state]![tokenClass(token, word)]!
    if (token.kind === 'ws') continue
    if (token.kind === 'semi' && leading) continue
    if (leading) {
      current.start = token.start
      leading = false
    }
    current.end = token.end
    if (token.kind === 'ident') {
      if (current.words.length < 2) current.words.push(word)
      if (word === 'RETURNING') current.hasReturning = true
    } else if (token.kind === 'variable') current.addVariable(sql.slice(token.start, token.end))
    if (token.kind === 'semi' && state === 1) {
      statements.push(current.build(sql))
      current = new StatementBuilder()
      leading = true
    }
  }
  if (!leading) statements.push(current.build(sql))
  if (sql.length <= MAX_CACHED_SQL_LENGTH) {
    cache.set(sql, statements)
    if (cache.size > CACHE_CAPACITY) cache.delete(cache.keys().next().value as string)
  }
  return statements
}

const CACHE_CAPACITY = 1000
const MAX_CACHED_SQL_LENGTH = 16 * 1024
const cache = new Map<string, ScannedStatement[]>()

/**
 * SQLite's tokens, as its tokenizer (tokenize.c) draws them, for the two places that read SQL
 * without preparing it: the local libSQL server (statement boundaries, parameters) and the
 * databases block's partition router (tables, keys, clauses). Dependency-free.
 *
 * Guarantees: every character of the text belongs to exactly one token; strings and quoted
 * identifiers honour doubled quotes (and run to the end when unterminated); comments are
 * whitespace; a number keeps its (illegal) identifier-character tail, as SQLite reads it.
 * Cost: one pass, no allocation beyond the token record.
 */

export type SqlTokenKind =
  | 'ws'
  | 'semi'
  /** A bare word: a keyword or an unquoted identifier. */
  | 'ident'
  /** "identifier", `identifier` or [identifier]. */
  | 'quoted'
  /** 'text' */
  | 'string'
  | 'number'
  /** x'…' blob literal. */
  | 'blob'
  /** `?`, `?NNN`, `:name`, `@name`, `$name`, `#name`. */
  | 'variable'
  /** Operators and punctuation: one token per operator (`<=`, `||`, `(` …). */
  | 'punct'

export interface SqlToken {
  kind: SqlTokenKind
  start: number
  end: number
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13)
/** SQLite's IdChar: letters, digits, '_', '$' and every non-ASCII character. */
const isIdChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 0x80

const TWO_CHAR_OPERATORS = new Set(['<=', '>=', '<>', '!=', '==', '||', '<<', '>>', '->'])

function quotedEnd(sql: string, j: number, quote: number): number {
  const n = sql.length
  for (;;) {
    if (j >= n) return n
    if (sql.charCodeAt(j) === quote) {
      if (quote !== 93 && sql.charCodeAt(j + 1) === quote) {
        j += 2
        continue
      }
      return j + 1
    }
    j++
  }
}

/** The token that starts at `i` (which must be < sql.length). */
export function nextSqlToken(sql: string, i: number): SqlToken {
  const c = sql.charCodeAt(i)
  const n = sql.length
  let j = i + 1
  if (isSpace(c)) {
    while (j < n && isSpace(sql.charCodeAt(j))) j++
    return { kind: 'ws', start: i, end: j }
  }
  if (c === 45 && sql.charCodeAt(j) === 45) {
    // -- comment to the end of the line
    while (j < n && sql.charCodeAt(j) !== 10) j++
    return { kind: 'ws', start: i, end: j }
  }
  if (c === 47 && sql.charCodeAt(j) === 42) {
    // /* comment */, unterminated runs to the end
    const close = sql.indexOf('*/', j + 1)
    return { kind: 'ws', start: i, end: close < 0 ? n : close + 2 }
  }
  if (c === 59) return { kind: 'semi', start: i, end: j }
  if ((c === 120 || c === 88) && sql.charCodeAt(j) === 39)
    return { kind: 'blob', start: i, end: quotedEnd(sql, j + 1, 39) }
  if (c === 39) return { kind: 'string', start: i, end: quotedEnd(sql, j, 39) }
  if (c === 34 || c === 96 || c === 91)
    return { kind: 'quoted', start: i, end: quotedEnd(sql, j, c === 91 ? 93 : c) }
  if (c === 63) {
    while (j < n && isDigit(sql.charCodeAt(j))) j++
    return { kind: 'variable', start: i, end: j }
  }
  if (c === 36 || c === 64 || c === 58 || c === 35) {
    // $name @name :name #name, with Tcl-style `::` and a trailing `(…)`
    let idChars = 0
    for (; j < n; j++) {
      const d = sql.charCodeAt(j)
      if (isIdChar(d)) idChars++
      else if (d === 40 && idChars > 0) {
        while (j + 1 < n && !isSpace(sql.charCodeAt(j + 1)) && sql.charCodeAt(j + 1) !== 41) j++
        if (sql.charCodeAt(j + 1) === 41) j += 2
        else j++
        break
      } else if (d === 58 && sql.charCodeAt(j + 1) === 58) j++
      else break
    }
    return { kind: idChars > 0 ? 'variable' : 'punct', start: i, end: j }
  }
  if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(j)))) {
    while (j < n) {
      const d = sql.charCodeAt(j)
      if (isIdChar(d) || d === 46) j++
      else if (
        (d === 43 || d === 45) &&
        (sql.charCodeAt(j - 1) | 32) === 101 &&
        isDigit(sql.charCodeAt(j + 1))
      )
        j++
      else break
    }
    return { kind: 'number', start: i, end: j }
  }
  if (isIdChar(c)) {
    while (j < n && isIdChar(sql.charCodeAt(j))) j++
    return { kind: 'ident', start: i, end: j }
  }
  if (j < n && TWO_CHAR_OPERATORS.has(sql.slice(i, j + 1))) {
    // `->>` is the one three-character operator
    if (sql.slice(i, j + 2) === '->>') return { kind: 'punct', start: i, end: j + 2 }
    return { kind: 'punct', start: i, end: j + 1 }
  }
  return { kind: 'punct', start: i, end: j }
}

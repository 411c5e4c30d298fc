/**
 * One statement as the router reads it: its significant tokens (no whitespace, no comments),
 * each with its text, upper-cased word and parenthesis depth, plus the small queries the
 * router asks of them (split at top-level commas or ANDs, find a top-level keyword, name a
 * parameter). Reading, never rewriting: rewritten SQL is cut from the original text.
 */
import { nextSqlToken, type SqlTokenKind } from '../../../schemas/sql-tokens'

export interface Tok {
  kind: SqlTokenKind
  start: number
  end: number
  text: string
  /** Upper-cased text for bare words, '' otherwise. */
  word: string
  /** Parentheses open around this token (a `(` counts itself, its `)` too). */
  depth: number
}

export function tokenize(sql: string): Tok[] {
  const tokens: Tok[] = []
  let depth = 0
  for (let i = 0; i < sql.length; ) {
    const token = nextSqlToken(sql, i)
    i = token.end
    if (token.kind === 'ws' || token.kind === 'semi') continue
    const text = sql.slice(token.start, token.end)
    if (text === '(') depth++
    tokens.push({ ...token, text, word: token.kind === 'ident' ? text.toUpperCase() : '', depth })
    if (text === ')') depth = Math.max(0, depth - 1)
  }
  return tokens
}

/** An identifier's name: unquoted, lower-cased (SQLite names are case-insensitive). */
export function nameOf(token: Tok | undefined): string | undefined {
  if (token === undefined) return undefined
  if (token.kind === 'ident') return token.text.toLowerCase()
  if (token.kind === 'quoted') {
    const quote = token.text[0]
    const inner = token.text.slice(1, -1)
    return (quote === '[' ? inner : inner.replaceAll(`${quote}${quote}`, quote as string)).toLowerCase()
  }
  return undefined
}

/** Index of the first token at `depth` whose word is `word`, from `from` on (or -1). */
export function findWord(tokens: readonly Tok[], word: string, from = 0, depth = 0): number {
  for (let i = from; i < tokens.length; i++) {
    const token = tokens[i] as Tok
    if (token.depth === depth && token.word === word) return i
  }
  return -1
}

/** Splits tokens at top-level (relative `depth`) commas. */
export function splitCommas(tokens: readonly Tok[], depth: number): Tok[][] {
  const parts: Tok[][] = [[]]
  for (const token of tokens) {
    if (token.depth === depth && token.text === ',') parts.push([])
    else parts[parts.length - 1]?.push(token)
  }
  return parts.filter((part) => part.length > 0)
}

/** Splits a WHERE expression into its top-level AND conjuncts (the AND of BETWEEN stays inside). */
export function splitConjuncts(tokens: readonly Tok[], depth: number): Tok[][] {
  const parts: Tok[][] = [[]]
  let pendingBetween = 0
  for (const token of tokens) {
    const current = parts[parts.length - 1] as Tok[]
    if (token.depth === depth && token.word === 'BETWEEN') pendingBetween++
    if (token.depth === depth && token.word === 'AND') {
      if (pendingBetween > 0) pendingBetween--
      else {
        parts.push([])
        continue
      }
    }
    current.push(token)
  }
  return parts.filter((part) => part.length > 0)
}

/** True when some top-level token of `tokens` is the word OR: the conjunct is a disjunction. */
export function hasTopLevelWord(tokens: readonly Tok[], word: string, depth: number): boolean {
  return tokens.some((token) => token.depth === depth && token.word === word)
}

/** The original text of tokens[from..to) (to exclusive), with its inner spacing. */
export function textOf(sql: string, tokens: readonly Tok[], from: number, to: number): string {
  if (from >= to) return ''
  return sql.slice((tokens[from] as Tok).start, (tokens[to - 1] as Tok).end)
}

/** Tokens compared case-insensitively for words, exactly otherwise: "same expression" for the router. */
export function sameTokens(a: readonly Tok[], b: readonly Tok[]): boolean {
  return a.length === b.length && a.every((token, i) => normal(token) === normal(b[i] as Tok))
}

function normal(token: Tok): string {
  return token.kind === 'ident' || token.kind === 'quoted' ? `i:${nameOf(token)}` : token.text
}

/**
 * Splits a text of several statements at its semicolons (not those inside strings, comments
 * or a CREATE TRIGGER body), dropping empty pieces: what a Hrana `sequence` runs one by one.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = []
  let start = -1
  let words: string[] = []
  let inTrigger = false
  for (let i = 0; i < sql.length; ) {
    const token = nextSqlToken(sql, i)
    i = token.end
    if (token.kind === 'ws') continue
    if (start < 0) {
      if (token.kind === 'semi') continue
      start = token.start
      words = []
      inTrigger = false
    }
    if (token.kind === 'ident' && words.length < 3) {
      words.push(sql.slice(token.start, token.end).toUpperCase())
      inTrigger = words[0] === 'CREATE' && (words[1] === 'TRIGGER' || words[2] === 'TRIGGER')
    }
    const endsTrigger = (text: string) => /END\s*$/i.test(text.trimEnd())
    if (token.kind === 'semi' && (!inTrigger || endsTrigger(sql.slice(start, token.start)))) {
      statements.push(sql.slice(start, token.start))
      start = -1
    }
  }
  if (start >= 0) statements.push(sql.slice(start))
  return statements
}

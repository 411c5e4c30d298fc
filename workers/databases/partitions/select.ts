/**
 * Scatter-gather for a SELECT that no partition key pins: the query each shard runs, and what
 * the gatherer must re-apply to the union of their rows to get exactly one database's answer.
 *
 * Exact shapes: plain column lists (with `*`), DISTINCT, ORDER BY (any expression: terms that
 * are not selected travel as hidden trailing columns), LIMIT/OFFSET (each shard returns its
 * first offset+limit rows), and the aggregates COUNT, SUM, TOTAL, MIN, MAX and AVG (as SUM and
 * COUNT) with or without GROUP BY. Refused, because their merge would be wrong or needs SQL
 * evaluation outside SQLite: HAVING, window functions, compound selects, subqueries, joins,
 * aggregates inside expressions or with DISTINCT, group_concat, and bare columns beside
 * aggregates.
 */
import { literalValue, PartitionError } from './literals'
import { findWord, nameOf, sameTokens, splitCommas, type Tok, textOf } from './tokens'
import type { SqlValue } from './values'

export type AggregateFunction = 'count' | 'sum' | 'total' | 'min' | 'max' | 'avg'

export interface ScatterSelect {
  /** What each shard runs. */
  sql: string
  /** Positional arguments the shard query keeps (a prefix of the statement's). */
  positionalArgs: number
  /** Trailing columns the gatherer drops after using them. */
  hidden: number
  distinct: boolean
  /** Rows combine by group (aggregates or GROUP BY present). */
  grouped: boolean
  /** Columns that form the group key (empty: one group). */
  groupColumns: number[]
  aggregates: Array<{ column: number; fn: AggregateFunction; countColumn?: number }>
  order: Array<{ column: number; descending: boolean; nullsFirst: boolean }>
  limit: number | undefined
  offset: number
}

const AGGREGATES = new Set(['COUNT', 'SUM', 'TOTAL', 'MIN', 'MAX', 'AVG'])
const UNMERGEABLE = new Set(['GROUP_CONCAT', 'STRING_AGG', 'JSON_GROUP_ARRAY', 'JSON_GROUP_OBJECT', 'MEDIAN'])

interface Item {
  tokens: Tok[]
  expr: Tok[]
  alias: string | undefined
  aggregate: AggregateFunction | undefined
}

function refuse(what: string): never {
  throw new PartitionError(
    `${what} cannot be answered across shards; pin the partition key or query the shards' data another way`,
  )
}

/** A whole `fn(args)` aggregate call, or undefined. */
function aggregateOf(expr: readonly Tok[]): AggregateFunction | undefined {
  const [fn, open] = expr
  if (fn === undefined || !AGGREGATES.has(fn.word) || open?.text !== '(' || expr.at(-1)?.text !== ')')
    return undefined
  if (expr.findIndex((t, i) => i > 1 && t.text === ')' && t.depth === open.depth) !== expr.length - 1)
    return undefined
  const args = splitCommas(expr.slice(2, -1), open.depth)
  if ((fn.word === 'MIN' || fn.word === 'MAX') && args.length > 1) return undefined // the scalar functions
  if (args[0]?.[0]?.word === 'DISTINCT') refuse(`${fn.word}(DISTINCT …)`)
  return fn.word.toLowerCase() as AggregateFunction
}

function containsAggregateCall(tokens: readonly Tok[]): boolean {
  return tokens.some(
    (t, i) => (AGGREGATES.has(t.word) || UNMERGEABLE.has(t.word)) && tokens[i + 1]?.text === '(',
  )
}

function parseItem(tokens: Tok[]): Item {
  let expr = tokens
  let alias: string | undefined
  const last = tokens.at(-1)
  const beforeLast = tokens.at(-2)
  if (beforeLast?.word === 'AS') {
    alias = nameOf(last)
    expr = tokens.slice(0, -2)
  } else if (
    tokens.length > 1 &&
    last !== undefined &&
    (last.kind === 'quoted' || (last.kind === 'ident' && !NOT_ALIASES.has(last.word))) &&
    beforeLast !== undefined &&
    (beforeLast.kind === 'ident' ||
      beforeLast.kind === 'quoted' ||
      beforeLast.text === ')' ||
      beforeLast.kind === 'number' ||
      beforeLast.kind === 'string') &&
    beforeLast.text !== '.'
  ) {
    alias = nameOf(last)
    expr = tokens.slice(0, -1)
  }
  const aggregate = aggregateOf(expr)
  if (aggregate === undefined && containsAggregateCall(expr)) refuse('an aggregate inside an expression')
  return { tokens, expr, alias, aggregate }
}

const NOT_ALIASES = new Set(['END', 'NULL', 'TRUE', 'FALSE', 'ASC', 'DESC', 'NOCASE', 'BINARY', 'RTRIM'])

function quoteIdentifier(text: string): string {
  return `"${text.replaceAll('"', '""')}"`
}

export function analyzeScatterSelect(
  sql: string,
  tokens: readonly Tok[],
  params: Map<Tok, SqlValue | undefined>,
): ScatterSelect {
  for (const token of tokens) {
    if (token.depth === 0 && ['UNION', 'EXCEPT', 'INTERSECT'].includes(token.word))
      refuse('a compound SELECT')
    if (token.word === 'OVER' || token.word === 'WINDOW') refuse('a window function')
    if (token.depth > 0 && token.word === 'SELECT') refuse('a subquery')
  }
  let at = 1
  const distinct = tokens[at]?.word === 'DISTINCT'
  if (distinct || tokens[at]?.word === 'ALL') at++
  const from = findWord(tokens, 'FROM', at)
  const clauseAt = (word: string) => findWord(tokens, word, from)
  if (clauseAt('HAVING') >= 0) refuse('HAVING')
  const groupAt = clauseAt('GROUP')
  const orderAt = clauseAt('ORDER')
  const limitAt = clauseAt('LIMIT')
  const fromEnd =
    [findWord(tokens, 'WHERE', from), groupAt, orderAt, limitAt].find((i) => i >= 0) ?? tokens.length
  if (tokens.slice(from + 1, fromEnd).some((t) => t.depth === 0 && t.text === ',')) refuse('a join')

  const items = splitCommas(tokens.slice(at, from), 0).map(parseItem)
  const hasStar = items.some((item) => item.expr.at(-1)?.text === '*' && item.aggregate === undefined)
  const hiddenTexts: string[] = []
  const hiddenColumn = (text: string): number => {
    hiddenTexts.push(text)
    return -hiddenTexts.length // hidden column i is -(i + 1): its index is known once a shard answers
  }

  const groupTerms =
    groupAt >= 0
      ? splitCommas(tokens.slice(groupAt + 2, [orderAt, limitAt].find((i) => i >= 0) ?? tokens.length), 0)
      : []
  const grouped = groupTerms.length > 0 || items.some((item) => item.aggregate !== undefined)
  if (grouped && hasStar) refuse('`*` beside aggregates')
  const itemIndex = (term: Tok[]): number | undefined => {
    if (term.length === 1 && term[0]?.kind === 'number' && /^\d+$/.test(term[0].text)) {
      if (hasStar) refuse('ORDER BY a column number with `*`')
      const index = Number(term[0].text) - 1
      return index >= 0 && index < items.length ? index : undefined
    }
    const name = term.length === 1 ? nameOf(term[0]) : undefined
    const byAlias = name === undefined ? -1 : items.findIndex((item) => item.alias === name)
    if (byAlias >= 0 && !hasStar) return byAlias
    const byText = items.findIndex((item) => sameTokens(item.expr, term))
    return byText >= 0 && !hasStar ? byText : undefined
  }
  const groupColumns = groupTerms.map(
    (term) => itemIndex(term) ?? hiddenColumn(textOf(sql, term, 0, term.length)),
  )
  if (grouped)
    for (const [index, item] of items.entries())
      if (
        item.aggregate === undefined &&
        !groupColumns.includes(index) &&
        !groupTerms.some((t) => sameTokens(t, item.expr))
      )
        refuse('a column beside aggregates that is not in GROUP BY')

  const selectTexts: string[] = []
  const aggregates: ScatterSelect['aggregates'] = []
  for (const [index, item] of items.entries()) {
    const text = textOf(sql, item.tokens, 0, item.tokens.length)
    if (item.aggregate === 'avg') {
      const argument = textOf(sql, item.expr, 2, item.expr.length - 1)
      const name = item.alias ?? textOf(sql, item.expr, 0, item.expr.length)
      selectTexts.push(`sum(${argument}) AS ${quoteIdentifier(name)}`)
      aggregates.push({ column: index, fn: 'avg', countColumn: hiddenColumn(`count(${argument})`) })
    } else {
      selectTexts.push(text)
      if (item.aggregate !== undefined) aggregates.push({ column: index, fn: item.aggregate })
    }
  }

  const orderTerms =
    orderAt >= 0 ? splitCommas(tokens.slice(orderAt + 2, limitAt >= 0 ? limitAt : tokens.length), 0) : []
  const order = orderTerms.map((term) => {
    let end = term.length
    let descending = false
    let nullsFirst: boolean | undefined
    if (term.at(-2)?.word === 'NULLS') {
      nullsFirst = term.at(-1)?.word === 'FIRST'
      end -= 2
    }
    const direction = term[end - 1]?.word
    if (direction === 'ASC' || direction === 'DESC') {
      descending = direction === 'DESC'
      end--
    }
    const expr = term.slice(0, end)
    if (expr.some((t) => t.word === 'COLLATE')) refuse('ORDER BY … COLLATE')
    let column = itemIndex(expr)
    if (column === undefined) {
      const aggregate = aggregateOf(expr)
      if (distinct) refuse('DISTINCT with ORDER BY on an unselected expression')
      if (grouped && aggregate === undefined && !groupTerms.some((g) => sameTokens(g, expr)))
        refuse('ORDER BY an expression that is neither selected, grouped nor an aggregate')
      if (aggregate === 'avg') refuse('ORDER BY an unselected avg()')
      column = hiddenColumn(textOf(sql, expr, 0, expr.length))
      if (aggregate !== undefined) aggregates.push({ column, fn: aggregate })
    }
    return { column, descending, nullsFirst: nullsFirst ?? !descending }
  })

  const { limit, offset, positionalArgs } = limitClause(tokens, limitAt, params)
  const pushLimit = !grouped && limit !== undefined
  const head = `SELECT ${distinct ? 'DISTINCT ' : ''}${[...selectTexts, ...hiddenTexts.map((t, i) => `${t} AS "__eb_hidden_${i}"`)].join(', ')}`
  const rest = textOf(sql, tokens, from, limitAt >= 0 ? limitAt : tokens.length)
  const shardSql = `${head} ${rest}${pushLimit ? ` LIMIT ${limit + offset}` : ''}`

  return {
    sql: shardSql,
    positionalArgs,
    hidden: hiddenTexts.length,
    distinct,
    grouped,
    groupColumns,
    aggregates,
    order,
    limit,
    offset,
  }
}

function limitClause(
  tokens: readonly Tok[],
  limitAt: number,
  params: Map<Tok, SqlValue | undefined>,
): { limit: number | undefined; offset: number; positionalArgs: number } {
  const kept = limitAt >= 0 ? tokens.slice(0, limitAt) : tokens
  const positionalArgs = highestPositional(kept, params)
  if (limitAt < 0) return { limit: undefined, offset: 0, positionalArgs }
  const clause = tokens.slice(limitAt + 1)
  const offsetAt = clause.findIndex((t) => t.depth === 0 && t.word === 'OFFSET')
  const commaAt = clause.findIndex((t) => t.depth === 0 && t.text === ',')
  const value = (part: Tok[]) => {
    const v = literalValue(part, params)
    if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isInteger(v)))
      refuse('a LIMIT or OFFSET that is not an integer literal or parameter')
    return Number(v)
  }
  let limit: number
  let offset = 0
  if (offsetAt >= 0) {
    limit = value(clause.slice(0, offsetAt))
    offset = value(clause.slice(offsetAt + 1))
  } else if (commaAt >= 0) {
    offset = value(clause.slice(0, commaAt))
    limit = value(clause.slice(commaAt + 1))
  } else limit = value(clause)
  return { limit: limit < 0 ? undefined : limit, offset: Math.max(0, offset), positionalArgs }
}

/** How many positional parameters `tokens` use (SQLite's numbering). */
function highestPositional(tokens: readonly Tok[], params: Map<Tok, SqlValue | undefined>): number {
  let highest = 0
  const names = new Set<string>()
  for (const token of tokens) {
    if (token.kind !== 'variable' || !params.has(token)) continue
    if (token.text === '?') highest++
    else if (token.text.startsWith('?')) highest = Math.max(highest, Number(token.text.slice(1)))
    else if (!names.has(token.text)) {
      names.add(token.text)
      highest++
    }
  }
  return highest
}

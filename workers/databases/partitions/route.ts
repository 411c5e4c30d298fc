/**
 * The partition router: which shard databases one SQL statement must run on.
 *
 * - A statement whose partitioned table is pinned by its key (`key = v`, `key IN (…)` as a
 *   top-level conjunct of WHERE, or the key column of every row of an INSERT … VALUES) runs
 *   unchanged on that key's shard: one-shard statements keep SQLite's full semantics.
 * - A SELECT that is not pinned scatters to every shard it may touch and is gathered by
 *   `select.ts`/`merge.ts`, for the shapes whose merge is exact; other shapes are refused.
 * - Writes that would touch several shards (no key, keys on several shards, a key changed by
 *   UPDATE or upsert, INSERT … SELECT) are refused: this router does no cross-shard writes.
 * - DDL on a partitioned table runs on every shard; statements on other tables run on the
 *   home shard. Transaction control is left to the session, which pins a transaction to the
 *   first shard it touches.
 * Refusals are `PartitionError`s with a message that says what to do instead.
 */

import { literalValue, PartitionError, parameterValues, type StatementArgs } from './literals'
import {
  HOME_SHARD,
  type PartitionedTable,
  type PartitionScheme,
  partitionedTable,
  shardOfKey,
} from './scheme'
import { analyzeScatterSelect, type ScatterSelect } from './select'
import { findWord, hasTopLevelWord, nameOf, splitCommas, splitConjuncts, type Tok, tokenize } from './tokens'
import type { SqlValue } from './values'

export { PartitionError, type StatementArgs }

export type Plan =
  | { kind: 'one'; shard: number; keys?: { table: string; values: SqlValue[] } }
  | { kind: 'every-shard' }
  | { kind: 'scatter'; shards: number[]; select: ScatterSelect }
  | { kind: 'transaction'; word: string }

const TRANSACTION_WORDS = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE'])
const TABLE_POSITION_WORDS = new Set(['FROM', 'JOIN', 'INTO', 'UPDATE', 'TABLE'])
const DDL_WORDS = new Set(['CREATE', 'DROP', 'ALTER'])

/** Is `tokens` the column `key` (bare or qualified by the table or its alias)? */
function isKeyColumn(tokens: readonly Tok[], key: string, qualifiers: ReadonlySet<string>): boolean {
  if (tokens.length === 1) return nameOf(tokens[0]) === key
  return (
    tokens.length === 3 &&
    tokens[1]?.text === '.' &&
    qualifiers.has(nameOf(tokens[0]) ?? '') &&
    nameOf(tokens[2]) === key
  )
}

/**
 * The key values a WHERE clause pins its rows to, or undefined when it pins none: the first
 * top-level conjunct of the form `key = v`, `v = key`, `key IS v` or `key IN (v, …)`.
 */
export function pinnedKeys(
  where: readonly Tok[],
  key: string,
  qualifiers: ReadonlySet<string>,
  params: Map<Tok, SqlValue | undefined>,
): SqlValue[] | undefined {
  const depth = where[0]?.depth ?? 0
  for (const conjunct of splitConjuncts(where, depth)) {
    if (hasTopLevelWord(conjunct, 'OR', depth)) continue
    const operator = conjunct.findIndex(
      (t) => t.depth === depth && (t.text === '=' || t.text === '==' || t.word === 'IS' || t.word === 'IN'),
    )
    if (operator <= 0) continue
    const left = conjunct.slice(0, operator)
    const right = conjunct.slice(operator + 1)
    const op = conjunct[operator] as Tok
    if (op.word === 'IN') {
      if (!isKeyColumn(left, key, qualifiers) || right[0]?.text !== '(' || right.at(-1)?.text !== ')')
        continue
      const items = splitCommas(right.slice(1, -1), depth + 1)
      const values = items.map((item) => literalValue(item, params))
      if (items.length > 0 && values.every((value) => value !== undefined)) return values as SqlValue[]
      continue
    }
    if (op.word === 'IS' && right[0]?.word === 'NOT') continue
    if (isKeyColumn(left, key, qualifiers)) {
      const value = literalValue(right, params)
      if (value !== undefined) return [value]
    } else if (op.word !== 'IS' && isKeyColumn(right, key, qualifiers)) {
      const value = literalValue(left, params)
      if (value !== undefined) return [value]
    }
  }
  return undefined
}

interface TableReference {
  name: string
  table: PartitionedTable
  /** Index of the name token. */
  at: number
  /** The name and its alias, for qualified key columns. */
  qualifiers: Set<string>
}

function tableReferences(scheme: PartitionScheme, tokens: readonly Tok[]): TableReference[] {
  const found: TableReference[] = []
  for (let i = 0; i < tokens.length - 1; i++) {
    const word = (tokens[i] as Tok).word
    if (!TABLE_POSITION_WORDS.has(word) && !(word === 'ON' && findWord(tokens, 'INDEX', 0, 0) >= 0)) continue
    let at = i + 1
    // TABLE IF NOT EXISTS name / INTO main.name
    while (['IF', 'NOT', 'EXISTS'].includes(tokens[at]?.word ?? '')) at++
    if (tokens[at + 1]?.text === '.') at += 2
    const name = nameOf(tokens[at])
    const table = name === undefined ? undefined : partitionedTable(scheme, name)
    if (name === undefined || table === undefined) continue
    const qualifiers = new Set([name])
    const aliasAt = tokens[at + 1]?.word === 'AS' ? at + 2 : at + 1
    const alias = tokens[aliasAt]
    if (
      alias !== undefined &&
      (alias.kind === 'quoted' || (alias.kind === 'ident' && !RESERVED.has(alias.word)))
    )
      qualifiers.add(nameOf(alias) as string)
    found.push({ name, table, at, qualifiers })
  }
  return found
}

const RESERVED = new Set([
  'WHERE', 'GROUP', 'ORDER', 'LIMIT', 'JOIN', 'LEFT', 'RIGHT', 'FULL', 'INNER', 'CROSS', 'NATURAL',
  'ON', 'USING', 'SET', 'VALUES', 'DEFAULT', 'SELECT', 'HAVING', 'WINDOW', 'UNION', 'EXCEPT',
  'INTERSECT', 'RETURNING', 'INDEXED', 'NOT', 'AS', 'OUTER', 'FROM',
]) // biome-ignore format: a word list

/** Plans one statement (its text must hold exactly one statement). */
export function planStatement(scheme: PartitionScheme, sql: string, args: StatementArgs): Plan {
  const tokens = tokenize(sql)
  const first = tokens[0]?.word ?? ''
  if (TRANSACTION_WORDS.has(first)) return { kind: 'transaction', word: first }
  const body = first === 'EXPLAIN' ? tokens.slice(tokens[1]?.word === 'QUERY' ? 3 : 1) : tokens
  const references = tableReferences(scheme, body)
  const verb = body[0]?.word ?? ''
  if (verb === 'DROP' && (body[1]?.word === 'INDEX' || body[1]?.word === 'TRIGGER')) {
    // the statement does not name its table: drop it wherever it exists
    if (body[2]?.word !== 'IF')
      throw new PartitionError(
        `write DROP ${body[1].word} IF EXISTS on a partitioned database: it runs on every shard`,
      )
    return { kind: 'every-shard' }
  }
  if (references.length === 0) return { kind: 'one', shard: HOME_SHARD }
  if (DDL_WORDS.has(verb)) return { kind: 'every-shard' }
  if (references.length > 1 || body.some((t) => t.word === 'JOIN') || verb === 'WITH')
    throw new PartitionError(
      'a statement on a partitioned table may name only that table (no joins, no subqueries on partitioned tables, no WITH); query each table separately',
    )
  const [reference] = references as [TableReference]
  const params = parameterValues(body, args)
  const where = whereClause(body)
  const pinned =
    where === undefined ? undefined : pinnedKeys(where, reference.table.key, reference.qualifiers, params)
  const shardsOf = (values: SqlValue[]) =>
    [...new Set(values.map((value) => shardOfKey(scheme, reference.table, value)))].sort((a, b) => a - b)
  switch (verb) {
    case 'SELECT': {
      const shards =
        pinned === undefined ? Array.from({ length: scheme.shards }, (_, i) => i) : shardsOf(pinned)
      if (shards.length === 1)
        return { kind: 'one', shard: shards[0] as number, ...keysOf(reference.name, pinned) }
      return { kind: 'scatter', shards, select: analyzeScatterSelect(sql, body, params) }
    }
    case 'INSERT':
    case 'REPLACE': {
      const values: SqlValue[] = []
      return {
        kind: 'one',
        shard: insertShard(scheme, body, reference, params, values),
        ...keysOf(reference.name, values),
      }
    }
    case 'UPDATE':
    case 'DELETE': {
      if (verb === 'UPDATE') refuseKeyChange(body, findWord(body, 'SET'), reference.table.key)
      if (pinned === undefined)
        throw new PartitionError(
          `${verb} on the partitioned table "${reference.name}" must pin its rows with "${reference.table.key} = …" or "${reference.table.key} IN (…)" in WHERE; cross-shard writes are not supported`,
        )
      const shards = shardsOf(pinned)
      if (shards.length > 1)
        throw new PartitionError(
          `this ${verb} touches keys on ${shards.length} shards; write each shard's keys in a separate statement`,
        )
      return { kind: 'one', shard: shards[0] as number, ...keysOf(reference.name, pinned) }
    }
    default:
      throw new PartitionError(
        `${verb || 'this statement'} is not supported on the partitioned table "${reference.name}"`,
      )
  }
}

/** The partition keys a one-shard plan pins (for the traffic statistics). */
const keysOf = (table: string, values: SqlValue[] | undefined) =>
  values === undefined || values.length === 0 ? {} : { keys: { table: table.toLowerCase(), values } }

/** The top-level WHERE expression's tokens, or undefined. */
function whereClause(tokens: readonly Tok[]): Tok[] | undefined {
  const at = findWord(tokens, 'WHERE')
  if (at < 0) return undefined
  const ends = ['GROUP', 'HAVING', 'WINDOW', 'ORDER', 'LIMIT', 'RETURNING']
  let end = at + 1
  while (
    end < tokens.length &&
    !((tokens[end] as Tok).depth === 0 && ends.includes((tokens[end] as Tok).word))
  )
    end++
  return tokens.slice(at + 1, end)
}

function refuseKeyChange(tokens: readonly Tok[], setAt: number, key: string): void {
  if (setAt < 0) return
  for (let i = setAt + 1; i < tokens.length; i++) {
    const token = tokens[i] as Tok
    if (token.depth === 0 && ['WHERE', 'RETURNING', 'FROM'].includes(token.word)) break
    const next = tokens[i + 1]
    const assigned =
      next?.text === '=' && (i === setAt + 1 || tokens[i - 1]?.text === ',' || tokens[i - 1]?.text === '.')
    if (assigned && nameOf(token) === key)
      throw new PartitionError(
        `the partition key "${key}" cannot be changed in place; delete the row and insert it again`,
      )
  }
}

function insertShard(
  scheme: PartitionScheme,
  tokens: readonly Tok[],
  reference: TableReference,
  params: Map<Tok, SqlValue | undefined>,
  values: SqlValue[] = [],
): number {
  const key = reference.table.key
  const columnsOpen = reference.at + (tokens[reference.at + 1]?.word === 'AS' ? 3 : 1)
  if (tokens[columnsOpen]?.text !== '(')
    throw new PartitionError(
      `INSERT into the partitioned table "${reference.name}" must list its columns, including "${key}"`,
    )
  const columnsClose = tokens.findIndex((t, i) => i > columnsOpen && t.text === ')' && t.depth === 1)
  const columns = splitCommas(tokens.slice(columnsOpen + 1, columnsClose), 1).map((c) => nameOf(c[0]))
  const position = columns.indexOf(key)
  if (position < 0)
    throw new PartitionError(`INSERT into "${reference.name}" must give its partition key "${key}"`)
  if (tokens[columnsClose + 1]?.word !== 'VALUES')
    throw new PartitionError(
      `INSERT into the partitioned table "${reference.name}" takes VALUES rows (not SELECT or DEFAULT VALUES)`,
    )
  const shards = new Set<number>()
  let i = columnsClose + 2
  while (tokens[i]?.text === '(' && tokens[i]?.depth === 1) {
    const close = tokens.findIndex((t, j) => j > i && t.text === ')' && t.depth === 1)
    const row = splitCommas(tokens.slice(i + 1, close), 1)
    const value = literalValue(row[position] ?? [], params)
    if (value === undefined)
      throw new PartitionError(
        `the partition key "${key}" of every inserted row must be a literal or a parameter`,
      )
    shards.add(shardOfKey(scheme, reference.table, value))
    values.push(value)
    i = close + 1
    if (tokens[i]?.text !== ',') break
    i++
  }
  const upsert = findWord(tokens, 'DO', i)
  if (upsert >= 0 && tokens[upsert + 1]?.word === 'UPDATE')
    refuseKeyChange(tokens, findWord(tokens, 'SET', upsert), key)
  if (shards.size !== 1)
    throw new PartitionError(
      `these rows belong to ${shards.size} shards; insert each shard's rows in a separate statement`,
    )
  return [...shards][0] as number
}

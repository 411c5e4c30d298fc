/**
 * Literal values in a statement's tokens: what a parameter is bound to (numbered exactly as
 * SQLite numbers them) and what a one-token literal means. The router's only "evaluation".
 */
import type { Tok } from './tokens'
import type { SqlValue } from './values'

export class PartitionError extends Error {}

export interface StatementArgs {
  positional: readonly SqlValue[]
  /** By name, with or without its prefix (`:id` or `id`). */
  named: ReadonlyMap<string, SqlValue>
}

/** Assigns each variable token its value, numbering parameters exactly as SQLite does. */
export function parameterValues(tokens: readonly Tok[], args: StatementArgs): Map<Tok, SqlValue | undefined> {
  const values = new Map<Tok, SqlValue | undefined>()
  const indexOfName = new Map<string, number>()
  let highest = 0
  for (const token of tokens) {
    if (token.kind !== 'variable') continue
    let index: number
    if (token.text === '?') index = ++highest
    else if (token.text.startsWith('?')) {
      index = Number(token.text.slice(1))
      highest = Math.max(highest, index)
    } else {
      index = indexOfName.get(token.text) ?? ++highest
      indexOfName.set(token.text, index)
      const named = args.named.get(token.text) ?? args.named.get(token.text.slice(1))
      if (named !== undefined || args.named.has(token.text) || args.named.has(token.text.slice(1))) {
        values.set(token, named ?? null)
        continue
      }
    }
    values.set(token, index <= args.positional.length ? (args.positional[index - 1] ?? null) : undefined)
  }
  return values
}

/** The value of a literal or parameter expression (one token, or `-` and a number), else undefined. */
export function literalValue(
  tokens: readonly Tok[],
  params: Map<Tok, SqlValue | undefined>,
): SqlValue | undefined {
  const [first, second] = tokens
  if (first === undefined) return undefined
  if (tokens.length === 2 && first.text === '-' && second?.kind === 'number') {
    const value = literalValue([second], params)
    return typeof value === 'bigint' ? -value : typeof value === 'number' ? -value : undefined
  }
  if (tokens.length !== 1) return undefined
  if (first.kind === 'variable') return params.get(first)
  if (first.kind === 'string') return first.text.slice(1, -1).replaceAll("''", "'")
  if (first.kind === 'number') {
    if (/^\d+$/.test(first.text)) return BigInt(first.text)
    const number = Number(first.text)
    return Number.isFinite(number) ? number : undefined
  }
  if (first.word === 'NULL') return null
  return undefined
}

/**
 * Hrana's JSON values to SQLite values and back, and a Hrana statement's arguments as the
 * router reads them. Integers stay exact (bigint); blobs are bytes.
 */
import { base64ToBytes, bytesToBase64 } from '../../platform/encoding'
import type { StatementArgs } from './literals'
import type { SqlValue } from './values'

export type HranaValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string }

export interface HranaStmt {
  sql?: unknown
  sql_id?: unknown
  args?: unknown
  named_args?: unknown
  want_rows?: unknown
}

export function fromHrana(value: unknown): SqlValue {
  const v = value as Partial<{ type: string; value: unknown; base64: unknown }> | null
  switch (v?.type) {
    case 'integer':
      return BigInt(String(v.value))
    case 'float':
      return Number(v.value)
    case 'text':
      return String(v.value)
    case 'blob':
      return base64ToBytes(String(v.base64 ?? '')) ?? new Uint8Array()
    default:
      return null
  }
}

export function toHrana(value: SqlValue): HranaValue {
  if (value === null) return { type: 'null' }
  if (typeof value === 'bigint') return { type: 'integer', value: value.toString() }
  if (typeof value === 'number') return { type: 'float', value }
  if (typeof value === 'string') return { type: 'text', value }
  return { type: 'blob', base64: bytesToBase64(value) }
}

export function statementArgs(stmt: HranaStmt): StatementArgs {
  const positional = Array.isArray(stmt.args) ? stmt.args.map(fromHrana) : []
  const named = new Map<string, SqlValue>()
  if (Array.isArray(stmt.named_args))
    for (const entry of stmt.named_args as Array<{ name?: unknown; value?: unknown }>)
      if (typeof entry?.name === 'string') named.set(entry.name, fromHrana(entry.value))
  return { positional, named }
}

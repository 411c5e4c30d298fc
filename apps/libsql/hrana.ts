// Hrana 2/3 protocol structures (JSON encoding) and their strict decoding and encoding.
//
// Guarantees:
// - Decoding never trusts its input: every field is type-checked, integers must be decimal strings (or
//   safe JSON integers) inside the signed 64-bit range, blobs must be canonical base64, condition trees
//   are depth-bounded and may only refer to earlier steps. Anything else is a RequestError whose message
//   says which field is wrong; it becomes that request's error result, never a crash.
// - Only values the engine binding can bind safely come out (null, bigint, finite number, string,
//   Uint8Array): the native binding aborts the process on booleans and object keys, so none reach it.
// - Encoding produces JSON text directly: integers as decimal strings, floats keep -0 and ±Infinity
//   (as -0.0 and ±1e999, which JSON.parse reads back exactly), blobs as base64.
// Spec: tursodatabase/libsql docs/HRANA_3_SPEC.md ("Shared structures", "Hrana over HTTP").

export type SqlValue = null | bigint | number | string | Uint8Array

export interface Stmt {
  sql: string | undefined
  sqlId: number | undefined
  args: SqlValue[]
  namedArgs: Array<[string, SqlValue]>
  wantRows: boolean
}

export type BatchCond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and' | 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' }

export interface BatchStep {
  condition: BatchCond | undefined
  stmt: Stmt
}

export type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: Stmt }
  | { type: 'batch'; steps: BatchStep[] }
  | { type: 'sequence' | 'describe'; sql: string | undefined; sqlId: number | undefined }
  | { type: 'store_sql'; sqlId: number; sql: string }
  | { type: 'close_sql'; sqlId: number }
  | { type: 'get_autocommit' }

/** The Hrana `Error` structure. */
export interface HranaError {
  message: string
  code: string
}

/** A problem with one request or statement; reported in-band as `{ message, code }`. */
export class RequestError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

const INVALID = 'INVALID_REQUEST'
const MAX_COND_DEPTH = 64
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/
const DECIMAL = /^[+-]?\d{1,20}$/

type Json = Record<string, unknown>

function fail(path: string, expected: string): never {
  throw new RequestError(INVALID, `${path}: expected ${expected}`)
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object')
  return value as Json
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array')
  return value
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') fail(path, 'a string or null')
  return value
}

function int32(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)
    fail(path, 'a 32-bit integer')
  return value
}

function optionalInt32(value: unknown, path: string): number | undefined {
  return value === undefined || value === null ? undefined : int32(value, path)
}

export function decodeValue(value: unknown, path: string): SqlValue {
  const v = object(value, path)
  switch (v.type) {
    case 'null':
      return null
    case 'integer': {
      const raw = v.value
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return BigInt(raw)
      if (typeof raw !== 'string' || !DECIMAL.test(raw)) fail(`${path}.value`, 'a decimal integer string')
      const n = BigInt(raw)
      if (n < I64_MIN || n > I64_MAX) fail(`${path}.value`, 'an integer in the signed 64-bit range')
      return n
    }
    case 'float':
      if (typeof v.value !== 'number' || !Number.isFinite(v.value)) fail(`${path}.value`, 'a finite number')
      return v.value
    case 'text':
      if (typeof v.value !== 'string') fail(`${path}.value`, 'a string')
      if (v.value.includes('\0'))
        throw new RequestError(
          'ARGS_INVALID',
          `${path}: text values containing NUL characters are not supported by this server (send a blob)`,
        )
      return v.value
    case 'blob': {
      const b64 = v.base64
      if (typeof b64 !== 'string' || b64.length % 4 === 1 || !BASE64.test(b64))
        fail(`${path}.base64`, 'a base64 string')
      return Buffer.from(b64, 'base64')
    }
    default:
      return fail(`${path}.type`, '"null", "integer", "float", "text" or "blob"')
  }
}

export function decodeStmt(value: unknown, path: string): Stmt {
  const s = object(value, path)
  const sql = optionalString(s.sql, `${path}.sql`)
  const sqlId = optionalInt32(s.sql_id, `${path}.sql_id`)
  if ((sql === undefined) === (sqlId === undefined))
    throw new RequestError(INVALID, `${path}: exactly one of "sql" and "sql_id" must be given`)
  const args =
    s.args === undefined || s.args === null
      ? []
      : array(s.args, `${path}.args`).map((a, i) => decodeValue(a, `${path}.args[${i}]`))
  const namedArgs: Array<[string, SqlValue]> = []
  if (s.named_args !== undefined && s.named_args !== null) {
    array(s.named_args, `${path}.named_args`).forEach((a, i) => {
      const arg = object(a, `${path}.named_args[${i}]`)
      if (typeof arg.name !== 'string' || arg.name === '') fail(`${path}.named_args[${i}].name`, 'a name')
      namedArgs.push([arg.name, decodeValue(arg.value, `${path}.named_args[${i}].value`)])
    })
  }
  if (s.want_rows !== undefined && s.want_rows !== null && typeof s.want_rows !== 'boolean')
    fail(`${path}.want_rows`, 'a boolean')
  return { sql, sqlId, args, namedArgs, wantRows: s.want_rows !== false }
}

function decodeCond(value: unknown, path: string, stepIndex: number, depth: number): BatchCond {
  if (depth > MAX_COND_DEPTH) throw new RequestError(INVALID, `${path}: condition nested too deeply`)
  const c = object(value, path)
  switch (c.type) {
    case 'ok':
    case 'error': {
      const step = c.step
      if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step >= stepIndex)
        fail(`${path}.step`, `the index of an earlier step (0..${stepIndex - 1})`)
      return { type: c.type, step }
    }
    case 'not':
      return { type: 'not', cond: decodeCond(c.cond, `${path}.cond`, stepIndex, depth + 1) }
    case 'and':
    case 'or':
      return {
        type: c.type,
        conds: array(c.conds, `${path}.conds`).map((x, i) =>
          decodeCond(x, `${path}.conds[${i}]`, stepIndex, depth + 1),
        ),
      }
    case 'is_autocommit':
      return { type: 'is_autocommit' }
    default:
      return fail(`${path}.type`, '"ok", "error", "not", "and", "or" or "is_autocommit"')
  }
}

export function decodeBatch(value: unknown, path: string): BatchStep[] {
  const b = object(value, path)
  return array(b.steps, `${path}.steps`).map((s, i) => {
    const step = object(s, `${path}.steps[${i}]`)
    const condition =
      step.condition === undefined || step.condition === null
        ? undefined
        : decodeCond(step.condition, `${path}.steps[${i}].condition`, i, 0)
    return { condition, stmt: decodeStmt(step.stmt, `${path}.steps[${i}].stmt`) }
  })
}

export function decodeRequest(value: unknown, path: string): StreamRequest {
  const r = object(value, path)
  switch (r.type) {
    case 'close':
    case 'get_autocommit':
      return { type: r.type }
    case 'execute':
      return { type: 'execute', stmt: decodeStmt(r.stmt, `${path}.stmt`) }
    case 'batch':
      return { type: 'batch', steps: decodeBatch(r.batch, `${path}.batch`) }
    case 'sequence':
    case 'describe': {
      const sql = optionalString(r.sql, `${path}.sql`)
      const sqlId = optionalInt32(r.sql_id, `${path}.sql_id`)
      if ((sql === undefined) === (sqlId === undefined))
        throw new RequestError(INVALID, `${path}: exactly one of "sql" and "sql_id" must be given`)
      return { type: r.type, sql, sqlId }
    }
    case 'store_sql':
      if (typeof r.sql !== 'string') fail(`${path}.sql`, 'a string')
      return { type: 'store_sql', sqlId: int32(r.sql_id, `${path}.sql_id`), sql: r.sql }
    case 'close_sql':
      return { type: 'close_sql', sqlId: int32(r.sql_id, `${path}.sql_id`) }
    default:
      throw new RequestError(
        INVALID,
        `${path}.type: unknown request type ${JSON.stringify(typeof r.type === 'string' ? r.type.slice(0, 64) : r.type)}`,
      )
  }
}

/** JSON text of one Hrana `Value`. */
export function encodeValue(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return `{"type":"integer","value":"${v}"}`
    case 'number':
      if (Number.isNaN(v)) return '{"type":"null"}'
      if (!Number.isFinite(v)) return `{"type":"float","value":${v > 0 ? '1e999' : '-1e999'}}`
      return `{"type":"float","value":${Object.is(v, -0) ? '-0.0' : JSON.stringify(v)}}`
    case 'string':
      return `{"type":"text","value":${JSON.stringify(v)}}`
    case 'object':
      if (v instanceof Uint8Array)
        return `{"type":"blob","base64":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"}`
      return '{"type":"null"}'
    default:
      return '{"type":"null"}'
  }
}

export interface Column {
  name: string | null
  decltype: string | null
}

export function encodeCols(cols: Column[]): string {
  return JSON.stringify(cols.map((c) => ({ name: c.name, decltype: c.decltype })))
}

/** JSON text of a `StmtResult`; `rowsJson` are already-encoded rows. */
export function encodeStmtResult(
  colsJson: string,
  rowsJson: string[],
  affectedRowCount: number,
  lastInsertRowid: bigint | null,
): string {
  const rowid = lastInsertRowid === null ? 'null' : `"${lastInsertRowid}"`
  return `{"cols":${colsJson},"rows":[${rowsJson.join(',')}],"affected_row_count":${affectedRowCount},"last_insert_rowid":${rowid}}`
}

export function encodeError(error: HranaError): string {
  return JSON.stringify({ message: error.message, code: error.code })
}

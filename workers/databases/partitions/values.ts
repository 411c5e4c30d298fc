/**
 * SQLite's values as the partition router sees them, with SQLite's own ordering and equality,
 * so that rows merged from several shards sort and group exactly as one database would.
 *
 * - `compareSqlValues`: NULL < INTEGER/REAL (numerically, exact across bigint and float) <
 *   TEXT (BINARY collation: UTF-8 byte order) < BLOB (memcmp).
 * - `groupKeyOf`: one string per equivalence class of SQLite's `=` as GROUP BY and DISTINCT
 *   use it (1 and 1.0 are one group; NULLs are one group; 'a' and 'A' are two).
 */

export type SqlValue = null | bigint | number | string | Uint8Array

const typeRank = (value: SqlValue): number =>
  value === null
    ? 0
    : typeof value === 'bigint' || typeof value === 'number'
      ? 1
      : typeof value === 'string'
        ? 2
        : 3

function compareNumbers(a: bigint | number, b: bigint | number): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0
  // one bigint, one float: compare exactly (a float beyond 2^53 is an integer itself)
  const [big, float, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1]
  if (Number.isNaN(float)) return sign
  if (float === Number.POSITIVE_INFINITY) return -sign
  if (float === Number.NEGATIVE_INFINITY) return sign
  const floor = BigInt(Math.floor(float))
  if (big !== floor) return (big < floor ? -1 : 1) * sign
  return float === Math.floor(float) ? 0 : -sign
}

function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number
    const y = b.codePointAt(i) as number
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0
}

export function compareSqlValues(a: SqlValue, b: SqlValue): number {
  const rankA = typeRank(a)
  const rankB = typeRank(b)
  if (rankA !== rankB) return rankA < rankB ? -1 : 1
  switch (rankA) {
    case 0:
      return 0
    case 1:
      return compareNumbers(a as bigint | number, b as bigint | number)
    case 2:
      return compareUtf8(a as string, b as string)
    default:
      return compareBytes(a as Uint8Array, b as Uint8Array)
  }
}

function numberKey(value: bigint | number): string {
  if (typeof value === 'bigint') return `n${value}`
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) return `n${BigInt(value)}`
  return `n${value}`
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

export function groupKeyOf(value: SqlValue): string {
  if (value === null) return 'z'
  if (typeof value === 'bigint' || typeof value === 'number') return numberKey(value)
  if (typeof value === 'string') return `t${value}`
  return `b${hex(value)}`
}

/** The group key of a whole row (or of some of its columns). */
export function rowKeyOf(row: readonly SqlValue[], columns: readonly number[]): string {
  return JSON.stringify(columns.map((column) => groupKeyOf(row[column] ?? null)))
}

const NUMERIC_TEXT = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/

/**
 * The text a partition key hashes as. Values that a numeric column would store as the same
 * number (5, 5.0, '5', ' 5') hash alike, so a row is found whichever way the key is written.
 */
export function partitionKeyText(value: SqlValue): string {
  if (typeof value === 'string' && NUMERIC_TEXT.test(value)) {
    const number = Number(value)
    if (Number.isFinite(number)) return numberKey(Number.isSafeInteger(number) ? BigInt(number) : number)
  }
  return groupKeyOf(value)
}

/** Adds numbers as SQLite's SUM does: integers stay exact, any float makes the sum a float. */
export function addSqlNumbers(a: bigint | number, b: bigint | number): bigint | number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b
  return Number(a) + Number(b)
}

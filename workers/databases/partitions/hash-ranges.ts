/**
 * Hash partitioning as ranges of the 32-bit hash space (token ranges, as in Dynamo, Cassandra
 * and CockroachDB): a row of a hash-partitioned table lives on the shard whose range holds
 * `hashPoint(key)`. A new database with N hash shards gets N even ranges (`evenHashBounds`); a
 * hot shard splits by cutting its range in two, so only its own rows move.
 *
 * The point is computed in two places that must agree exactly:
 * - `hashPoint` (JS): the router, for the key literal of a statement;
 * - `hashPointSql` (plain SQL, no user function): the storage node, in the fence triggers of a
 *   resharding job and when the job picks the moving rows. Storage nodes are sqld/Turso or
 *   our libSQL server reached over Hrana, so nothing can be registered there; a stored hash
 *   column would change the tables' visible shape. SQLite runs a recursive common table
 *   expression inside a trigger's WHEN, which is enough to fold FNV-1a over the key's bytes.
 * Both hash the key's canonical text: values SQLite's `=` makes equal under any column
 * affinity hash alike (5, 5.0, '5', ' 5 ' → `n5`; other reals → `r`, all on one shard;
 * text → `t…`; blob → `b<hex>`; NULL → `z`), then `hash32` (FNV-1a + murmur3 fmix32).
 * "Numeric text" is SQLite's own test (a well-formed integer or real literal with ASCII
 * spaces around it), applied in SQL by comparing with NUMERIC affinity.
 * Cost: the router hashes once per key; the storage side folds one step per key byte for
 * each row written to a fenced table (only while and after a split of that table): about
 * 70 µs of SQLite CPU per insert of a short key, against a few µs for a range fence.
 * Schemes stored without hash bounds (made before ranges existed) keep `hash32 mod N`.
 */
import { hash32 } from '../../platform/hashing'
import type { SqlValue } from './values'

export const HASH_SPACE = 2 ** 32

/** N − 1 even exclusive upper bounds over [0, 2^32). */
export function evenHashBounds(shards: number): number[] {
  return Array.from({ length: shards - 1 }, (_, i) => Math.floor(((i + 1) * HASH_SPACE) / shards))
}

const SPACE = '[ \\t\\n\\v\\f\\r]*'
const NUMERIC_TEXT = new RegExp(`^${SPACE}[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?${SPACE}$`)
const INTEGER_TEXT = new RegExp(`^${SPACE}[+-]?\\d+${SPACE}$`)
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function numberText(value: bigint | number): string {
  if (typeof value === 'bigint') return value >= INT64_MIN && value <= INT64_MAX ? `n${value}` : 'r'
  return Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? `n${BigInt(value)}` : 'r'
}

/** The canonical text a key hashes as (see the header). */
export function hashKeyText(value: SqlValue): string {
  if (value === null) return 'z'
  if (value instanceof Uint8Array)
    return `b${Array.from(value, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
  if (typeof value === 'string') {
    if (!NUMERIC_TEXT.test(value)) return `t${value}`
    if (INTEGER_TEXT.test(value)) {
      const integer = BigInt(value.trim())
      if (integer >= INT64_MIN && integer <= INT64_MAX) return `n${integer}`
    }
    return numberText(Number(value))
  }
  return numberText(value)
}

/** A key's point in [0, 2^32). */
export function hashPoint(value: SqlValue): number {
  return hash32(hashKeyText(value))
}

/** (a * c) mod 2^32 for a < 2^32, in 64-bit SQL integers without overflow. */
const mul32 = (a: string, c: number) =>
  `((${a} * ${c & 0xffff}) + (((${a} * ${c >>> 16}) & 65535) << 16)) & 4294967295`
const xor = (a: string, b: string) => `((${a} | ${b}) - (${a} & ${b}))`
const HEX = "'0123456789ABCDEF'"
const byteAt = (hex: string, i: string) =>
  `((instr(${HEX}, substr(${hex}, 2 * ${i} + 1, 1)) - 1) * 16 + instr(${HEX}, substr(${hex}, 2 * ${i} + 2, 1)) - 1)`

/** A scalar SQL subquery: `hashPoint` of the SQL value `value` (e.g. `NEW."id"`). */
export function hashPointSql(value: string): string {
  return HASH_POINT_SQL.replace('?value', () => value)
}

const HASH_POINT_SQL = (() => {
  const byte = byteAt('b.x', 'f.i')
  return `(WITH RECURSIVE
    v(x) AS (SELECT ?value),
    c(t) AS (SELECT CASE
      WHEN typeof(x) = 'null' THEN 'z'
      WHEN typeof(x) = 'blob' THEN 'b' || lower(hex(x))
      WHEN typeof(x) = 'text' AND NOT (CAST(x AS NUMERIC) = (x || '')) THEN 't' || x
      ELSE (SELECT CASE
        WHEN typeof(n) = 'integer' THEN 'n' || n
        WHEN n = CAST(n AS INTEGER) AND abs(n) < 9223372036854775807.0 THEN 'n' || CAST(n AS INTEGER)
        ELSE 'r' END FROM (SELECT CAST(x AS NUMERIC) AS n))
      END FROM v),
    b(x) AS (SELECT hex(CAST(t AS BLOB)) FROM c),
    f(i, h) AS (SELECT 0, 2166136261 UNION ALL
      SELECT f.i + 1, (${xor('f.h', byte)} * 16777619) & 4294967295 FROM f, b WHERE f.i < length(b.x) / 2),
    m1(h) AS (SELECT ${xor('f.h', '(f.h >> 16)')} FROM f, b WHERE f.i = length(b.x) / 2),
    m2(h) AS (SELECT ${mul32('h', 0x85ebca6b)} FROM m1),
    m3(h) AS (SELECT ${xor('h', '(h >> 13)')} FROM m2),
    m4(h) AS (SELECT ${mul32('h', 0xc2b2ae35)} FROM m3)
    SELECT ${xor('h', '(h >> 16)')} FROM m4)`.replace(/\s+/g, ' ')
})()

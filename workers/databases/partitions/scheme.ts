/**
 * A partitioned database's layout: how many shard databases it has and, for each partitioned
 * table, the column whose value picks a row's shard.
 *
 * Both kinds are ranges; `bounds` are ascending exclusive upper bounds, one per shard but the
 * last (shard i holds the points p with bounds[i-1] <= p < bounds[i]), and a row's shard is
 * the range that holds its point:
 * - `hash`: the point is `hashPoint(key)` in [0, 2^32) (hash-ranges.ts); bounds are integers.
 *   Spreads any key evenly; every range query scatters. A hash table stored without bounds
 *   (made before hash ranges) keeps its old rule, shard = hash32(key) mod shards.
 * - `range`: the point is the key itself, in SQLite's value order. Keeps neighbouring keys
 *   together; a hot range stays on one shard.
 * Tables not named here live whole on the home shard (shard 0).
 */
import { hash32 } from '../../platform/hashing'
import { evenHashBounds, HASH_SPACE, hashPoint } from './hash-ranges'
import { compareSqlValues, partitionKeyText, type SqlValue } from './values'

export interface PartitionedTable {
  /** The partition key column. */
  key: string
  by: 'hash' | 'range'
  /** shards − 1 ascending exclusive upper bounds (for `hash`: of the hash point; absent = legacy mod N). */
  bounds?: Array<number | string>
}

export interface PartitionScheme {
  shards: number
  /** Partitioned tables by lower-cased name. */
  tables: Record<string, PartitionedTable>
}

export const HOME_SHARD = 0

export function partitionedTable(scheme: PartitionScheme, name: string): PartitionedTable | undefined {
  return Object.hasOwn(scheme.tables, name.toLowerCase()) ? scheme.tables[name.toLowerCase()] : undefined
}

/** Is `table` hash-partitioned by the legacy rule (hash mod shards, no ranges)? */
export const isLegacyHash = (table: PartitionedTable) => table.by === 'hash' && table.bounds === undefined

/** The point of `value` that `table`'s bounds divide: its hash point, or the key itself. */
export function pointOf(table: PartitionedTable, value: SqlValue): SqlValue {
  if (table.by === 'hash') return hashPoint(value)
  const comparable = typeof value === 'string' && /^\s*[+-]?\d/.test(value) ? Number(value) : value
  return typeof comparable === 'number' && Number.isNaN(comparable) ? value : comparable
}

/** The shard that holds the rows of `table` whose key equals `value`. */
export function shardOfKey(scheme: PartitionScheme, table: PartitionedTable, value: SqlValue): number {
  if (isLegacyHash(table)) return hash32(partitionKeyText(value)) % scheme.shards
  return rangeOf(table.bounds ?? [], pointOf(table, value))
}

/** The index of the range of `bounds` that holds `point`. */
export function rangeOf(bounds: ReadonlyArray<number | string>, point: SqlValue): number {
  for (let shard = 0; shard < bounds.length; shard++)
    if (compareSqlValues(point, bounds[shard] as SqlValue) < 0) return shard
  return bounds.length
}

/** The scheme a new database stores: table names lower-cased, hash tables given even ranges. */
export function newScheme(scheme: PartitionScheme): PartitionScheme {
  const tables = Object.entries(scheme.tables).map(([name, table]) => [
    name.toLowerCase(),
    isLegacyHash(table) ? { ...table, bounds: evenHashBounds(scheme.shards) } : table,
  ])
  return { shards: scheme.shards, tables: Object.fromEntries(tables) }
}

/** What is wrong with a scheme, or undefined when it is usable. */
export function schemeProblem(scheme: PartitionScheme): string | undefined {
  if (!Number.isInteger(scheme.shards) || scheme.shards < 1) return 'shards must be a positive integer'
  for (const [name, table] of Object.entries(scheme.tables)) {
    if (isLegacyHash(table)) continue
    const bounds = table.bounds ?? []
    if (bounds.length !== scheme.shards - 1)
      return `table "${name}" needs ${scheme.shards - 1} ${table.by} bounds for ${scheme.shards} shards`
    if (
      table.by === 'hash' &&
      !bounds.every(
        (bound) => Number.isInteger(bound) && (bound as number) > 0 && (bound as number) < HASH_SPACE,
      )
    )
      return `table "${name}": hash bounds are integers from 1 to ${HASH_SPACE - 1}`
    for (let i = 1; i < bounds.length; i++)
      if (compareSqlValues(bounds[i - 1] as SqlValue, bounds[i] as SqlValue) >= 0)
        return `table "${name}": bounds must be strictly ascending`
  }
  return undefined
}

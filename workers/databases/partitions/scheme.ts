/**
 * A partitioned database's layout: how many shard databases it has and, for each partitioned
 * table, the column whose value picks a row's shard.
 *
 * - `hash`: shard = hash32(key) mod shards. Spreads any key evenly; every range query scatters.
 * - `range`: `bounds` are ascending exclusive upper bounds, one per shard but the last
 *   (shard i holds keys k with bounds[i-1] <= k < bounds[i], in SQLite's value order).
 *   Keeps neighbouring keys together; a hot range stays on one shard.
 * Tables not named here live whole on the home shard (shard 0).
 */
import { hash32 } from '../../platform/hashing'
import { compareSqlValues, partitionKeyText, type SqlValue } from './values'

export interface PartitionedTable {
  /** The partition key column. */
  key: string
  by: 'hash' | 'range'
  /** For `range`: shards − 1 ascending exclusive upper bounds. */
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

/** The shard that holds the rows of `table` whose key equals `value`. */
export function shardOfKey(scheme: PartitionScheme, table: PartitionedTable, value: SqlValue): number {
  if (table.by === 'hash') return hash32(partitionKeyText(value)) % scheme.shards
  const bounds = table.bounds ?? []
  const comparable = typeof value === 'string' && /^\s*[+-]?\d/.test(value) ? Number(value) : value
  const key = typeof comparable === 'number' && Number.isNaN(comparable) ? value : comparable
  for (let shard = 0; shard < bounds.length; shard++)
    if (compareSqlValues(key, bounds[shard] as SqlValue) < 0) return shard
  return bounds.length
}

/** What is wrong with a scheme, or undefined when it is usable. */
export function schemeProblem(scheme: PartitionScheme): string | undefined {
  if (!Number.isInteger(scheme.shards) || scheme.shards < 1) return 'shards must be a positive integer'
  for (const [name, table] of Object.entries(scheme.tables)) {
    if (table.by === 'hash') {
      if (table.bounds !== undefined) return `table "${name}" is hash-partitioned: it takes no bounds`
      continue
    }
    const bounds = table.bounds ?? []
    if (bounds.length !== scheme.shards - 1)
      return `table "${name}" needs ${scheme.shards - 1} range bounds for ${scheme.shards} shards`
    for (let i = 1; i < bounds.length; i++)
      if (compareSqlValues(bounds[i - 1] as SqlValue, bounds[i] as SqlValue) >= 0)
        return `table "${name}": range bounds must be strictly ascending`
  }
  return undefined
}

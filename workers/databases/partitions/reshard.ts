/**
 * Online resharding, as plain logic (no I/O): the partition map after a split or a move, which
 * rows move, and the SQL of the write fence.
 *
 * - `split` of shard i at bound b: a new shard i+1 takes the points b <= p < bounds[i] of shard
 *   i; later shards shift up by one index. For range tables the point is the key and `at` is
 *   required; for hash tables it is the key's hash point (hash-ranges.ts) and `at` is an
 *   integer strictly inside the shard's hash range, by default its midpoint (hashing spreads
 *   keys evenly, so the midpoint halves the rows without reading them). A database mixing
 *   range and hash tables cannot split (one `at` cannot bound both; 409: move the shard
 *   instead), nor can one with legacy `hash mod N` tables (every shard's rows would move).
 * - `move` of shard i to another node: the same range, a new namespace elsewhere.
 * The map carries a version, bumped by each cutover. The fence is on the storage side: BEFORE
 * triggers on the source shard refuse every write to a row of the moving range
 * (`RAISE(ABORT, 'EDGEBLOCKS_RESHARDING …')`) from the freeze on, and stay after cutover, so a
 * router holding an older map can never write at the old location. For hash tables the
 * trigger computes the row's hash point in plain SQL (`hashPointSql`), and the job picks the
 * moving rows with the same SQL, so the fence and the copy agree by construction.
 * Cost: a row's destination is one `shardOfKey`; the fence is one comparison per written row
 * (range) or one hash of the key (hash).
 */
import { quoteIdentifier, quoteLiteral } from '../changelog'
import { HASH_SPACE, hashPointSql } from './hash-ranges'
import {
  isLegacyHash,
  type PartitionedTable,
  type PartitionScheme,
  schemeProblem,
  shardOfKey,
} from './scheme'
import type { SqlValue } from './values'

export const FENCE_MARK = 'EDGEBLOCKS_RESHARDING'
const FENCE_PREFIX = '_edgeblocks_fence_'

export type ReshardRequest =
  | { split: { shard: number; at?: number | string | undefined } }
  | { move: { shard: number; node: string } }

/** A request the current map cannot take (409), as opposed to a malformed one (a string, 400). */
export interface ReshardConflict {
  conflict: string
}

/** What a job moves: rows of `source` whose shard under `scheme` is `target` go to the new placement. */
export interface ReshardPlan {
  kind: 'split' | 'move'
  /** The source shard's index in the old map. */
  source: number
  /** The moving rows' shard index in the new map. */
  target: number
  /** The new map's scheme (the old one for a move). */
  scheme: PartitionScheme
}

/** The plan of a request against the current scheme, a string saying why it is invalid, or a conflict. */
export function planReshard(
  scheme: PartitionScheme,
  request: ReshardRequest,
): ReshardPlan | ReshardConflict | string {
  const shard = 'move' in request ? request.move.shard : request.split.shard
  if (!Number.isInteger(shard) || shard < 0 || shard >= scheme.shards)
    return `shard must be 0 to ${scheme.shards - 1}`
  if ('move' in request) return { kind: 'move', source: shard, target: shard, scheme }
  const entries = Object.entries(scheme.tables)
  const legacy = entries.find(([, table]) => isLegacyHash(table))
  if (legacy)
    return {
      conflict: `table "${legacy[0]}" is hash-partitioned by hash mod ${scheme.shards} (a database made before hash ranges): splitting one of its shards would move rows of every shard; move the shard instead, or copy the data into a new database`,
    }
  const kinds = new Set(entries.map(([, table]) => table.by))
  if (kinds.size > 1)
    return {
      conflict:
        'this database has both range- and hash-partitioned tables: one split bound cannot cut both; move the shard instead',
    }
  const { at } = request.split
  if (typeof at === 'number' && !Number.isFinite(at)) return 'at must be a finite number or a string'
  const tables: PartitionScheme['tables'] = {}
  for (const [name, table] of entries) {
    const bounds = table.bounds ?? []
    const bound = table.by === 'hash' ? hashBound(table, shard, at) : rangeBound(scheme, table, shard, at)
    if (typeof bound === 'object') return `${bound.problem} of table "${name}"`
    tables[name] = { ...table, bounds: [...bounds.slice(0, shard), bound, ...bounds.slice(shard)] }
  }
  const next = { shards: scheme.shards + 1, tables }
  const problem = schemeProblem(next)
  if (problem) return `at: ${problem}`
  return { kind: 'split', source: shard, target: shard + 1, scheme: next }
}

type Bound = number | string | { problem: string }

function rangeBound(scheme: PartitionScheme, table: PartitionedTable, shard: number, at: unknown): Bound {
  const bounds = table.bounds ?? []
  const range = `shard ${shard}'s range (from ${JSON.stringify(bounds[shard - 1] ?? null)} to ${JSON.stringify(bounds[shard] ?? null)})`
  if (at === undefined) return { problem: `at is required: a key inside ${range}` }
  if (shardOfKey(scheme, table, at as SqlValue) !== shard) return { problem: `at must lie inside ${range}` }
  return at as number | string
}

function hashBound(table: PartitionedTable, shard: number, at: unknown): Bound {
  const bounds = table.bounds ?? []
  const low = (bounds[shard - 1] as number | undefined) ?? 0
  const high = (bounds[shard] as number | undefined) ?? HASH_SPACE
  if (high - low < 2)
    return { problem: `shard ${shard}'s hash range [${low}, ${high}) is too small to split` }
  if (at === undefined) return Math.floor((low + high) / 2)
  if (typeof at !== 'number' || !Number.isInteger(at) || at <= low || at >= high)
    return {
      problem: `at must be an integer strictly inside shard ${shard}'s hash range (between ${low} and ${high}, both excluded)`,
    }
  return at
}

/** The new map's shard placements: the new shard inserted after its source, or the source replaced. */
export function placementsAfter<P>(plan: ReshardPlan, placements: P[], moved: P): P[] {
  if (plan.kind === 'move') return placements.map((p, i) => (i === plan.source ? moved : p))
  return [...placements.slice(0, plan.target), moved, ...placements.slice(plan.target)]
}

/** Does a row of `table` with key `key` move? (Tables not partitioned move only with a whole-shard move.) */
export function moves(plan: ReshardPlan, table: string, key: SqlValue | undefined): boolean {
  const spec = plan.scheme.tables[table.toLowerCase()]
  if (plan.kind === 'move') return true
  if (!spec || key === undefined) return false
  return shardOfKey(plan.scheme, spec, key) === plan.target
}

/** Decodes one value of a change-log row image (changelog.ts encoding) for routing. */
export function imageValue(image: string | null, column: string): SqlValue | undefined {
  if (image === null) return undefined
  const row = JSON.parse(image) as Record<string, unknown>
  const key = Object.keys(row).find((name) => name.toLowerCase() === column.toLowerCase())
  if (key === undefined) return undefined
  const value = row[key]
  if (Array.isArray(value)) return value[0] === 'r' ? Number(value[1]) : null
  return value as SqlValue
}

function literal(value: number | string): string {
  return typeof value === 'number' ? String(value) : quoteLiteral(value)
}

/** Does the job pick `table`'s moving rows in SQL (`movingKeySql`) rather than with `moves`? */
export function picksInSql(plan: ReshardPlan, table: string): boolean {
  return plan.kind === 'split' && plan.scheme.tables[table.toLowerCase()]?.by === 'hash'
}

/** The SQL condition "a row of `table` whose key is the SQL value `key` moves" (a split). */
export function movingKeySql(plan: ReshardPlan, table: string, key: string): string {
  const spec = plan.scheme.tables[table.toLowerCase()]
  if (!spec) return '0'
  const bounds = spec.bounds ?? []
  const low = bounds[plan.target - 1] as number | string
  const high = bounds[plan.target]
  if (spec.by === 'hash')
    return `(SELECT h >= ${low}${high === undefined ? '' : ` AND h < ${high}`} FROM (SELECT ${hashPointSql(key)} AS h))`
  return `(${key} >= ${literal(low)}${high === undefined ? '' : ` AND ${key} < ${literal(high)}`})`
}

/** The SQL condition "the row `alias` is in the moving range" for `table` (true for a move). */
export function movingCondition(plan: ReshardPlan, table: string, alias: string): string {
  const spec = plan.scheme.tables[table.toLowerCase()]
  if (plan.kind === 'move' || !spec) return plan.kind === 'move' ? '1' : '0'
  return movingKeySql(plan, table, `${alias}.${quoteIdentifier(spec.key)}`)
}

/** A partition key's value in a change-log row image (changelog.ts encoding), as SQL. */
export function imageValueSql(image: string, column: string): string {
  const path = (suffix: string) => quoteLiteral(`$."${column}"${suffix}`)
  return `(CASE json_type(${image}, ${path('')}) WHEN 'array' THEN (CASE json_extract(${image}, ${path('[0]')}) WHEN 'r' THEN CAST(json_extract(${image}, ${path('[1]')}) AS REAL) ELSE unhex(json_extract(${image}, ${path('[1]')})) END) ELSE json_extract(${image}, ${path('')}) END)`
}

/** A table a job moves rows of: its name, columns and partition key. */
export interface MovingTable {
  name: string
  columns: string[]
  key: string | null
}

/** The columns `k` (the key) and `m` (1 when the row moves, as SQL decides it for hash tables; else NULL). */
export function keyColumns(plan: ReshardPlan, table: MovingTable, alias: string): string {
  const key = table.key ? `${alias}.${quoteIdentifier(table.key)}` : 'NULL'
  return `${key} AS k, ${table.key && picksInSql(plan, table.name) ? movingKeySql(plan, table.name, key) : 'NULL'} AS m`
}

export function rowMoves(plan: ReshardPlan, table: string, row: Record<string, unknown>): boolean {
  if (row.m !== null && row.m !== undefined) return Number(row.m) === 1
  return moves(plan, table, row.k as never)
}

/** The column `m` of a change-log row: whether its new image moves, for tables picked in SQL. */
export function imageMovesSql(plan: ReshardPlan, tables: MovingTable[]): string {
  const cases = tables.flatMap((table) => {
    const column = table.columns.find((c) => c.toLowerCase() === table.key?.toLowerCase())
    if (!column || !picksInSql(plan, table.name)) return []
    return [
      `WHEN ${quoteLiteral(table.name)} THEN ${movingKeySql(plan, table.name, imageValueSql('row', column))}`,
    ]
  })
  return cases.length === 0 ? 'NULL' : `(CASE tbl ${cases.join(' ')} ELSE NULL END)`
}

/** The triggers that refuse writes to the moving rows of `table` (idempotent). */
export function fenceStatements(plan: ReshardPlan, table: string, message: string): string[] {
  const t = quoteIdentifier(table)
  const raise = `SELECT RAISE(ABORT, ${quoteLiteral(`${FENCE_MARK}: ${message}`)})`
  const name = (op: string) => quoteIdentifier(`${FENCE_PREFIX}${op}_${table}`)
  return [
    ...unfenceStatements(table),
    `CREATE TRIGGER ${name('i')} BEFORE INSERT ON ${t} WHEN ${movingCondition(plan, table, 'NEW')} BEGIN ${raise}; END`,
    `CREATE TRIGGER ${name('u')} BEFORE UPDATE ON ${t} WHEN ${movingCondition(plan, table, 'OLD')} OR ${movingCondition(plan, table, 'NEW')} BEGIN ${raise}; END`,
    `CREATE TRIGGER ${name('d')} BEFORE DELETE ON ${t} WHEN ${movingCondition(plan, table, 'OLD')} BEGIN ${raise}; END`,
  ]
}

export function unfenceStatements(table: string, ops = ['i', 'u', 'd']): string[] {
  return ops.map((op) => `DROP TRIGGER IF EXISTS ${quoteIdentifier(`${FENCE_PREFIX}${op}_${table}`)}`)
}

export function deleteFenceName(table: string): string {
  return quoteIdentifier(`${FENCE_PREFIX}d_${table}`)
}

/**
 * Online resharding, as plain logic (no I/O): the partition map after a split or a move, which
 * rows move, and the SQL of the write fence.
 *
 * - `split` of shard i at bound b (every partitioned table range-partitioned): a new shard
 *   i+1 takes the keys b <= k < bounds[i] of shard i; later shards shift up by one index.
 * - `move` of shard i to another node: the same range, a new namespace elsewhere.
 * The map carries a version, bumped by each cutover. The fence is on the storage side: BEFORE
 * triggers on the source shard refuse every write to a row of the moving range
 * (`RAISE(ABORT, 'EDGEBLOCKS_RESHARDING …')`) from the freeze on, and stay after cutover, so a
 * router holding an older map can never write at the old location.
 * Cost: a row's destination is one `shardOfKey`; the fence is one comparison per written row.
 */
import { quoteIdentifier, quoteLiteral } from '../changelog'
import { type PartitionScheme, schemeProblem, shardOfKey } from './scheme'
import type { SqlValue } from './values'

export const FENCE_MARK = 'EDGEBLOCKS_RESHARDING'
const FENCE_PREFIX = '_edgeblocks_fence_'

export type ReshardRequest =
  | { split: { shard: number; at: number | string } }
  | { move: { shard: number; node: string } }

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

/** The plan of a request against the current scheme, or a string saying why it is refused. */
export function planReshard(scheme: PartitionScheme, request: ReshardRequest): ReshardPlan | string {
  if ('move' in request) {
    const { shard } = request.move
    if (!Number.isInteger(shard) || shard < 0 || shard >= scheme.shards)
      return `shard must be 0 to ${scheme.shards - 1}`
    return { kind: 'move', source: shard, target: shard, scheme }
  }
  const { shard, at } = request.split
  if (!Number.isInteger(shard) || shard < 0 || shard >= scheme.shards)
    return `shard must be 0 to ${scheme.shards - 1}`
  if (typeof at === 'number' && !Number.isFinite(at)) return 'at must be a finite number or a string'
  const tables: PartitionScheme['tables'] = {}
  for (const [name, table] of Object.entries(scheme.tables)) {
    if (table.by !== 'range')
      return `table "${name}" is hash-partitioned: only databases whose partitioned tables are all range-partitioned can split a shard (move it instead)`
    const bounds = table.bounds ?? []
    const low = shard > 0 ? bounds[shard - 1] : undefined
    const high = bounds[shard]
    const inside = (bound: SqlValue) => shardOfKey(scheme, table, bound) === shard
    if (!inside(at))
      return `at must lie inside shard ${shard}'s range of table "${name}" (from ${JSON.stringify(low ?? null)} to ${JSON.stringify(high ?? null)})`
    tables[name] = { ...table, bounds: [...bounds.slice(0, shard), at, ...bounds.slice(shard)] }
  }
  const next = { shards: scheme.shards + 1, tables }
  const problem = schemeProblem(next)
  if (problem) return `at: ${problem}`
  return { kind: 'split', source: shard, target: shard + 1, scheme: next }
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

/** The SQL condition "the row `alias` is in the moving range" for `table` (true for a move). */
export function movingCondition(plan: ReshardPlan, table: string, alias: string): string {
  const spec = plan.scheme.tables[table.toLowerCase()]
  if (plan.kind === 'move' || !spec) return plan.kind === 'move' ? '1' : '0'
  const bounds = spec.bounds ?? []
  const column = `${alias}.${quoteIdentifier(spec.key)}`
  const low = bounds[plan.target - 1] as number | string
  const high = bounds[plan.target]
  return `(${column} >= ${literal(low)}${high === undefined ? '' : ` AND ${column} < ${literal(high)}`})`
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

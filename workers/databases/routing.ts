/**
 * Which copy answers a Hrana pipeline, and the replication position it reports.
 *
 * A pipeline goes to a read replica only when the client asks for one (`?replica=nearest`
 * or `Edgeblocks-Replica: nearest`, or a replica's id), it opens no stream (no baton), ends
 * with `close` and holds only `execute` and `batch` requests. On the replica it runs with
 * the engine refusing every write (`PRAGMA query_only`, so the engine, not a regex, decides
 * what is a read), behind a read of the replica's position: the answer is used only when that
 * position has reached both the replica's `ready` mark and the position the request carries
 * (`Edgeblocks-Replication-Position`), and no statement failed (a refused write included);
 * otherwise the pipeline runs
 * on the primary (no waiting), so a read carrying the position of a write always sees it
 * (read-your-writes), and a client that sends back the highest position it has seen never
 * sees time go backwards (monotonic reads). A read without a position may see a replica as
 * old as its lag (`lagMs` in the replica listing).
 *
 * On the primary, a database with replicas gets a position probe appended to the pipeline
 * (before its `close`), so every answer carries the log position after it ran.
 *
 * Cost: a replica read is one round trip to the replica; a read the replica cannot serve
 * costs that round trip on top of the primary's.
 */
import { failureDetector } from '../platform/storage-nodes'
import { NODE_TIMEOUT_MS, namespaceUrl, type Replica } from './catalog'
import { POSITION_SQL, REPLICA_TABLE } from './changelog'

export const POSITION_HEADER = 'edgeblocks-replication-position'
export const SERVED_BY_HEADER = 'edgeblocks-served-by'
export const REPLICA_HEADER = 'edgeblocks-replica'

interface Stmt {
  sql?: unknown
  sql_id?: unknown
}
export type HranaRequest = { type?: unknown; stmt?: Stmt; batch?: { steps?: Array<{ stmt?: Stmt }> } }
type HranaResult = {
  type: string
  response?: {
    type?: string
    result?: { rows?: Array<Array<{ value?: unknown }>>; step_errors?: unknown[] }
  }
}

/** A request that failed, or a batch with a failed step (a write the engine refused, say). */
function failed(result: HranaResult): boolean {
  if (result.type !== 'ok') return true
  return (
    result.response?.type === 'batch' && (result.response.result?.step_errors ?? []).some((e) => e !== null)
  )
}

/** The statements of a pipeline a replica may run, or undefined when it may not run there. */
export function replicaStatements(requests: HranaRequest[]): string[] | undefined {
  if (requests.length < 2 || requests.at(-1)?.type !== 'close') return undefined
  const sqls: string[] = []
  const take = (stmt: Stmt | undefined) => {
    if (typeof stmt?.sql !== 'string' || (stmt.sql_id !== undefined && stmt.sql_id !== null)) return false
    sqls.push(stmt.sql)
    return true
  }
  for (const request of requests.slice(0, -1)) {
    if (request.type === 'execute') {
      if (!take(request.stmt)) return undefined
    } else if (request.type === 'batch') {
      for (const step of request.batch?.steps ?? []) if (!take(step.stmt)) return undefined
    } else return undefined
  }
  return sqls
}

async function post(replica: Replica, path: string, body: unknown): Promise<Response | undefined> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (replica.storage.token) headers.authorization = `Bearer ${replica.storage.token}`
  try {
    const response = await fetch(`${namespaceUrl(replica.storage, replica.namespace)}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
    })
    failureDetector.succeeded(replica.storage.id)
    return response
  } catch {
    failureDetector.failed(replica.storage.id)
    return undefined
  }
}

export function pickReplica(replicas: Replica[], wanted: string): Replica | undefined {
  if (wanted !== 'nearest') return replicas.find((replica) => replica.id === wanted)
  const healthy = replicas.filter((replica) => !failureDetector.isSuspected(replica.storage.id))
  return healthy[Math.floor(Math.random() * healthy.length)]
}

function integerCell(result: HranaResult | undefined, column = 0): number | undefined {
  const value = result?.type === 'ok' ? result.response?.result?.rows?.[0]?.[column]?.value : undefined
  return value === undefined || value === null ? undefined : Number(value)
}

export interface Served {
  results: unknown[]
  position: number
}

/** The replica's answer, or undefined when the primary must answer (see the file comment). */
export async function readFromReplica(
  replica: Replica,
  version: 2 | 3,
  requests: HranaRequest[],
  minPosition: number,
): Promise<Served | undefined> {
  const sqls = replicaStatements(requests)
  if (!sqls || sqls.some((sql) => /query_only/i.test(sql))) return undefined
  const response = await post(replica, `v${version}/pipeline`, {
    baton: null,
    requests: [
      { type: 'execute', stmt: { sql: 'PRAGMA query_only = 1' } },
      { type: 'execute', stmt: { sql: `SELECT position, ready FROM ${REPLICA_TABLE} WHERE id = 1` } },
      ...requests.slice(0, -1),
      { type: 'execute', stmt: { sql: 'PRAGMA query_only = 0' } },
      { type: 'close' },
    ],
  })
  if (!response?.ok) return undefined
  const answer = (await response.json()) as { results: HranaResult[] }
  const position = integerCell(answer.results[1])
  const ready = integerCell(answer.results[1], 1)
  if (position === undefined || ready === undefined || position < Math.max(ready, minPosition))
    return undefined
  const results = [...answer.results.slice(2, -2), answer.results.at(-1) as HranaResult]
  if (results.some(failed)) return undefined
  return { results, position }
}

/**
 * The pipeline with a position probe before its trailing `close` (or at its end), and in v3
 * an autocommit probe (whether the stream is left inside a transaction).
 */
export function withPositionProbe(
  requests: HranaRequest[],
  version: 2 | 3,
): { requests: HranaRequest[]; probe: number; count: number } {
  const probe = requests.at(-1)?.type === 'close' ? requests.length - 1 : requests.length
  const inserted: HranaRequest[] = [{ type: 'execute', stmt: { sql: POSITION_SQL } }]
  if (version === 3) inserted.push({ type: 'get_autocommit' })
  const copy = [...requests]
  copy.splice(probe, 0, ...inserted)
  return { requests: copy, probe, count: inserted.length }
}

/** Takes the probes' results out of `results`: the position read, and whether the stream is outside a transaction. */
export function takeProbe(
  results: unknown[],
  probe: { probe: number; count: number },
): { position: number | undefined; autocommit: boolean | undefined } {
  const [positionResult, autocommitResult] = results.splice(probe.probe, probe.count) as Array<
    HranaResult & { response?: { is_autocommit?: boolean } }
  >
  const autocommit = autocommitResult?.type === 'ok' ? autocommitResult.response?.is_autocommit : undefined
  return { position: integerCell(positionResult), autocommit }
}

/** Whether a pipeline may have changed the schema (then the platform captures it at once). */
export function mayChangeSchema(requests: HranaRequest[]): boolean {
  const texts: string[] = []
  for (const request of requests) {
    if (typeof request.stmt?.sql === 'string') texts.push(request.stmt.sql)
    for (const step of request.batch?.steps ?? [])
      if (typeof step.stmt?.sql === 'string') texts.push(step.stmt.sql)
    if (request.type === 'sequence' && typeof (request as { sql?: unknown }).sql === 'string')
      texts.push((request as { sql: string }).sql)
  }
  return texts.some((sql) => /\b(CREATE|ALTER|DROP)\b/i.test(sql))
}

/** The position a request carries: a non-negative integer, undefined when absent or malformed. */
export function parsePosition(header: string | undefined): number | undefined | 'invalid' {
  if (header === undefined || header === '') return undefined
  return /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : 'invalid'
}

/**
 * A partitioned database's replication position: one log position per shard, under the
 * partition map's version, as one opaque token (`<version>:<p0>.<p1>…`) in the same header
 * and Hrana field as a database's single position.
 */
export function encodeShardPositions(version: number, positions: number[]): string {
  return `${version}:${positions.join('.')}`
}

/**
 * The per-shard positions a token asks for: undefined without a token, 'invalid' when it is
 * malformed. A token of another partition map (or shard count) cannot be compared, so every
 * shard then answers from its primary (positions of Infinity).
 */
export function parseShardPositions(
  header: string | undefined,
  version: number,
  shards: number,
): number[] | undefined | 'invalid' {
  if (header === undefined || header === '') return undefined
  const match = /^(\d{1,9}):(\d{1,15}(?:\.\d{1,15}){0,63})$/.exec(header.trim())
  if (!match) return 'invalid'
  const positions = (match[2] as string).split('.').map(Number)
  if (Number(match[1]) !== version || positions.length !== shards)
    return Array.from({ length: shards }, () => Number.POSITIVE_INFINITY)
  return positions
}

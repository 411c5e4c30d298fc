/**
 * Hrana over HTTP for partitioned databases: the same wire as hrana.ts (pipelines and
 * cursors, platform-signed batons, the read-only check on the home shard), answered by a
 * `PartitionedSession` that routes each statement to its shard (partitions/session.ts). With
 * read replicas of the shards, reads may be answered by them and every answer carries the
 * database's position token (shard-reads.ts).
 */
import { openBaton, signBaton } from './batons'
import { type Database, forgetDatabase } from './catalog'
import { callNode, EPOCH_HEADER, HranaError, type ProxyContext, parseBody, prepare } from './hrana'
import type { HranaStmt } from './partitions/hrana-values'
import { FENCE_MARK } from './partitions/reshard'
import type { Plan } from './partitions/route'
import {
  type NodeResult,
  newSessionState,
  type Outcome,
  PartitionedSession,
  type SessionState,
} from './partitions/session'
import { TrafficTable } from './partitions/traffic'
import { type HranaRequest, POSITION_HEADER, SERVED_BY_HEADER } from './routing'
import { NotAcknowledged, ShardReads } from './shard-reads'
import type { ShardFence } from './shard-replicas'

/** What this isolate's router has sent to each shard (by namespace), for `GET …/shards`. */
export const routerTraffic = new TrafficTable(60)

/** Seconds a client waits before retrying a write refused by a resharding fence. */
export const RESHARDING_RETRY_AFTER_SECONDS = 1

class ReshardingError extends HranaError {
  constructor(message: string) {
    super(503, 'RESHARDING', message)
  }
}

/** A pipeline whose write met a resharding fence: 503 with Retry-After; the statement did not run. */
export async function fencedAnswer(run: () => Promise<Response>): Promise<Response> {
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof ReshardingError)) throw error
    return Response.json(
      { error: error.message, message: error.message, code: error.code },
      { status: 503, headers: { 'retry-after': String(RESHARDING_RETRY_AFTER_SECONDS) } },
    )
  }
}

/** The context of a partitioned database's request: its shard positions and write notifications. */
export interface PartitionedContext extends ProxyContext {
  /** The per-shard positions the request carries (routing.ts `parseShardPositions`). */
  positions?: number[] | undefined
  /** Called for each shard whose primary ran part of the request, when the shards have replicas. */
  onShardPrimary?: ((shard: number) => void) | undefined
  /** Shards with failover: the epoch of their writes and its acknowledgement. */
  shardFences?: Record<number, ShardFence> | undefined
}

async function openSession(
  ctx: PartitionedContext,
  baton: unknown,
  reads: ShardReads,
): Promise<PartitionedSession> {
  const partitions = ctx.db.partitions
  if (partitions === undefined) throw new HranaError(500, 'INTERNAL', 'The database is not partitioned.')
  let state: SessionState = newSessionState()
  if (typeof baton === 'string') {
    const opened = await openBaton(ctx.secret, ctx.db.tenant, ctx.db.namespace, baton)
    if (opened === undefined)
      throw new HranaError(400, 'BATON_INVALID', 'The baton is not valid for this database.')
    state = JSON.parse(opened) as SessionState
  }
  let session: PartitionedSession | undefined
  const port = {
    async pipeline(shard: number, shardBaton: string | null, requests: unknown[]) {
      const inTransaction = session?.state.inTransaction ?? true
      const served = await reads.fromReplica(shard, shardBaton, requests, inTransaction)
      if (served) return served
      const db = partitions.shards[shard] as Database
      const primary = reads.forPrimary(shard, requests)
      const response = await callNode({ ...ctx, db }, 'v3/pipeline', {
        baton: shardBaton,
        requests: primary.requests,
      })
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { message?: string; code?: string }
        const error = {
          code: body.code ?? 'UNAVAILABLE',
          message: body.message ?? `Shard ${shard} answered ${response.status}.`,
        }
        return { baton: null, results: requests.map((): NodeResult => ({ type: 'error', error })) }
      }
      const answer = (await response.json()) as { baton: string | null; results: NodeResult[] }
      primary.take(answer.results)
      const fence = answer.results.find(
        (result) => result.type === 'error' && result.error.message.includes(FENCE_MARK),
      )
      if (fence?.type === 'error') {
        // The shard refused a write to a range being (or already) moved: end its stream (a
        // transaction there rolls back), drop the cached map and ask the client to retry.
        if (answer.baton !== null)
          await callNode({ ...ctx, db }, 'v3/pipeline', {
            baton: answer.baton,
            requests: [{ type: 'close' }],
          })
        forgetDatabase(ctx.db.tenant, ctx.db.name)
        throw new ReshardingError(fence.error.message)
      }
      return answer
    },
  }
  const now = Date.now()
  const observe = (plan: Plan, sql: string) => {
    const shards =
      plan.kind === 'one'
        ? [plan.shard]
        : plan.kind === 'scatter'
          ? plan.shards
          : plan.kind === 'every-shard'
            ? partitions.shards.map((_, i) => i)
            : []
    for (const shard of shards) {
      const location = partitions.shards[shard]?.namespace
      if (location) routerTraffic.record(location, sql, now, plan.kind === 'one' ? plan.keys : undefined)
    }
  }
  session = new PartitionedSession(partitions.scheme, port, state, observe)
  return session
}

/** The shards' acknowledgement failures as Hrana's 503 `NOT_ACKNOWLEDGED` (as hrana.ts answers them). */
async function acknowledged<T>(finish: () => Promise<T>): Promise<T> {
  try {
    return await finish()
  } catch (error) {
    if (!(error instanceof NotAcknowledged)) throw error
    throw new HranaError(503, 'NOT_ACKNOWLEDGED', `The write was not acknowledged: ${error.message}`)
  }
}

function newReads(ctx: PartitionedContext, allowReplicas: boolean): ShardReads {
  const shards = ctx.db.partitions?.shards ?? []
  return new ShardReads(shards, {
    replica: ctx.replica,
    positions: ctx.positions,
    allowReplicas,
    fences: ctx.shardFences,
  })
}

/** Tells the replicators of the shards written to (their alarms then ship the change log). */
function notifyShards(ctx: PartitionedContext, reads: ShardReads): void {
  if (!reads.replicated) return
  for (const shard of reads.touched) ctx.onShardPrimary?.(shard)
}

async function closeOrSign(
  ctx: ProxyContext,
  session: PartitionedSession,
  closed: boolean,
): Promise<string | null> {
  if (closed) {
    await session.close()
    return null
  }
  return signBaton(ctx.secret, ctx.db.tenant, ctx.db.namespace, JSON.stringify(session.state))
}

const answer = (type: string, outcome: Outcome) =>
  'ok' in outcome
    ? { type: 'ok', response: { type, result: outcome.ok } }
    : { type: 'error', error: outcome.error }

export async function partitionedPipeline(ctx: PartitionedContext, text: string): Promise<Response> {
  const body = parseBody(text)
  if (!Array.isArray(body.requests))
    throw new HranaError(400, 'INVALID_REQUEST', '"requests" must be an array.')
  const requests = body.requests as Array<HranaRequest & Record<string, unknown>>
  await prepare(ctx, requests)
  const reads = newReads(ctx, body.baton === undefined || body.baton === null)
  const session = await openSession(ctx, body.baton, reads)
  const results: unknown[] = []
  let closed = false
  for (const request of requests) {
    switch (request.type) {
      case 'execute':
        results.push(answer('execute', await session.execute(request.stmt as HranaStmt)))
        break
      case 'batch':
        results.push({
          type: 'ok',
          response: { type: 'batch', result: await session.batch(request.batch?.steps ?? []) },
        })
        break
      case 'sequence': {
        const outcome = await session.sequence(String(request.sql ?? ''))
        results.push(
          'ok' in outcome ? { type: 'ok', response: { type: 'sequence' } } : answer('sequence', outcome),
        )
        break
      }
      case 'store_sql': {
        const outcome = session.storeSql(request.sql_id, request.sql)
        results.push(
          'ok' in outcome ? { type: 'ok', response: { type: 'store_sql' } } : answer('store_sql', outcome),
        )
        break
      }
      case 'close_sql':
        session.closeSql(request.sql_id)
        results.push({ type: 'ok', response: { type: 'close_sql' } })
        break
      case 'get_autocommit':
        results.push({ type: 'ok', response: { type: 'get_autocommit', is_autocommit: session.autocommit } })
        break
      case 'close':
        closed = true
        results.push({ type: 'ok', response: { type: 'close' } })
        break
      default:
        results.push({
          type: 'error',
          error: {
            code: 'PARTITION_UNSUPPORTED',
            message: `"${String(request.type)}" requests are not served by partitioned databases.`,
          },
        })
    }
  }
  const signed = await closeOrSign(ctx, session, closed)
  const token = await acknowledged(() =>
    reads.finish(requests, session.autocommit, ctx.db.partitions?.version ?? 1),
  )
  notifyShards(ctx, reads)
  const headers: Record<string, string> = { [SERVED_BY_HEADER]: reads.servedBy() }
  const epochs = reads.epochs()
  if (epochs !== undefined) headers[EPOCH_HEADER] = epochs
  if (token !== undefined) headers[POSITION_HEADER] = token
  return Response.json(
    {
      baton: signed,
      base_url: null,
      results,
      ...(token !== undefined ? { replication_position: token } : {}),
    },
    { headers },
  )
}

/** v3 cursor: the batch runs whole, then streams as cursor entries. */
export async function partitionedCursor(ctx: PartitionedContext, text: string): Promise<Response> {
  const body = parseBody(text)
  const batch = body.batch as HranaRequest['batch']
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.steps))
    throw new HranaError(400, 'INVALID_REQUEST', '"batch.steps" must be an array.')
  await prepare(ctx, [{ type: 'batch', batch }])
  const reads = newReads(ctx, false)
  const session = await openSession(ctx, body.baton, reads)
  const { step_results, step_errors } = await session.batch(batch.steps as Array<{ stmt?: HranaStmt }>)
  const lines = [JSON.stringify({ baton: await closeOrSign(ctx, session, false), base_url: null })]
  await acknowledged(() =>
    reads.finish([{ type: 'batch', batch }], session.autocommit, ctx.db.partitions?.version ?? 1),
  )
  notifyShards(ctx, reads)
  for (const [step, result] of step_results.entries()) {
    const error = step_errors[step]
    if (error) lines.push(JSON.stringify({ type: 'step_error', step, error }))
    if (!result) continue
    const { cols, rows, affected_row_count, last_insert_rowid } = result as {
      cols: unknown
      rows: unknown[]
      affected_row_count: number
      last_insert_rowid: string | null
    }
    lines.push(JSON.stringify({ type: 'step_begin', step, cols }))
    for (const row of rows) lines.push(JSON.stringify({ type: 'row', row }))
    lines.push(JSON.stringify({ type: 'step_end', affected_row_count, last_insert_rowid }))
  }
  return new Response(`${lines.join('\n')}\n`, { headers: { 'content-type': 'text/plain' } })
}

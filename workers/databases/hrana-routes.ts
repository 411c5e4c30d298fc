/**
 * Hrana over HTTP at `/v1/databases/{db}/` (v2 and v3 pipelines, v3 cursors, the version
 * probes) for `@libsql/client` and the libraries built on it. A standard wire: answers and
 * errors keep Hrana's shape `{error, message, code}`. The bearer is a platform token
 * (`databases:write`: any statement; `databases:read`: read-only statements, as the engine
 * judges them), the database is looked up in the token's tenant only, and a request goes to
 * the primary the replicator names when failover is on (per shard for partitioned databases).
 */
import { Hono } from 'hono'
import { type AuthEnv, authenticate } from '../platform/auth/middleware'
import { hasScope } from '../platform/auth/token'
import { readConfig } from '../platform/config'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { type Database, getDatabase, nodeById } from './catalog'
import { cursor, HranaError, hranaErrorResponse, type ProxyContext, pipeline } from './hrana'
import {
  fencedAnswer,
  type PartitionedContext,
  partitionedCursor,
  partitionedPipeline,
} from './partitioned-hrana'
import { replicatorStub } from './replicator'
import { POSITION_HEADER, parsePosition, parseShardPositions, REPLICA_HEADER } from './routing'
import { fenceShards } from './shard-replicas'

export const databaseHranaRoutes = new Hono<AuthEnv>()
  .get('/:db/v2', (c) => c.body(null, 200))
  .get('/:db/v3', (c) => c.body(null, 200))
  .get('/:db/v3-protobuf', () =>
    hranaErrorResponse(new HranaError(404, 'NOT_FOUND', 'Hrana over protobuf is not served.')),
  )
  .post('/:db/v2/pipeline', (c) =>
    hrana(c, (ctx, text) =>
      ctx.db.partitions ? fencedAnswer(() => partitionedPipeline(ctx, text)) : pipeline(ctx, 2, text),
    ),
  )
  .post('/:db/v3/pipeline', (c) =>
    hrana(c, (ctx, text) =>
      ctx.db.partitions ? fencedAnswer(() => partitionedPipeline(ctx, text)) : pipeline(ctx, 3, text),
    ),
  )
  .post('/:db/v3/cursor', (c) =>
    hrana(c, (ctx, text) =>
      ctx.db.partitions ? fencedAnswer(() => partitionedCursor(ctx, text)) : cursor(ctx, text),
    ),
  )

/** The caller of a database wire route (Hrana, the sync protocol): 401 or 403 in Hrana's shape. */
export async function wireCaller(env: Env, authorization: string | undefined) {
  const principal = await authenticate(env, authorization).catch((error: unknown) => {
    throw new HranaError(401, 'UNAUTHORIZED', error instanceof Error ? error.message : 'Unauthorized.')
  })
  const canWrite = hasScope(principal, 'databases:write')
  if (!canWrite && !hasScope(principal, 'databases:read')) {
    throw new HranaError(403, 'FORBIDDEN', 'This token has neither "databases:read" nor "databases:write".')
  }
  return { principal, canWrite }
}

/** The tenant's database `name`: 404 in Hrana's shape when it has none (another tenant's name too). */
export async function wireDatabase(env: Env, tenant: string, name: string): Promise<Database> {
  return await getDatabase(env, tenant, name).catch((error: unknown) => {
    if (error instanceof AppError && error.code === 'not_found') {
      throw new HranaError(404, 'NOT_FOUND', `No database named "${name}".`)
    }
    throw error
  })
}

async function hrana(
  // biome-ignore lint/suspicious/noExplicitAny: any Hono context of this sub-app
  c: any,
  run: (ctx: PartitionedContext, text: string) => Promise<Response>,
): Promise<Response> {
  try {
    const { principal, canWrite } = await wireCaller(c.env, c.req.header('authorization'))
    let db = await wireDatabase(c.env, principal.tenant, c.req.param('db'))
    const header: string | undefined = c.req.header(POSITION_HEADER)
    const minPosition = db.partitions ? undefined : parsePosition(header)
    if (minPosition === 'invalid') {
      throw new HranaError(400, 'INVALID_REQUEST', `${POSITION_HEADER} must be a non-negative integer.`)
    }
    const positions = db.partitions
      ? parseShardPositions(header, db.partitions.version ?? 1, db.partitions.shards.length)
      : undefined
    if (positions === 'invalid') {
      throw new HranaError(
        400,
        'INVALID_REQUEST',
        `${POSITION_HEADER} must be a position token this database answered with.`,
      )
    }
    const replica: string | undefined = c.req.query('replica') ?? c.req.header(REPLICA_HEADER)
    const text: string = await c.req.text()
    let fence: ProxyContext['fence']
    if (db.replicas.some((r) => r.synchronous)) {
      // Failover on: the replicator names the primary and the epoch; it acknowledges under that epoch only.
      const replicator = replicatorStub(c.env, db.tenant, db.name)
      const route = await replicator.route().catch((error: unknown) => {
        throw new HranaError(503, 'UNAVAILABLE', error instanceof Error ? error.message : String(error))
      })
      db = { ...db, node: nodeById(c.env, route.primary.node), namespace: route.primary.namespace }
      fence = { epoch: route.epoch, acknowledge: (position) => replicator.acknowledge(route.epoch, position) }
    }
    const notify = () =>
      c.executionCtx.waitUntil(
        replicatorStub(c.env, db.tenant, db.name)
          .notify()
          .catch(() => undefined),
      )
    let shardFences: PartitionedContext['shardFences']
    if (db.partitions) {
      // Shards with failover: their replicators name each one's primary and epoch.
      const fenced = await fenceShards(c.env, db).catch((error: unknown) => {
        throw new HranaError(503, 'UNAVAILABLE', error instanceof Error ? error.message : String(error))
      })
      db = fenced.db
      shardFences = fenced.fences
    }
    const notifyShard = (shard: number) =>
      c.executionCtx.waitUntil(
        replicatorStub(c.env, db.tenant, db.name, shard)
          .notify()
          .catch(() => undefined),
      )
    return await run(
      {
        secret: readConfig(c.env).jwtSecret,
        db,
        readOnly: !canWrite,
        replica,
        minPosition,
        onPrimary: notify,
        fence,
        positions,
        onShardPrimary: notifyShard,
        shardFences,
      },
      text,
    )
  } catch (error) {
    if (error instanceof HranaError) return hranaErrorResponse(error)
    throw error
  }
}

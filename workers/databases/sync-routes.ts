/**
 * Embedded replicas of a platform database: `@libsql/client` with
 * `syncUrl: <platform>/v1/databases/{db}` asks `GET {db}/info`, `GET {db}/export/{g}` (a new
 * replica's database file) and `GET {db}/sync/{g}/{start}/{end}` (WAL frames), and sends its
 * writes over Hrana to the same URL (routes.ts). These routes authenticate the platform token
 * (`databases:read` or `databases:write`), find the database in the caller's tenant only, and
 * stream the answer of the storage node that holds the primary (`/db/<namespace>/…` on the
 * node, started with `--embedded-replicas`; see apps/libsql/replication.ts).
 *
 * Guarantees:
 * - Tenant isolation: the database is looked up under the token's tenant; another tenant's name
 *   is 404 and never reaches a node.
 * - The primary is read the way the Hrana route reads it: from the database's replicator when it
 *   has synchronous replicas (after a failover, the promoted node), else from the catalog.
 * - Generations are shown per frame log (sync-wire.ts): after a failover, or a delete and create
 *   under the same name, a replica still on the old log gets 409 `REPLICA_RESET_NEEDED` rather
 *   than frames applied at the wrong offsets; bootstrapping it again (a fresh local file) works.
 * - The wire keeps the shape the client reads: end of generation is 400 `{"generation": g}`;
 *   every other error is `{error, message, code}` with a status the client reports as is
 *   (401, 403, 404, 409, 503), never 400 or 500, which it would parse as an end of generation.
 * - Partitioned databases are refused (409 `PARTITIONED`): one SQLite file cannot hold shards
 *   living on several nodes.
 * Cost: one catalog read (cached per isolate), one replicator call with synchronous replicas,
 * one node request; frames and files are streamed, not buffered.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { DatabaseParam } from '../../schemas/databases'
import type { AuthEnv } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import type { StorageNode } from '../platform/storage-nodes'
import { NODE_TIMEOUT_MS, namespaceUrl, nodeById } from './catalog'
import { HranaError, hranaErrorResponse } from './hrana'
import { wireCaller, wireDatabase } from './hrana-routes'
import { replicatorStub } from './replicator'
import { nodePath, parseSyncPath, platformGeneration, type SyncPath } from './sync-wire'

const tags = ['databases']
/** A new replica's database file may be large: its transfer gets longer than one statement. */
const EXPORT_TIMEOUT_MS = 120_000

/** Hrana's error shape, which the client reads on this wire too, with the challenge on a 401. */
function errorResponse(error: HranaError): Response {
  const response = hranaErrorResponse(error)
  if (error.status === 401) response.headers.set('WWW-Authenticate', 'Bearer')
  return response
}

const SyncInfo = v.object({ current_generation: v.pipe(v.number(), v.integer()) })

const common = {
  tags,
  scope: 'databases:read',
  wire: 'libsql-sync',
  problems: [404, 409, 503],
}

interface SyncContext {
  env: AuthEnv['Bindings']
  req: { header(name: string): string | undefined }
}

/** The primary's node and namespace for the caller's database. */
async function primaryOf(c: SyncContext, name: string) {
  const { principal } = await wireCaller(c.env, c.req.header('authorization'))
  if (!v.is(DatabaseParam, { db: name })) throw new HranaError(404, 'NOT_FOUND', 'Not a database name.')
  const db = await wireDatabase(c.env, principal.tenant, name)
  if (db.partitions)
    throw new HranaError(
      409,
      'PARTITIONED',
      `"${name}" is partitioned over ${db.partitions.shards.length} shards; an embedded replica is one ` +
        'SQLite file of one database. Use the Hrana URL (`url`, without `syncUrl`) for partitioned databases.',
    )
  if (!db.replicas.some((replica) => replica.synchronous)) return { node: db.node, namespace: db.namespace }
  const route = await replicatorStub(c.env, db.tenant, db.name)
    .route()
    .catch((error: unknown) => {
      throw new HranaError(503, 'UNAVAILABLE', error instanceof Error ? error.message : String(error))
    })
  return { node: nodeById(c.env, route.primary.node), namespace: route.primary.namespace }
}

async function callNode(node: StorageNode, url: string, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, {
      headers: node.token ? { authorization: `Bearer ${node.token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch {
    throw new HranaError(503, 'UNAVAILABLE', `The storage node "${node.id}" did not answer.`)
  }
}

function resetNeeded(generation: number): HranaError {
  return new HranaError(
    409,
    'REPLICA_RESET_NEEDED',
    `Generation ${generation} belongs to an earlier copy of this database (it failed over, or was deleted ` +
      'and created again). Delete the local replica file (and its "-info" file) and sync again.',
  )
}

async function serve(c: SyncContext, name: string, path: SyncPath): Promise<Response> {
  const { node, namespace } = await primaryOf(c, name)
  const target = nodePath(namespace, path)
  if (typeof target !== 'string') throw resetNeeded(target.stale)
  const url = `${namespaceUrl(node, namespace)}${target}`
  const upstream = await callNode(node, url, path.kind === 'export' ? EXPORT_TIMEOUT_MS : NODE_TIMEOUT_MS)
  if (upstream.ok && path.kind !== 'info') {
    const headers = new Headers({ 'content-type': 'application/octet-stream' })
    const length = upstream.headers.get('content-length')
    if (length !== null) headers.set('content-length', length)
    return new Response(upstream.body, { status: 200, headers })
  }
  const text = await upstream.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    // not JSON: handled by status below
  }
  const generation = (g: unknown) => {
    const shown = typeof g === 'number' ? platformGeneration(namespace, g) : undefined
    if (shown === undefined)
      throw new HranaError(
        409,
        'GENERATIONS_EXHAUSTED',
        'This database has no embedded-replica generation left.',
      )
    return shown
  }
  if (upstream.ok) return Response.json({ current_generation: generation(body.current_generation) })
  if (upstream.status === 400 && path.kind === 'sync') {
    // End of generation: the client moves on to the next one (the node's, shown as the platform's).
    if (typeof body.generation === 'number')
      return Response.json(
        { generation: generation(body.generation), message: 'end of generation' },
        { status: 400 },
      )
    throw resetNeeded(path.generation) // a generation this node never had: another copy's
  }
  if (upstream.status === 404 && path.kind === 'export')
    throw new HranaError(
      404,
      'NOT_FOUND',
      `Generation ${path.generation} is not the current one; sync again.`,
    )
  if (upstream.status === 404)
    throw new HranaError(503, 'NOT_SERVED', `The storage node "${node.id}" does not serve embedded replicas.`)
  const reason = typeof body.error === 'string' ? body.error : `status ${upstream.status}`
  throw new HranaError(503, 'UNAVAILABLE', `The storage node "${node.id}" failed: ${reason}`)
}

// biome-ignore lint/suspicious/noExplicitAny: any Hono context of this sub-app
async function answer(c: any, path: SyncPath | undefined): Promise<Response> {
  try {
    if (path === undefined) throw new HranaError(404, 'NOT_FOUND', 'Not a path of the sync protocol.')
    return await serve(c, c.req.param('db'), path)
  } catch (error) {
    if (error instanceof HranaError) return errorResponse(error)
    throw error
  }
}

const description =
  'The sync protocol of `@libsql/client` embedded replicas (`syncUrl: <platform>/v1/databases/{db}`), ' +
  "streamed from the storage node holding the database's primary. End of generation is 400 " +
  '`{"generation": g}`; other errors are `{error, message, code}` (409 `PARTITIONED` for a partitioned ' +
  'database, 409 `REPLICA_RESET_NEEDED` for a replica of an earlier copy, e.g. after a failover).'

export const databaseSyncRoutes = new Hono<AuthEnv>()
  .get(
    '/:db/info',
    describe({
      ...common,
      summary: 'Embedded replicas: the current generation',
      description,
      responses: { 200: { description: '`{"current_generation": g}`', schema: SyncInfo } },
    }),
    (c) => answer(c, { kind: 'info' }),
  )
  .get(
    '/:db/export/:generation',
    describe({
      ...common,
      summary: 'Embedded replicas: the database file at the start of a generation',
      description,
      responses: {
        200: { description: 'The SQLite database file', mediaType: 'application/octet-stream' },
      },
    }),
    (c) => answer(c, parseSyncPath(`/export/${c.req.param('generation')}`)),
  )
  .get(
    '/:db/sync/:generation/:start/:end',
    describe({
      ...common,
      summary: 'Embedded replicas: WAL frames [start, end) of a generation',
      description,
      responses: {
        200: {
          description: 'WAL frames (24-byte header + 4096-byte page each), ending at a commit frame',
          mediaType: 'application/octet-stream',
        },
      },
    }),
    (c) => {
      const { generation, start, end } = c.req.param()
      return answer(c, parseSyncPath(`/sync/${generation}/${start}/${end}`))
    },
  )

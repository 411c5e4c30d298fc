/**
 * The Hrana-over-HTTP proxy (`/v1/databases/{db}/v2|v3/pipeline`, `/v3/cursor`): the body is
 * forwarded to the database's storage node with the node's baton, the answer returned with a
 * platform-signed baton (see batons.ts) and no `base_url`, so clients keep talking to the
 * platform and a stream's next request reaches the same node from any isolate.
 *
 * Read-only principals: before forwarding, every statement of the pipeline is described on
 * the node (a separate one-shot stream) and the pipeline runs only when the engine says each
 * one is read-only (`sqlite3_stmt_readonly`); otherwise every request of the pipeline gets a
 * Hrana error and nothing runs. `sequence` and stored SQL are refused to read-only tokens
 * (they cannot be described statement by statement). Cost: one extra node round trip for
 * read-only tokens; none for read-write ones.
 *
 * Errors keep Hrana's shape: `{ error, message, code }` with the node's statuses.
 */
import { DATABASES_LIMITS } from '../../schemas/databases'
import { openBaton, signBaton } from './batons'
import { captureSchema, readPosition } from './capture'
import { backendClient, backendUrl, type Database, NODE_TIMEOUT_MS } from './catalog'
import {
  type HranaRequest,
  mayChangeSchema,
  POSITION_HEADER,
  pickReplica,
  readFromReplica,
  SERVED_BY_HEADER,
  takeProbe,
  withPositionProbe,
} from './routing'

export class HranaError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export function hranaErrorResponse(error: HranaError): Response {
  return Response.json(
    { error: error.message, message: error.message, code: error.code },
    { status: error.status },
  )
}

type Stmt = NonNullable<HranaRequest['stmt']>

export interface ProxyContext {
  secret: string
  db: Database
  readOnly: boolean
  /** The replica the client asked to read from (`nearest` or an id), if any (routing.ts). */
  replica?: string | undefined
  /** The replication position the request carries (read-your-writes). */
  minPosition?: number | undefined
  /** Called after a pipeline ran on the primary of a replicated database. */
  onPrimary?: (() => void) | undefined
  /** A database with failover: the epoch the write is routed under, and its acknowledgement (failover.ts). */
  fence?: { epoch: number; acknowledge(position: number): Promise<void> } | undefined
}

export const EPOCH_HEADER = 'Edgeblocks-Epoch'

/** Waits for the write's acknowledgement (a synchronous replica has it, the epoch is current). */
async function acknowledged(ctx: ProxyContext, position: number | undefined): Promise<void> {
  if (!ctx.fence) return
  try {
    await ctx.fence.acknowledge(position ?? (await readPosition(backendClient(ctx.db))))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new HranaError(503, 'NOT_ACKNOWLEDGED', `The write was not acknowledged: ${message}`)
  }
}

export function parseBody(text: string): Record<string, unknown> {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new HranaError(400, 'INVALID_JSON', 'The request body is not JSON.')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HranaError(400, 'INVALID_REQUEST', 'The request body must be a JSON object.')
  }
  const baton = (body as { baton?: unknown }).baton
  if (baton !== undefined && baton !== null && typeof baton !== 'string') {
    throw new HranaError(400, 'INVALID_REQUEST', '"baton" must be a string or null.')
  }
  return body as Record<string, unknown>
}

async function backendBaton(ctx: ProxyContext, baton: unknown): Promise<string | null> {
  if (typeof baton !== 'string') return null
  const opened = await openBaton(ctx.secret, ctx.db.tenant, ctx.db.namespace, baton)
  if (opened === undefined)
    throw new HranaError(400, 'BATON_INVALID', 'The baton is not valid for this database.')
  return opened
}

/** The SQL texts the requests would run; refuses shapes a read-only check cannot see through. */
function statementsOf(requests: HranaRequest[]): string[] {
  const sqls: string[] = []
  const take = (stmt: Stmt | undefined) => {
    if (stmt?.sql_id !== undefined && stmt.sql_id !== null) {
      throw new HranaError(403, 'READONLY', 'Read-only tokens cannot run stored SQL.')
    }
    if (typeof stmt?.sql !== 'string')
      throw new HranaError(400, 'INVALID_REQUEST', 'A statement needs "sql".')
    sqls.push(stmt.sql)
  }
  for (const request of requests) {
    if (request.type === 'execute') take(request.stmt)
    else if (request.type === 'batch') for (const step of request.batch?.steps ?? []) take(step.stmt)
    else if (request.type === 'sequence' || request.type === 'store_sql') {
      throw new HranaError(403, 'READONLY', `Read-only tokens cannot send "${request.type}" requests.`)
    }
  }
  return sqls
}

function countStatements(requests: HranaRequest[]): number {
  let count = 0
  for (const request of requests) count += request.type === 'batch' ? (request.batch?.steps?.length ?? 0) : 1
  return count
}

export async function callNode(ctx: ProxyContext, path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (ctx.db.node.token) headers.authorization = `Bearer ${ctx.db.node.token}`
  try {
    return await fetch(`${backendUrl(ctx.db)}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
    })
  } catch {
    throw new HranaError(503, 'UNAVAILABLE', `The storage node "${ctx.db.node.id}" did not answer.`)
  }
}

/** Describes each statement on the node; throws when one is not read-only. */
async function assertReadOnly(ctx: ProxyContext, sqls: string[]): Promise<void> {
  const unique = [...new Set(sqls)]
  if (unique.length === 0) return
  const response = await callNode(ctx, 'v3/pipeline', {
    baton: null,
    requests: [...unique.map((sql) => ({ type: 'describe', sql })), { type: 'close' }],
  })
  if (!response.ok) throw new HranaError(response.status, 'ENGINE_FAILURE', await response.text())
  const answer = (await response.json()) as {
    results: Array<{
      type: string
      response?: { result?: { is_readonly?: boolean } }
      error?: { message: string }
    }>
  }
  for (const [index, sql] of unique.entries()) {
    const result = answer.results[index]
    if (result?.type !== 'ok') {
      throw new HranaError(400, 'SQL_PARSE_ERROR', result?.error?.message ?? `Could not describe: ${sql}`)
    }
    if (result.response?.result?.is_readonly !== true) {
      throw new HranaError(
        403,
        'READONLY',
        `A read-only token cannot run a statement that writes: ${sql.slice(0, 200)}`,
      )
    }
  }
}

export async function prepare(ctx: ProxyContext, requests: HranaRequest[]) {
  if (countStatements(requests) > DATABASES_LIMITS.maxPipelineStatements) {
    throw new HranaError(
      413,
      'PIPELINE_TOO_LARGE',
      `At most ${DATABASES_LIMITS.maxPipelineStatements} statements per request.`,
    )
  }
  if (ctx.readOnly) await assertReadOnly(ctx, statementsOf(requests))
}

async function signedBaton(ctx: ProxyContext, baton: unknown): Promise<string | null> {
  return typeof baton === 'string'
    ? await signBaton(ctx.secret, ctx.db.tenant, ctx.db.namespace, baton)
    : null
}

export async function pipeline(ctx: ProxyContext, version: 2 | 3, text: string): Promise<Response> {
  const body = parseBody(text)
  if (!Array.isArray(body.requests))
    throw new HranaError(400, 'INVALID_REQUEST', '"requests" must be an array.')
  const requests = body.requests as HranaRequest[]
  await prepare(ctx, requests)
  const replicated = ctx.db.replicas.length > 0 || ctx.fence !== undefined
  if (replicated && ctx.replica !== undefined && (body.baton === undefined || body.baton === null)) {
    const replica = pickReplica(ctx.db.replicas, ctx.replica)
    const served = replica && (await readFromReplica(replica, version, requests, ctx.minPosition ?? 0))
    if (replica && served) return answerWith(null, served.results, served.position, `replica:${replica.id}`)
  }
  const probe = replicated ? withPositionProbe(requests, version) : undefined
  const response = await callNode(ctx, `v${version}/pipeline`, {
    baton: await backendBaton(ctx, body.baton),
    requests: probe?.requests ?? requests,
  })
  if (!response.ok) return passThrough(response)
  const answer = (await response.json()) as { baton?: unknown; results: unknown[] }
  const probed = probe ? takeProbe(answer.results, probe) : undefined
  let position = probed?.position
  if (replicated) {
    // New or changed tables are captured before the answer (unless the stream holds a
    // transaction open), so its position covers their rows.
    const outside = probed?.autocommit ?? typeof answer.baton !== 'string'
    if (outside && mayChangeSchema(requests)) {
      const client = backendClient(ctx.db)
      await captureSchema(client, 'check').catch(() => undefined)
      position = await readPosition(client)
    }
    // Inside an open transaction nothing is committed yet: its commit is acknowledged.
    if (outside) await acknowledged(ctx, position)
    ctx.onPrimary?.()
  }
  const answered = answerWith(await signedBaton(ctx, answer.baton), answer.results, position, 'primary')
  if (ctx.fence) answered.headers.set(EPOCH_HEADER, String(ctx.fence.epoch))
  return answered
}

/** A pipeline answer; `replication_position` (and its header) when the database is replicated. */
function answerWith(
  baton: string | null,
  results: unknown[],
  position: number | undefined,
  servedBy: string,
): Response {
  const headers: Record<string, string> = { [SERVED_BY_HEADER]: servedBy }
  if (position !== undefined) headers[POSITION_HEADER] = String(position)
  return Response.json(
    { baton, base_url: null, results, ...(position !== undefined ? { replication_position: position } : {}) },
    { headers },
  )
}

export async function cursor(ctx: ProxyContext, text: string): Promise<Response> {
  const body = parseBody(text)
  const batch = body.batch as HranaRequest['batch']
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.steps)) {
    throw new HranaError(400, 'INVALID_REQUEST', '"batch.steps" must be an array.')
  }
  await prepare(ctx, [{ type: 'batch', batch }])
  const response = await callNode(ctx, 'v3/cursor', { baton: await backendBaton(ctx, body.baton), batch })
  if (!response.ok) return passThrough(response)
  const lines = await response.text()
  await acknowledged(ctx, undefined)
  const newline = lines.indexOf('\n')
  const head = JSON.parse(newline < 0 ? lines : lines.slice(0, newline)) as { baton?: unknown }
  const rewritten = JSON.stringify({ baton: await signedBaton(ctx, head.baton), base_url: null })
  return new Response(`${rewritten}${newline < 0 ? '' : lines.slice(newline)}`, {
    headers: {
      'content-type': 'text/plain',
      ...(ctx.fence ? { [EPOCH_HEADER]: String(ctx.fence.epoch) } : {}),
    },
  })
}

async function passThrough(response: Response): Promise<Response> {
  return new Response(await response.text(), {
    status: response.status,
    headers: { 'content-type': 'application/json' },
  })
}

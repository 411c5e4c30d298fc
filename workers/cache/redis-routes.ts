/**
 * The Upstash Redis REST endpoints of a cache, with the wire's own shapes (not problem+json):
 * - `POST /v1/cache/{cache}`: one command → 200 `{result}`, or 400 `{error}` with Redis's text.
 * - `POST /v1/cache/{cache}/pipeline`: commands → 200 `[{result}|{error}, …]`, in order.
 * - `POST /v1/cache/{cache}/multi-exec`: commands run atomically on one node → 200 replies,
 *   or 400 `{error}` (CROSSSLOT, EXECABORT) with nothing run.
 * Auth: `Authorization: Bearer <platform token>`; 401 `{error}` without a valid one. Reads
 * need `cache:read`, commands that change data `cache:write` (else 403 `{error: "NOPERM …"}`).
 * `Upstash-Encoding: base64` encodes result strings. Bad JSON or a bad command shape → 400.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import { RedisCommand, RedisPipeline, RedisReplies, RedisReply } from '../../schemas/cache'
import { ResourceName } from '../../schemas/common'
import { type AuthEnv, authenticate } from '../platform/auth/middleware'
import { hasScope } from '../platform/auth/token'
import { asAppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { backingSource } from './backing'
import { runPipeline, runTransaction, skippingUnreachable, transactionNode } from './cluster'
import { COMMANDS, type Outcome, RedisError } from './commands'
import { configOf, nodeClient, replicationOf } from './config'
import { readThrough, writeThrough } from './through'
import { encodeOutcome, toArgs, wantsBase64 } from './wire'

type Ctx = Context<AuthEnv, '/:name'>

class WireError extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
    message: string,
  ) {
    super(message)
  }
}

async function principalOf(c: Ctx) {
  try {
    return c.get('principal') ?? (await authenticate(c.env, c.req.header('authorization')))
  } catch (error) {
    throw new WireError(401, asAppError(error).detail)
  }
}

async function parse<S extends v.GenericSchema>(c: Ctx, schema: S): Promise<v.InferOutput<S>> {
  let body: unknown
  try {
    body = JSON.parse(await c.req.text())
  } catch {
    throw new WireError(400, 'ERR failed to parse the request body as JSON')
  }
  const result = v.safeParse(schema, body)
  if (!result.success) {
    const issue = result.issues[0]
    const message = issue.message.startsWith('ERR') ? issue.message : `ERR ${issue.message}`
    throw new WireError(400, message)
  }
  return result.output
}

function needsWrite(args: string[]): boolean {
  const spec = COMMANDS[(args[0] ?? '').toUpperCase()]
  return Boolean(spec?.write || spec?.grows)
}

async function serve(c: Ctx, mode: 'single' | 'pipeline' | 'transaction'): Promise<Response> {
  try {
    const principal = await principalOf(c)
    const commands =
      mode === 'single' ? [toArgs(await parse(c, RedisCommand))] : (await parse(c, RedisPipeline)).map(toArgs)
    for (const args of commands) {
      const scope = needsWrite(args) ? 'cache:write' : 'cache:read'
      if (!hasScope(principal, scope)) {
        throw new WireError(
          403,
          `NOPERM this token has no permissions to run the '${(args[0] ?? '').toLowerCase()}' command (needs ${scope})`,
        )
      }
    }
    const name = c.req.param('name')
    if (!v.is(ResourceName, name)) throw new WireError(400, 'ERR invalid cache name')
    const tenant = principal.tenant
    const config = await configOf(c.env, tenant, name)
    const client = skippingUnreachable(nodeClient(c.env, tenant, name, config))
    const base64 = wantsBase64(c.req.header('upstash-encoding'))
    const backing = config.backing
    const source = backing ? backingSource(backing.source) : undefined
    if (mode === 'transaction') transactionNode(commands, config.nodes)
    if (source && backing?.write === 'through') {
      try {
        await writeThrough(source, commands)
      } catch (error) {
        throw new WireError(400, `ERR backing source refused the write: ${String(error).slice(0, 200)}`)
      }
    }
    let outcomes: Outcome[]
    if (mode === 'transaction') outcomes = await runTransaction(client, config.nodes, commands)
    else outcomes = await runPipeline(client, config.nodes, commands, replicationOf(tenant, name, config))
    if (source && backing?.readThrough) {
      outcomes = await readThrough(source, client, config.nodes, backing.readTtlSeconds, commands, outcomes)
    }
    const encoded = outcomes.map((outcome) => encodeOutcome(outcome, base64))
    if (mode !== 'single') return c.json(encoded)
    const [only] = encoded as [Outcome]
    return c.json(only, 'error' in only ? 400 : 200)
  } catch (error) {
    if (error instanceof WireError) return c.json({ error: error.message }, error.status)
    if (error instanceof RedisError) return c.json({ error: error.message }, 400)
    throw error
  }
}

const TAGS = ['cache']
const wire = (summary: string, schema: v.GenericSchema, description: string) =>
  describe({
    wire: 'redis',
    tags: TAGS,
    summary,
    description:
      `${description} Request body: ${summary.includes('one') ? 'a JSON array, e.g. `["SET","k","v","EX",60]`' : 'a JSON array of such arrays (at most 1,000)'}. ` +
      'Errors use the Upstash wire: `{"error": "<Redis error text>"}` with 400, 401 or 403.',
    scope: 'cache:read',
    responses: {
      200: { description: 'The reply (strings in base64 with `Upstash-Encoding: base64`)', schema },
    },
  })

export function mountRedisRoutes(app: import('hono').Hono<AuthEnv>) {
  return app
    .post(
      '/:name',
      wire('Run one Redis command (Upstash REST)', RedisReply, 'Writes need `cache:write`.'),
      (c) => serve(c, 'single'),
    )
    .post(
      '/:name/pipeline',
      wire('Run a pipeline of Redis commands (Upstash REST)', RedisReplies, 'In order per node; not atomic.'),
      (c) => serve(c as unknown as Ctx, 'pipeline'),
    )
    .post(
      '/:name/multi-exec',
      wire(
        'Run a transaction (Upstash REST MULTI/EXEC)',
        RedisReplies,
        'Atomic on one node: every key must hash to the same node (use a `{hash tag}`), else CROSSSLOT.',
      ),
      (c) => serve(c as unknown as Ctx, 'transaction'),
    )
}

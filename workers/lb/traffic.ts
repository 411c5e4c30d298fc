/**
 * Traffic through a load balancer: pick a pool that is up (in order, then the fallback pool
 * with health ignored), ask its object for an origin, stream the request there and the
 * answer back.
 *
 * Retries: an idempotent request without a body (GET, HEAD, OPTIONS, DELETE, TRACE) whose
 * try failed to connect, timed out before the headers, or answered 502/503/504 (or any 5xx
 * with `on5xx`) is tried again on another origin, up to `attempts` times, while the pool's
 * retry budget allows. Nothing is retried once the client has the response: the decision is
 * made before a single byte is returned. A request body is never buffered for a retry.
 * Affinity: a cookie names the pool and origin; while that origin can serve it is used, else
 * the algorithm picks and the cookie is replaced (removing one origin moves only its clients).
 */
import { parse, serialize } from 'hono/utils/cookie'
import type { CreateBalancerInput, CreatePoolInput } from '../../schemas/lb'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import {
  clientAddress,
  forwardHeaders,
  isWebSocketUpgrade,
  onBodyDone,
  refuseLoop,
  sendToOrigin,
  targetUrl,
  toClientResponse,
} from '../platform/proxy'
import type { Outcome } from './health'
import { balancerSettings, poolSettings, poolStub } from './manage'
import type { Acquired } from './object'

const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE'])
/** A lease outlives its request's headers by this much before the pool stops counting it. */
const LEASE_SLACK_MS = 60_000

export interface ServeOptions {
  /** The path (and query) the origin sees. */
  path: string
  search: string
  /** Drop the platform token (the `/v1/lb/{name}/proxy/*` test route). */
  stripAuthorization?: boolean
}

type Chosen = Extract<Acquired, { kind: 'origin' }> & { pool: string }

function hashKey(request: Request, settings: CreatePoolInput | undefined): string | undefined {
  const source = settings?.hashKey ?? { source: 'ip' as const }
  if (source.source === 'ip') return clientAddress(request)
  if (source.source === 'header') return request.headers.get(source.name ?? '') ?? undefined
  return parse(request.headers.get('cookie') ?? '', source.name)[source.name ?? '']
}

async function choose(
  env: Env,
  tenant: string,
  balancer: CreateBalancerInput,
  request: Request,
  tried: Map<string, string[]>,
  retry: boolean,
  sticky: { pool: string; origin: string } | undefined,
): Promise<Chosen | { kind: 'down' | 'overloaded' | 'no_budget' }> {
  let refusal: 'down' | 'overloaded' | 'no_budget' = 'down'
  const order = balancer.pools.map((pool) => ({ pool, ignoreHealth: false }))
  if (balancer.fallbackPool) order.push({ pool: balancer.fallbackPool, ignoreHealth: true })
  for (const { pool, ignoreHealth } of order) {
    const settings = await poolSettings(env, tenant, pool)
    if (!settings) continue
    const acquired = await poolStub(env, tenant, pool).acquire({
      key:
        settings.algorithm === 'ring_hash' || settings.algorithm === 'maglev'
          ? hashKey(request, settings)
          : undefined,
      prefer: sticky?.pool === pool ? sticky.origin : undefined,
      exclude: tried.get(pool) ?? [],
      retry,
      ignoreHealth,
      budget: balancer.retries,
      leaseMs: balancer.perTryTimeoutMs + LEASE_SLACK_MS,
    })
    if (acquired.kind === 'origin') return { ...acquired, pool }
    if (acquired.kind === 'no_budget') return { kind: 'no_budget' }
    if (acquired.kind === 'overloaded') refusal = 'overloaded'
  }
  return { kind: refusal }
}

async function attempt(request: Request, chosen: Chosen, options: ServeOptions, timeoutMs: number) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const started = Date.now()
  try {
    const response = await sendToOrigin({
      method: request.method,
      url: targetUrl(chosen.url, options.path, options.search),
      headers: forwardHeaders(request, { stripAuthorization: options.stripAuthorization ?? false }),
      body: request.body,
      signal: controller.signal,
    })
    return {
      response,
      outcome: { kind: 'response', status: response.status, latencyMs: Date.now() - started } as Outcome,
    }
  } catch {
    return {
      response: undefined,
      outcome: { kind: controller.signal.aborted ? 'timeout' : 'connect_failure' } as Outcome,
    }
  } finally {
    clearTimeout(timer)
  }
}

function retryable(outcome: Outcome, on5xx: boolean): boolean {
  if (outcome.kind !== 'response') return true
  return (
    outcome.status === 502 ||
    outcome.status === 503 ||
    outcome.status === 504 ||
    (on5xx && outcome.status >= 500)
  )
}

function unavailable(kind: 'down' | 'overloaded' | 'no_budget', name: string): AppError {
  const detail =
    kind === 'overloaded'
      ? `Every origin of the load balancer "${name}" is at its request limit.`
      : `No origin of the load balancer "${name}" can serve: every pool is down.`
  return new AppError('unavailable', detail, {
    headers: { 'Retry-After': kind === 'overloaded' ? '1' : '5' },
  })
}

/** Serves one request through the tenant's load balancer `name`. */
export async function serveBalancer(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  target: { tenant: string; name: string },
  options: ServeOptions,
): Promise<Response> {
  refuseLoop(request)
  const balancer = await balancerSettings(env, target.tenant, target.name)
  const cookieName = balancer.affinity?.cookieName
  const [stickyPool, stickyOrigin] = cookieName
    ? (parse(request.headers.get('cookie') ?? '', cookieName)[cookieName] ?? '').split('~')
    : []
  const sticky = stickyPool && stickyOrigin ? { pool: stickyPool, origin: stickyOrigin } : undefined
  const canRetry =
    RETRYABLE_METHODS.has(request.method) && request.body === null && !isWebSocketUpgrade(request)
  const tried = new Map<string, string[]>()
  let last: { chosen: Chosen; response: Response | undefined; outcome: Outcome } | undefined
  for (let tryIndex = 0; tryIndex <= balancer.retries.attempts; tryIndex++) {
    const chosen = await choose(env, target.tenant, balancer, request, tried, tryIndex > 0, sticky)
    if (chosen.kind !== 'origin') {
      if (last) break
      throw unavailable(chosen.kind, target.name)
    }
    tried.set(chosen.pool, [...(tried.get(chosen.pool) ?? []), chosen.name])
    if (last?.response) await last.response.body?.cancel()
    const result = await attempt(request, chosen, options, balancer.perTryTimeoutMs)
    last = { chosen, ...result }
    if (
      !canRetry ||
      !retryable(result.outcome, balancer.retries.on5xx) ||
      tryIndex === balancer.retries.attempts
    )
      break
    // Counted before the next pick, so an ejection it causes applies to the retry.
    await poolStub(env, target.tenant, chosen.pool).release(chosen.lease, chosen.name, result.outcome)
    last = { ...last, chosen: { ...chosen, lease: '' } }
  }
  const { chosen, response, outcome } = last as NonNullable<typeof last>
  const stub = poolStub(env, target.tenant, chosen.pool)
  if (!response) {
    if (chosen.lease) ctx.waitUntil(stub.release(chosen.lease, chosen.name, outcome))
    throw outcome.kind === 'timeout'
      ? new AppError('timeout', `The origin did not answer within ${balancer.perTryTimeoutMs} ms.`)
      : new AppError('bad_gateway', 'The origin could not be reached.')
  }
  const extra: Record<string, string> = { 'edgeblocks-lb-origin': `${chosen.pool}/${chosen.name}` }
  if (cookieName && (sticky?.pool !== chosen.pool || sticky.origin !== chosen.name)) {
    extra['set-cookie'] = serialize(cookieName, `${chosen.pool}~${chosen.name}`, {
      path: '/',
      maxAge: balancer.affinity?.ttlSeconds ?? 3600,
      httpOnly: true,
      sameSite: 'Lax',
    })
  }
  const client = toClientResponse(response, extra)
  if (!chosen.lease || client.status === 101) {
    if (chosen.lease) ctx.waitUntil(stub.release(chosen.lease, chosen.name, outcome))
    return client
  }
  const lease = chosen.lease
  const body = onBodyDone(client.body, () => ctx.waitUntil(stub.release(lease, chosen.name, outcome)))
  return new Response(body, client)
}

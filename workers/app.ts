/**
 * The Hono app: platform middleware (request id, server timing, body limits, one error
 * handler), the platform routes (`/healthz`, `/v1`, `/v1/tokens`, `/openapi.json`,
 * `/docs`) and every building block from `BLOCKS`. Unknown paths are 404 and known paths
 * with the wrong method are 405 with `Allow`, both as problem+json.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import { timing } from 'hono/timing'
import * as v from 'valibot'
import { BlockList, Health } from '../schemas/platform'
import { BLOCKS, blockForPath } from './blocks'
import { dohRoutes } from './dns/doh'
import { hostnameRouting } from './dns/hostnames'
import { requestLogs } from './logs/request-logs'
import { blockFamilies } from './monitoring/block-metrics'
import { gatherBlockState } from './monitoring/block-state'
import { platformMetrics, renderPlatformMetrics } from './monitoring/platform-metrics'
import { type AuthEnv, authenticate } from './platform/auth/middleware'
import { tokenRoutes } from './platform/auth/routes'
import { streamTicketRoutes } from './platform/auth/ticket-routes'
import { hasScope } from './platform/auth/token'
import { readConfig } from './platform/config'
import { DOCS_HTML } from './platform/docs'
import { AppError, toProblemResponse } from './platform/errors'
import { allowedMethodsFinder } from './platform/method-not-allowed'
import { describe, openApiDocument } from './platform/openapi'
import { gatewayRateLimit } from './ratelimit/gateway'

export const VERSION = '0.1.0'

const WhoAmI = v.object({
  tenant: v.string(),
  scopes: v.array(v.string()),
  tokenId: v.string(),
  expiresAt: v.number(),
})

export function createApp() {
  const app = new Hono<AuthEnv & { Variables: { requestId: string } }>()
  const allowedMethods = allowedMethodsFinder(app as never)

  // Requests for a tenant's own hostname leave here; the platform's hostnames pay a set lookup.
  app.use(hostnameRouting(() => BLOCKS.flatMap((block) => (block.hostTarget ? [block.hostTarget] : []))))
  app.use(requestId({ limitLength: 128 }))
  // The platform's own request logs into tenant `platform` (LOGS_REQUEST_LOGS), after each response.
  app.use(requestLogs())
  // The platform's own request metrics (per isolate), served at /metrics.
  app.use(platformMetrics())
  app.use(timing({ crossOrigin: false }))
  app.use(async function mutableResponse(c, next) {
    await next()
    // A response passed through from a Durable Object's fetch has immutable headers; copy it
    // so the middleware around this one (timing, request id, rate limits) can add theirs.
    const { status, webSocket, body } = c.res
    c.res =
      status === 101
        ? new Response(null, { status, webSocket, headers: c.res.headers })
        : new Response(body, c.res)
  })
  app.use(async function bodyLimitMiddleware(c, next) {
    const path = new URL(c.req.url).pathname
    const block = blockForPath(path)
    // Proxied bodies stream to their origin; Hono's bodyLimit would buffer them.
    if (block?.streamingPaths?.test(path)) return next()
    const maxSize = block?.maxBodyBytes ?? readConfig(c.env).bodyLimitBytes
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError('payload_too_large', `The request body is over the ${maxSize}-byte limit.`)
      },
    })(c, next)
  })
  app.use('/v1/*', gatewayRateLimit())
  // The public DNS endpoints carry no token: the gateway limits them per client address.
  app.use('/dns-query', gatewayRateLimit())
  app.use('/resolve', gatewayRateLimit())

  app.onError((error, c) => toProblemResponse(c, error))
  app.notFound((c) => {
    const allowed = allowedMethods(new URL(c.req.url).pathname)
    if (allowed.length > 0) {
      return toProblemResponse(
        c,
        new AppError(
          'method_not_allowed',
          `${c.req.method} is not allowed here; use ${allowed.join(', ')}.`,
          {
            headers: { Allow: allowed.join(', ') },
          },
        ),
      )
    }
    return toProblemResponse(c, new AppError('not_found', `Nothing at ${new URL(c.req.url).pathname}.`))
  })

  app.get(
    '/healthz',
    describe({
      tags: ['platform'],
      summary: 'Liveness',
      responses: { 200: { description: 'Up', schema: Health } },
    }),
    (c) => c.json({ status: 'ok' as const }),
  )
  app.get(
    '/v1',
    describe({
      tags: ['platform'],
      summary: 'The mounted building blocks and their versions',
      responses: { 200: { description: 'Blocks', schema: BlockList } },
    }),
    (c) =>
      c.json({
        blocks: BLOCKS.map(({ name, version, path, description }) => ({ name, version, path, description })),
      }),
  )
  app.get(
    '/v1/whoami',
    describe({
      tags: ['tokens'],
      summary: 'The verified token: tenant, scopes, expiry (an authenticated no-op)',
      auth: 'bearer',
      responses: { 200: { description: 'The principal', schema: WhoAmI } },
      problems: [401],
    }),
    async function whoAmI(c) {
      const principal = c.get('principal') ?? (await authenticate(c.env, c.req.header('authorization')))
      return c.json({
        tenant: principal.tenant,
        scopes: [...principal.scopes],
        tokenId: principal.tokenId,
        expiresAt: principal.expiresAt,
      })
    },
  )
  app.route('/v1/tokens', tokenRoutes)
  app.route('/v1/stream-tickets', streamTicketRoutes)
  for (const block of BLOCKS) app.route(block.path, block.routes)
  for (const block of BLOCKS)
    for (const extra of block.protocolRoutes ?? []) app.route(extra.path, extra.routes)
  app.route('/', dohRoutes)

  app.get(
    '/metrics',
    describe({
      tags: ['platform'],
      summary:
        "The platform's own metrics (Prometheus text format 0.0.4): requests, object calls and libSQL per Worker isolate; queue depths and scheduler lag. A bearer token with queue:read labels the tenant's own queues; without one, queue depths are platform totals",
      responses: { 200: { description: 'Metrics', mediaType: 'text/plain' } },
      problems: [401, 403],
    }),
    async function platformMetricsRoute(c) {
      const authorization = c.req.header('authorization')
      const principal =
        c.get('principal') ?? (authorization ? await authenticate(c.env, authorization) : undefined)
      if (principal && !hasScope(principal, 'queue:read')) {
        throw new AppError(
          'forbidden',
          'Per-queue metrics need the queue:read scope (or no token, for totals).',
        )
      }
      const blocks = blockFamilies(await gatherBlockState(c.env, principal?.tenant), Date.now())
      return c.body(renderPlatformMetrics(blocks), 200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      })
    },
  )
  app.get('/openapi.json', openApiDocument(app as never, VERSION))
  app.get('/docs', (c) => c.html(DOCS_HTML))
  return app
}

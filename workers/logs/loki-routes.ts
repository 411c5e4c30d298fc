/**
 * Loki's HTTP API at `/loki/api/v1`: push (JSON, snappy protobuf, optional gzip), query,
 * query_range, labels, label values, series and the tail WebSocket, with Loki's own
 * response shapes and plain-text errors, so Loki clients and Grafana's Loki data source can
 * talk to the block. Auth: `Authorization: Bearer <token>` (`logs:write` to push,
 * `logs:read` for the rest).
 */
import { Hono } from 'hono'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { tenantDirectory } from './ingest'
import { LogQLError } from './logql/parser'
import { readQueryParams } from './loki-params'
import { decodeLokiJson, decodeLokiProtobuf, IngestError } from './loki-push'
import { listSeries, parseQuery, runQuery } from './query'
import { ingestRequest, unsnappy, wireError } from './wire'

const tags = ['logs (Loki API)']
const NS_PER_MS = 1_000_000n

function lokiError(error: unknown): Response {
  const { status, message, headers } = wireError(error)
  return new Response(message, {
    status,
    headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' },
  })
}

const success = (data: unknown) => Response.json({ status: 'success', data })

/** The range of a labels/series request in ms (default: the last 6 hours, Loki's default). */
function listingRange(params: URLSearchParams, nowMs: number): { fromMs: number; toMs: number } {
  const q = readQueryParams(
    new URLSearchParams({ query: '{x="y"}', since: '6h', ...Object.fromEntries(params) }),
    nowMs,
    false,
  )
  return { fromMs: Number(q.startNs / NS_PER_MS), toMs: Number(q.endNs / NS_PER_MS) }
}

export const lokiRoutes = new Hono<AuthEnv>()
  .post(
    '/push',
    describe({
      wire: 'loki',
      tags,
      summary: 'Push log lines (Loki push API)',
      description:
        'JSON `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{metadata}]]}]}` or snappy-compressed protobuf ' +
        '`logproto.PushRequest` (`Content-Type: application/x-protobuf`); `Content-Encoding: gzip` is accepted. ' +
        '204 when stored; a retry of the same bytes (or Idempotency-Key) is not stored twice. Lines over the ' +
        "tenant's size limit are dropped and reported in a 400 after the others are stored.",
      scope: 'logs:write',
      responses: { 204: { description: 'Stored' } },
      problems: [413, 415],
    }),
    requireScope('logs:write'),
    async function lokiPush(c) {
      try {
        const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
        if (type !== 'application/x-protobuf' && type !== 'application/json' && type !== '') {
          throw new IngestError(
            415,
            `unsupported Content-Type "${type}"; send application/json or application/x-protobuf`,
          )
        }
        const outcome = await ingestRequest(
          c.env,
          tenantOf(c),
          c.req.raw,
          (p) => c.executionCtx.waitUntil(p),
          (body) =>
            type === 'application/x-protobuf'
              ? decodeLokiProtobuf(unsnappy(body))
              : decodeLokiJson(new TextDecoder().decode(body)),
        )
        if (outcome.rejected > 0)
          return new Response(`${outcome.rejected} lines rejected: ${outcome.rejectedReason}`, {
            status: 400,
          })
        return new Response(null, { status: 204 })
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .get(
    '/query',
    describe({
      wire: 'loki',
      tags,
      summary: 'Instant LogQL query (vector or streams)',
      scope: 'logs:read',
      responses: { 200: { description: 'Loki result' } },
    }),
    requireScope('logs:read'),
    async function lokiQuery(c) {
      try {
        const params = readQueryParams(new URL(c.req.url).searchParams, Date.now(), true)
        const data = await runQuery(c.env, tenantOf(c), { ...params, instant: true })
        return success({ ...data, stats: {} })
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .get(
    '/query_range',
    describe({
      wire: 'loki',
      tags,
      summary: 'Range LogQL query (streams or matrix)',
      scope: 'logs:read',
      responses: { 200: { description: 'Loki result' } },
    }),
    requireScope('logs:read'),
    async function lokiQueryRange(c) {
      try {
        const params = readQueryParams(new URL(c.req.url).searchParams, Date.now(), false)
        const data = await runQuery(c.env, tenantOf(c), { ...params, instant: false })
        return success({ ...data, stats: {} })
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .get(
    '/labels',
    describe({
      wire: 'loki',
      tags,
      summary: 'Label names of the streams in a time range',
      scope: 'logs:read',
      responses: { 200: { description: 'Names' } },
    }),
    requireScope('logs:read'),
    async function lokiLabels(c) {
      try {
        const { fromMs, toMs } = listingRange(new URL(c.req.url).searchParams, Date.now())
        const series = await listSeries(c.env, tenantOf(c), fromMs, toMs, [])
        return success([...new Set(series.flatMap((labels) => Object.keys(labels)))].sort())
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .get(
    '/label/:name/values',
    describe({
      wire: 'loki',
      tags,
      summary: "A label's values in a time range",
      scope: 'logs:read',
      responses: { 200: { description: 'Values' } },
    }),
    requireScope('logs:read'),
    async function lokiLabelValues(c) {
      try {
        const params = new URL(c.req.url).searchParams
        const { fromMs, toMs } = listingRange(params, Date.now())
        const selector = params.get('query')
        const series = await listSeries(c.env, tenantOf(c), fromMs, toMs, selector ? [selector] : [])
        const name = c.req.param('name')
        return success(
          [...new Set(series.flatMap((labels) => (labels[name] === undefined ? [] : [labels[name]])))].sort(),
        )
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .on(
    ['GET', 'POST'],
    '/series',
    describe({
      wire: 'loki',
      tags,
      summary: 'Label sets of the streams matching `match[]` selectors',
      scope: 'logs:read',
      responses: { 200: { description: 'Series' } },
    }),
    requireScope('logs:read'),
    async function lokiSeries(c) {
      try {
        const params = new URL(c.req.url).searchParams
        if (c.req.method === 'POST')
          for (const [k, v] of new URLSearchParams(await c.req.text())) params.append(k, v)
        const { fromMs, toMs } = listingRange(
          new URLSearchParams([...params].filter(([k]) => k !== 'match[]')),
          Date.now(),
        )
        return success(await listSeries(c.env, tenantOf(c), fromMs, toMs, params.getAll('match[]')))
      } catch (error) {
        return lokiError(error)
      }
    },
  )
  .get(
    '/tail',
    describe({
      wire: 'loki',
      tags,
      summary: 'Live tail over WebSocket (Loki tail messages)',
      scope: 'logs:read',
      responses: { 101: { description: 'Switching protocols' } },
    }),
    requireScope('logs:read'),
    async function lokiTail(c) {
      try {
        return await openTail(c.env, tenantOf(c), c.req.raw, true)
      } catch (error) {
        return lokiError(error)
      }
    },
  )

/** Validates the tail query and hands the request to the tenant's object (WebSocket or SSE). */
export async function openTail(
  env: Cloudflare.Env,
  tenant: string,
  request: Request,
  websocket: boolean,
): Promise<Response> {
  const query = new URL(request.url).searchParams.get('query') ?? ''
  if (parseQuery(query).type !== 'log') throw new LogQLError('tail needs a log query, not a metric query')
  if (websocket && request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw new IngestError(400, 'tail is a WebSocket endpoint: send Upgrade: websocket')
  }
  const url = new URL('https://logs.internal/tail')
  url.searchParams.set('query', query)
  return tenantDirectory(env, tenant).fetch(new Request(url, request))
}

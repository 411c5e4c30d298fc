/**
 * Sentry's ingest wire at the paths Sentry SDKs use (mounted at `/api`):
 * `POST /api/{project}/envelope/` and the legacy `POST /api/{project}/store/` (one event), with or
 * without the trailing slash.
 * Auth is the DSN's public key (`?sentry_key=`, `X-Sentry-Auth`, or the envelope header's
 * `dsn`); browsers send `text/plain` bodies and may preflight, so CORS is open and exposes
 * the rate-limit headers. Errors keep Sentry's shape `{"detail": "…"}`; a refused envelope
 * stores nothing; a rate-limited one answers 429 with `Retry-After` and
 * `X-Sentry-Rate-Limits` (`<seconds>::key`: every category, this key).
 */
import { type Context, Hono } from 'hono'
import * as v from 'valibot'
import { ERRORS_LIMITS, ProjectParam } from '../../../schemas/monitoring-errors'
import { DecompressionError, gunzip } from '../../platform/compression'
import type { Env } from '../../platform/env'
import { asAppError } from '../../platform/errors'
import { describe } from '../../platform/openapi'
import {
  type Envelope,
  EnvelopeError,
  parseEnvelope,
  parseStoreBody,
  sentryKey,
  tenantOfKey,
} from './envelope'
import { normalizeEvent } from './event'
import { errorProject, type IngestBatch } from './object'

const tags = ['monitoring (client-side errors)']

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type, x-sentry-auth, content-encoding, sentry-trace, baggage',
  'access-control-expose-headers': 'x-sentry-rate-limits, retry-after',
  'access-control-max-age': '86400',
}

function detail(status: number, text: string, headers: Record<string, string> = {}): Response {
  return Response.json({ detail: text }, { status, headers: { ...CORS, ...headers } })
}

function sentryError(error: unknown): Response {
  if (error instanceof EnvelopeError) return detail(400, `invalid envelope: ${error.message}`)
  if (error instanceof DecompressionError) return detail(error.tooLarge ? 413 : 400, error.message)
  const app = asAppError(error)
  if (app.status >= 500)
    console.error(JSON.stringify({ level: 'error', block: 'monitoring', error: String(error) }))
  return detail(app.status, app.status >= 500 ? 'internal error' : app.detail)
}

async function body(c: Context<{ Bindings: Env }>): Promise<Uint8Array> {
  const raw = new Uint8Array(await c.req.arrayBuffer())
  if (raw.length > ERRORS_LIMITS.maxEnvelopeBytes)
    throw new DecompressionError(`the body is over ${ERRORS_LIMITS.maxEnvelopeBytes} bytes`, true)
  const encoding = (c.req.header('content-encoding') ?? '').toLowerCase()
  if (encoding === 'gzip') return gunzip(raw, ERRORS_LIMITS.maxEnvelopeBytes)
  if (encoding && encoding !== 'identity') throw new EnvelopeError(`unsupported content encoding ${encoding}`)
  return raw
}

async function ingest(c: Context<{ Bindings: Env }>, parse: (b: Uint8Array) => Envelope): Promise<Response> {
  const project = c.req.param('project') ?? ''
  if (!v.is(ProjectParam, { project })) return detail(404, 'unknown project')
  const url = new URL(c.req.url)
  const envelope = parse(await body(c))
  const key = sentryKey(url.searchParams, c.req.header('x-sentry-auth'), envelope.header)
  if (!key) return detail(401, 'missing authorization information')
  const tenant = tenantOfKey(key)
  if (!tenant) return detail(401, 'invalid api key')
  const now = Date.now()
  const batch: IngestBatch = { events: [], transactions: 0, sessions: 0 }
  for (const item of envelope.items) {
    if (item.type === 'event') batch.events.push(normalizeEvent(item.payload, ERRORS_LIMITS, now))
    else if (item.type === 'transaction') batch.transactions++
    else batch.sessions++
  }
  const result = await errorProject(c.env, tenant, project).ingest(key, batch)
  if (!result.ok && result.reason === 'unknown_key') return detail(403, 'invalid api key for this project')
  if (!result.ok) {
    const retry = String(result.retryAfterSeconds)
    return detail(429, 'event rate limit exceeded', {
      'retry-after': retry,
      'x-sentry-rate-limits': `${retry}::key:rate_limited`,
    })
  }
  const id = result.ids[0] ?? envelope.header.event_id ?? null
  return c.json({ id: typeof id === 'string' ? id.replaceAll('-', '') : null }, 200, CORS)
}

const envelopeSpec = describe({
  wire: 'sentry',
  auth: 'public',
  tags,
  summary: 'Sentry envelope ingest (events, transactions, sessions)',
  description:
    'The endpoint of a DSN `https://<publicKey>@<host>/<project>`. Auth: `?sentry_key=<publicKey>` or ' +
    '`X-Sentry-Auth: Sentry sentry_key=<publicKey>, sentry_version=7`. Any content type (browsers send ' +
    '`text/plain`); `Content-Encoding: gzip` accepted. Errors are `{"detail": "…"}`; a malformed envelope is ' +
    "a 400 and stores nothing; over the project's events per minute, 429 with `Retry-After` and `X-Sentry-Rate-Limits`.",
  responses: { 200: { description: 'Accepted: `{"id": "<event id>"}`' } },
  problems: [400, 401, 403, 413, 429],
})

const preflight = (c: Context) => c.body(null, 204, CORS)

function sentryEnvelope(c: Context<{ Bindings: Env }>) {
  return ingest(c, (b) => parseEnvelope(b, ERRORS_LIMITS.maxItemsPerEnvelope))
}

function sentryStore(c: Context<{ Bindings: Env }>) {
  return ingest(c, parseStoreBody)
}

export const sentryIngestRoutes = new Hono<{ Bindings: Env }>()
  .onError(sentryError)
  .options('/:project/envelope/', preflight)
  .options('/:project/store/', preflight)
  // SDKs post to the trailing-slash paths; the documented paths (OpenAPI's convention) leave it off
  .post('/:project/envelope/', sentryEnvelope)
  .post('/:project/store/', sentryStore)
  .post('/:project/envelope', envelopeSpec, sentryEnvelope)
  .post(
    '/:project/store',
    describe({
      wire: 'sentry',
      auth: 'public',
      tags,
      summary: 'Sentry legacy store endpoint (one event as JSON)',
      description: 'As the envelope endpoint, with the event JSON as the whole body.',
      responses: { 200: { description: 'Accepted: `{"id": "<event id>"}`' } },
      problems: [400, 401, 403, 413, 429],
    }),
    sentryStore,
  )

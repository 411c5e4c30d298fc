/**
 * Prometheus's wires under `/v1/monitoring/prometheus`: remote-write 1.0 at `/api/v1/write`,
 * the HTTP query API (`/api/v1/query`, `query_range`, `series`, `labels`,
 * `label/{name}/values`, GET or form POST; `metadata`, `targets`, `rules`, `alerts`) with
 * Prometheus's JSON answers and its error shape
 * `{"status":"error","errorType","error"}`, and pushgateway-style text pushes at
 * `/metrics/job/{job}{/label/value}`. Auth: `Authorization: Bearer <token>`, or Basic auth
 * with the token as password (`monitoring:write` to write, `monitoring:read` to query).
 */
import { type Context, Hono } from 'hono'
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import { type AuthEnv, authenticate, requireScope } from '../platform/auth/middleware'
import { asAppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { parseExposition } from './exposition'
import { writeRefusal, writeSeries } from './ingest'
import { expositionMetadata } from './metadata'
import { PromQLError } from './promql/parser'
import { instantQuery, labelSets, parseStep, parseTime, rangeQuery } from './query'
import { decodeRemoteWrite } from './remote-write'
import { rulesObject } from './rules/object'
import { scrapesObject } from './scrape/object'
import { prometheusTargets } from './scrape/scrape'
import { type Labels, SampleError, type Series } from './series'
import { staleMarkers } from './sources'

const tags = ['monitoring (Prometheus API)']

/** Any failure in Prometheus's error shape. */
function promError(error: unknown): Response {
  if (error instanceof PromQLError) {
    const status = error.errorType === 'execution' ? 422 : 400
    return Response.json({ status: 'error', errorType: error.errorType, error: error.message }, { status })
  }
  if (error instanceof SampleError) {
    return Response.json(
      { status: 'error', errorType: 'bad_data', error: error.message },
      { status: error.status },
    )
  }
  const app = asAppError(error)
  if (app.status >= 500)
    console.error(JSON.stringify({ level: 'error', block: 'monitoring', error: String(error) }))
  return Response.json(
    { status: 'error', errorType: app.status >= 500 ? 'internal' : 'bad_data', error: app.detail },
    { status: app.status, headers: app.headers },
  )
}

/** Query parameters from the URL and, for POST, a form body (as Prometheus accepts both). */
async function params(c: Context<AuthEnv>): Promise<URLSearchParams> {
  const out = new URL(c.req.url).searchParams
  if (
    c.req.method === 'POST' &&
    (c.req.header('content-type') ?? '').includes('application/x-www-form-urlencoded')
  ) {
    for (const [k, v] of new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer())))
      out.append(k, v)
  }
  return out
}

/** Writes decoded series: 204 when all were stored, else the refusal (the rest stays stored). */
async function store(c: Context<AuthEnv>, series: Series[]): Promise<Response> {
  const refusal = writeRefusal(await writeSeries(c.env, tenantOf(c), series))
  if (refusal) throw refusal
  return new Response(null, { status: 204 })
}

const ok = (data: unknown) => Response.json({ status: 'success', data })

type Handler = (c: Context<AuthEnv>, p: URLSearchParams) => Promise<unknown>

function readRoute(summary: string, handler: Handler) {
  return [
    describe({
      wire: 'prometheus',
      tags,
      summary,
      scope: 'monitoring:read',
      responses: { 200: { description: 'Prometheus API answer' } },
    }),
    requireScope('monitoring:read'),
    async (c: Context<AuthEnv>) => {
      try {
        return ok(await handler(c, await params(c)))
      } catch (error) {
        return promError(error)
      }
    },
  ] as const
}

const query: Handler = (c, p) =>
  instantQuery(
    c.env,
    tenantOf(c),
    p.get('query') ?? undefined,
    parseTime(p.get('time') ?? undefined, 'time', Date.now()),
  )
const queryRange: Handler = (c, p) =>
  rangeQuery(
    c.env,
    tenantOf(c),
    p.get('query') ?? undefined,
    parseTime(p.get('start') ?? undefined, 'start'),
    parseTime(p.get('end') ?? undefined, 'end'),
    parseStep(p.get('step') ?? undefined),
  )
/** The `start`/`end` window of the metadata endpoints; none when both are absent (all time). */
function window(p: URLSearchParams): { from: number; to: number } | undefined {
  const start = p.get('start') ?? undefined
  const end = p.get('end') ?? undefined
  if (start === undefined && end === undefined) return undefined
  const from = parseTime(start, 'start', Number.MIN_SAFE_INTEGER)
  const to = parseTime(end, 'end', Number.MAX_SAFE_INTEGER)
  if (to < from) throw new PromQLError('end timestamp must not be before start time')
  return { from, to }
}
const series: Handler = async (c, p) => {
  const match = p.getAll('match[]')
  if (match.length === 0) throw new PromQLError('no match[] parameter provided')
  return labelSets(c.env, tenantOf(c), match, window(p))
}
const labels: Handler = async (c, p) => {
  const names = new Set<string>()
  for (const set of await labelSets(c.env, tenantOf(c), p.getAll('match[]'), window(p)))
    for (const k of Object.keys(set)) names.add(k)
  return [...names].sort()
}
const rules: Handler = async (c, p) => {
  const type = p.get('type') ?? undefined
  if (type !== undefined && type !== 'alert' && type !== 'record')
    throw new PromQLError(`invalid parameter "type": ${type}`)
  return rulesObject(c.env, tenantOf(c)).rules(type)
}
const alerts: Handler = (c) => rulesObject(c.env, tenantOf(c)).activeAlerts()
/** An integer parameter; -1 (no limit) when absent, as in Prometheus. */
function limitParam(p: URLSearchParams, name: string): number {
  const text = p.get(name)
  if (text === null || text === '') return -1
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new PromQLError(`invalid parameter "${name}": ${text}`)
  return value
}
const metadata: Handler = (c, p) =>
  scrapesObject(c.env, tenantOf(c)).metadata(
    p.get('metric') || undefined,
    limitParam(p, 'limit'),
    limitParam(p, 'limit_per_metric'),
  )
const targets: Handler = async (c, p) => {
  const state = p.get('state') ?? 'any'
  if (!['active', 'dropped', 'any'].includes(state))
    throw new PromQLError(`invalid parameter "state": ${state}`)
  const active =
    state === 'dropped' ? [] : prometheusTargets(await scrapesObject(c.env, tenantOf(c)).listJobs())
  const pool = p.get('scrapePool')
  return { activeTargets: pool ? active.filter((t) => t.scrapePool === pool) : active, droppedTargets: [] }
}
const labelValues: Handler = async (c, p) => {
  const name = c.req.param('name') as string
  const values = new Set<string>()
  for (const set of await labelSets(c.env, tenantOf(c), p.getAll('match[]'), window(p))) {
    const value = set[name]
    if (value !== undefined) values.add(value)
  }
  return [...values].sort()
}

/**
 * A push's grouping labels from its path, `job/<job>{/label/value}` after `/metrics/`, where
 * `label@base64/<base64url>` (`job@base64` too) carries a value that holds a `/` or is empty
 * (pushgateway's rule). Path parameters arrive percent-decoded. Throws `SampleError` on a bad
 * pair.
 */
export function groupingLabels(path: string): Labels {
  const grouping: Labels = {}
  const parts = path.split('/').filter((p) => p !== '')
  if (parts.length % 2 !== 0) throw new SampleError('grouping labels must be /label/value pairs')
  for (let i = 0; i < parts.length; i += 2) {
    const name = parts[i] as string
    const raw = parts[i + 1] as string
    if (!name.endsWith('@base64')) {
      grouping[name] = raw
      continue
    }
    const text = raw.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')
    try {
      grouping[name.slice(0, -7)] = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0)),
      )
    } catch {
      throw new SampleError(`invalid base64 value for grouping label ${name.slice(0, -7)}`)
    }
  }
  if (!grouping.job) throw new SampleError('a push needs a non-empty job')
  return grouping
}

const pushSpec = () =>
  describe({
    wire: 'prometheus',
    tags,
    summary: 'Push samples in the text exposition format (pushgateway style)',
    description:
      'The body is the Prometheus text format 0.0.4; `job` and the `/label/value` pairs of the path label ' +
      'every series (`/label@base64/<base64url>`, and `/metrics/job@base64/<base64url>`, for a value with ' +
      'a `/`; `=` for an empty one). Samples without a timestamp take the time of the push. As in the ' +
      "pushgateway, PUT replaces all of the group's series and POST those with the pushed metric names: " +
      'the series a push drops go stale (queries stop finding them at once); every push also sets the ' +
      "group's `push_time_seconds`.",
    scope: 'monitoring:write',
    responses: { 204: { description: 'Stored' } },
    problems: [413],
  })

const deleteGroupSpec = () =>
  describe({
    wire: 'prometheus',
    tags,
    summary: 'Delete a pushgateway group',
    description:
      "The group's series, as its pushes left them, go stale: queries stop finding them at once. Their " +
      'samples stay until retention removes them. 202 even when no such group was pushed, as in the pushgateway.',
    scope: 'monitoring:write',
    responses: { 202: { description: 'Deleted' } },
  })

/** A push route's grouping labels; `jobLabel` is `job` or `job@base64`, as the route's path has it. */
function groupingOf(c: Context<AuthEnv>, jobLabel: 'job' | 'job@base64'): Labels {
  return groupingLabels(`${jobLabel}/${c.req.param('job')}/${c.req.param('grouping') ?? ''}`)
}

/** The push handler: stores the samples and marks stale what the push dropped from its group. */
function pushHandler(jobLabel: 'job' | 'job@base64') {
  return async function push(c: Context<AuthEnv>) {
    try {
      const grouping = groupingOf(c, jobLabel)
      const now = Date.now()
      const text = new TextDecoder().decode(await c.req.arrayBuffer())
      // As the pushgateway does, each push also sets its group's push_time_seconds.
      const series = [
        ...parseExposition(text, now, grouping),
        { labels: { ...grouping, __name__: 'push_time_seconds' }, times: [now], values: [now / 1000] },
      ]
      const metadata = expositionMetadata(text)
      if (metadata.length > 0) await scrapesObject(c.env, tenantOf(c)).recordMetadata(metadata)
      const dropped = await scrapesObject(c.env, tenantOf(c)).replacePushGroup(
        grouping,
        series.map((s) => s.labels),
        c.req.method === 'PUT' ? 'PUT' : 'POST',
      )
      return await store(c, [...series, ...staleMarkers(dropped, now)])
    } catch (error) {
      return promError(error)
    }
  }
}

function deleteGroupHandler(jobLabel: 'job' | 'job@base64') {
  return async function deleteGroup(c: Context<AuthEnv>) {
    try {
      const grouping = groupingOf(c, jobLabel)
      const dropped = await scrapesObject(c.env, tenantOf(c)).deletePushGroup(grouping)
      await writeSeries(c.env, tenantOf(c), staleMarkers(dropped, Date.now()))
      return new Response(null, { status: 202 })
    } catch (error) {
      return promError(error)
    }
  }
}

export const prometheusRoutes = new Hono<AuthEnv>()
  // Prometheus tooling often only speaks Basic auth (`remote_write.basic_auth`, promtool's
  // `http://user:<token>@host`): the password is then the platform token.
  .use(async function basicAuthToken(c, next) {
    const header = c.req.header('authorization') ?? ''
    if (/^basic /i.test(header)) {
      let decoded = ''
      try {
        decoded = atob(header.slice(6).trim())
      } catch {
        decoded = ''
      }
      const password = decoded.slice(decoded.indexOf(':') + 1)
      c.set('principal', await authenticate(c.env, `Bearer ${password}`))
    }
    await next()
  })
  .post(
    '/api/v1/write',
    describe({
      wire: 'prometheus',
      tags,
      summary: 'Prometheus remote-write 1.0',
      description:
        'A snappy-compressed protobuf `prometheus.WriteRequest` (`Content-Type: application/x-protobuf`, ' +
        '`Content-Encoding: snappy`). 204 when stored; 400 (not retried by Prometheus) for malformed bodies, ' +
        'samples outside the out-of-order window or series over the tenant limit (the rest is stored).',
      scope: 'monitoring:write',
      responses: { 204: { description: 'Stored' } },
      problems: [413],
    }),
    requireScope('monitoring:write'),
    async function remoteWrite(c) {
      try {
        const body = new Uint8Array(await c.req.arrayBuffer())
        const request = decodeRemoteWrite(body, MONITORING_LIMITS.maxDecodedBytes)
        // Prometheus sends metadata in requests of their own, every minute.
        if (request.metadata.length > 0)
          await scrapesObject(c.env, tenantOf(c)).recordMetadata(request.metadata)
        return await store(c, request.series)
      } catch (error) {
        return promError(error)
      }
    },
  )
  .on(['GET', 'POST'], '/api/v1/query', ...readRoute('Instant PromQL query', query))
  .on(['GET', 'POST'], '/api/v1/query_range', ...readRoute('Range PromQL query', queryRange))
  .on(['GET', 'POST'], '/api/v1/series', ...readRoute('Series matching selectors', series))
  .on(['GET', 'POST'], '/api/v1/labels', ...readRoute('Label names', labels))
  .get('/api/v1/label/:name/values', ...readRoute('Values of one label', labelValues))
  .get('/api/v1/metadata', ...readRoute('Metric metadata: type, help and unit per metric', metadata))
  .get('/api/v1/targets', ...readRoute("The scrape jobs' targets with their health", targets))
  .get('/api/v1/rules', ...readRoute('Rule groups with their rules, health and alerts', rules))
  .get('/api/v1/alerts', ...readRoute('Pending and firing alerts', alerts))
  .on(
    ['PUT', 'POST'],
    '/metrics/job/:job/:grouping{.*}?',
    pushSpec(),
    requireScope('monitoring:write'),
    pushHandler('job'),
  )
  .on(
    ['PUT', 'POST'],
    '/metrics/job@base64/:job/:grouping{.*}?',
    pushSpec(),
    requireScope('monitoring:write'),
    pushHandler('job@base64'),
  )
  .delete(
    '/metrics/job/:job/:grouping{.*}?',
    deleteGroupSpec(),
    requireScope('monitoring:write'),
    deleteGroupHandler('job'),
  )
  .delete(
    '/metrics/job@base64/:job/:grouping{.*}?',
    deleteGroupSpec(),
    requireScope('monitoring:write'),
    deleteGroupHandler('job@base64'),
  )

/**
 * `/v1/monitoring`: the tenant's storage stats, retention and series limit, rules (rules/routes.ts), scrape
 * jobs (scrape/routes.ts), Prometheus's wires under `/prometheus` (remote-write, the query
 * API, text pushes; see prometheus-routes.ts) and OTLP/HTTP metrics under
 * `/otlp/v1/metrics` (otlp/routes.ts), and the dashboard page at `/dashboard`.
 */
import { Hono } from 'hono'
import {
  MetricStats,
  MONITORING_LIMITS,
  RETENTION_BOUNDS,
  RetentionInput,
  RetentionView,
  SeriesLimitInput,
  SeriesLimitView,
} from '../../schemas/monitoring'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { DASHBOARD_HTML } from './dashboard/page'
import { errorRoutes } from './errors/routes'
import { otlpMetricsRoutes } from './otlp/routes'
import { prometheusRoutes } from './prometheus-routes'
import { parseDuration } from './promql/parser'
import type { Retention } from './rollup-store'
import { rulesRoutes } from './rules/routes'
import { scrapeRoutes } from './scrape/routes'
import { metricShard } from './shard-object'

const tags = ['monitoring']

const UNITS: Array<[string, number]> = [
  ['y', 365 * 86_400_000],
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]
const formatDuration = (ms: number) => {
  const [unit, size] = UNITS.find(([, size]) => ms % size === 0) ?? ['ms', 1]
  return `${ms / size}${unit}`
}

function retentionView(r: Retention) {
  return {
    raw: formatDuration(r.rawMs),
    rollup1m: formatDuration(r.minuteMs),
    rollup1h: formatDuration(r.hourMs),
    rawSeconds: r.rawMs / 1000,
    rollup1mSeconds: r.minuteMs / 1000,
    rollup1hSeconds: r.hourMs / 1000,
  }
}

const shards = (env: Env, tenant: string) =>
  Array.from({ length: MONITORING_LIMITS.shards }, (_, shard) => metricShard(env, tenant, shard))

async function limitView(env: Env, tenant: string) {
  const [maxSeries, stats] = await Promise.all([
    metricShard(env, tenant, 0).seriesLimit(),
    Promise.all(shards(env, tenant).map((s) => s.stats())),
  ])
  return {
    maxSeries,
    shards: MONITORING_LIMITS.shards,
    series: stats.reduce((a, s) => a + s.series, 0),
  }
}

/** The page loads nothing from elsewhere and talks only to this origin. */
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; " +
  "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export const monitoringRoutes = new Hono<AuthEnv>()
  .get(
    '/dashboard',
    describe({
      tags,
      summary: 'A dashboard page: PromQL charts, alerts and top error issues',
      description:
        'A self-contained HTML page (no external assets). It asks for a token (kept in the browser) and calls ' +
        'the query, alerts and error issue APIs with it; the page itself needs none.',
      responses: { 200: { description: 'The page', mediaType: 'text/html' } },
    }),
    function dashboard(c) {
      return c.html(DASHBOARD_HTML, 200, {
        'content-security-policy': DASHBOARD_CSP,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      })
    },
  )
  .get(
    '/stats',
    describe({
      tags,
      summary: "The tenant's series and stored bytes per sample",
      description:
        'Sealed samples are Gorilla-compressed chunks; head samples are the recent ones not yet sealed.',
      scope: 'monitoring:read',
      responses: { 200: { description: 'Storage stats', schema: MetricStats } },
    }),
    requireScope('monitoring:read'),
    async function stats(c) {
      const tenant = tenantOf(c)
      const all = await Promise.all(shards(c.env, tenant).map((s) => s.stats()))
      const sum = (f: (s: (typeof all)[number]) => number) => all.reduce((a, s) => a + f(s), 0)
      const sealedSamples = sum((s) => s.chunkSamples)
      const sealedBytes = sum((s) => s.chunkBytes)
      return c.json({
        series: sum((s) => s.series),
        sealedSamples,
        sealedBytes,
        bytesPerSample: sealedSamples > 0 ? sealedBytes / sealedSamples : null,
        headSamples: sum((s) => s.headSamples),
        minuteBuckets: sum((s) => s.minuteBuckets),
        hourBuckets: sum((s) => s.hourBuckets),
      })
    },
  )
  .get(
    '/retention',
    describe({
      tags,
      summary: 'How long raw samples and 1m / 1h rollups are kept',
      description: 'Counted back from the newest sample stored (as Prometheus counts TSDB retention).',
      scope: 'monitoring:read',
      responses: { 200: { description: 'Retention', schema: RetentionView } },
    }),
    requireScope('monitoring:read'),
    async function getRetention(c) {
      return c.json(retentionView(await metricShard(c.env, tenantOf(c), 0).retention()))
    },
  )
  .put(
    '/retention',
    describe({
      tags,
      summary: 'Set the retention of raw samples and of each rollup resolution',
      description:
        'Durations such as `15d`, `90d`, `2y` (each between 1h and 10y); omitted ones keep their value. ' +
        'Defaults: raw 15d, 1m rollups 90d, 1h rollups 2y. Applied by each shard on its next rollup pass.',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Retention', schema: RetentionView } },
    }),
    requireScope('monitoring:write'),
    validate('json', RetentionInput),
    async function putRetention(c) {
      const input = c.req.valid('json')
      const tenant = tenantOf(c)
      const current = await metricShard(c.env, tenant, 0).retention()
      const next: Retention = {
        rawMs: input.raw ? parseDuration(input.raw) : current.rawMs,
        minuteMs: input.rollup1m ? parseDuration(input.rollup1m) : current.minuteMs,
        hourMs: input.rollup1h ? parseDuration(input.rollup1h) : current.hourMs,
      }
      const errors = Object.entries({ raw: next.rawMs, rollup1m: next.minuteMs, rollup1h: next.hourMs })
        .filter(([, ms]) => ms < RETENTION_BOUNDS.minMs || ms > RETENTION_BOUNDS.maxMs)
        .map(([field]) => ({ path: `body/${field}`, message: 'Between 1h and 10y' }))
      if (errors.length > 0)
        throw new AppError('validation_failed', 'The request body is invalid.', { errors })
      await Promise.all(shards(c.env, tenant).map((s) => s.setRetention(next)))
      return c.json(retentionView(next))
    },
  )
  .get(
    '/limits',
    describe({
      tags,
      summary: "The tenant's series limit (cardinality) and its series count",
      scope: 'monitoring:read',
      responses: { 200: { description: 'The limit', schema: SeriesLimitView } },
    }),
    requireScope('monitoring:read'),
    async function getLimits(c) {
      return c.json(await limitView(c.env, tenantOf(c)))
    },
  )
  .put(
    '/limits',
    describe({
      tags,
      summary: "Set the tenant's series limit",
      description:
        `\`{maxSeries}\` between 1 and ${MONITORING_LIMITS.maxSeries} (the default), over all the tenant's shards ` +
        'together; writes of new series past it answer 400 (remote-write, pushes) or a partial success (OTLP) ' +
        'naming the limit. Series already stored stay.',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The limit', schema: SeriesLimitView } },
    }),
    requireScope('monitoring:write'),
    validate('json', SeriesLimitInput),
    async function putLimits(c) {
      const { maxSeries } = c.req.valid('json')
      const tenant = tenantOf(c)
      await metricShard(c.env, tenant, 0).setSeriesLimit(maxSeries)
      return c.json(await limitView(c.env, tenant))
    },
  )
  .route('/', rulesRoutes)
  .route('/', errorRoutes)
  .route('/', scrapeRoutes)
  .route('/prometheus', prometheusRoutes)
  .route('/otlp/v1/metrics', otlpMetricsRoutes)

/**
 * `/v1/monitoring`: the tenant's storage stats, and Prometheus's wires under `/prometheus`
 * (remote-write, the query API, text pushes; see prometheus-routes.ts).
 */
import { Hono } from 'hono'
import { MetricStats, MONITORING_LIMITS } from '../../schemas/monitoring'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { prometheusRoutes } from './prometheus-routes'
import { rulesRoutes } from './rules/routes'
import { metricShard } from './shard-object'

const tags = ['monitoring']

export const monitoringRoutes = new Hono<AuthEnv>()
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
      const all = await Promise.all(
        Array.from({ length: MONITORING_LIMITS.shards }, (_, shard) =>
          metricShard(c.env, tenant, shard).stats(),
        ),
      )
      const sum = (f: (s: (typeof all)[number]) => number) => all.reduce((a, s) => a + f(s), 0)
      const sealedSamples = sum((s) => s.chunkSamples)
      const sealedBytes = sum((s) => s.chunkBytes)
      return c.json({
        series: sum((s) => s.series),
        sealedSamples,
        sealedBytes,
        bytesPerSample: sealedSamples > 0 ? sealedBytes / sealedSamples : null,
        headSamples: sum((s) => s.headSamples),
      })
    },
  )
  .route('/', rulesRoutes)
  .route('/prometheus', prometheusRoutes)

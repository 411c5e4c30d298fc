/**
 * The platform's own metrics, served at `/metrics` in the text format 0.0.4: requests by
 * route pattern, method, status code and tenant class (`tenantClass`: four values, so the
 * series count stays bounded whatever the number of tenants), a latency histogram by route
 * pattern, and what
 * workers/platform/runtime-metrics.ts counts (Durable Object calls, libSQL requests,
 * rate-limit denials).
 *
 * These counters live in the memory of one Worker isolate: each isolate counts the requests
 * it served since it started (the `isolate` label tells them apart), so a scraper sees
 * whichever isolate answers, and a restart resets the counters (which `rate()` handles as a
 * counter reset). Cost: one map update per request; memory O(routes × statuses).
 */
import type { MiddlewareHandler } from 'hono'
import type { AuthEnv } from '../platform/auth/auth-env'
import type { Principal } from '../platform/auth/token'
import { readConfig } from '../platform/config'
import {
  LATENCY_BOUNDS,
  type Histogram as RuntimeHistogram,
  runtimeMetrics,
} from '../platform/runtime-metrics'
import { type MetricFamily, renderExposition } from './exposition'
import type { Labels } from './series'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
// Set on the first request: randomness and clocks are not available at global scope.
let isolate: { id: string; started: number } | undefined
function thisIsolate(): { id: string; started: number } {
  isolate ??= { id: crypto.randomUUID().slice(0, 8), started: Date.now() / 1000 }
  return isolate
}

interface Histogram {
  counts: number[]
  sum: number
  count: number
}

/**
 * Who made a request, in four classes: `anonymous` (no valid token), `admin` (a token with
 * the admin scope), `custom` (a tenant with its own gateway limit, GATEWAY_TENANT_OVERRIDES)
 * and `standard` (every other tenant).
 */
export type TenantClass = 'anonymous' | 'admin' | 'custom' | 'standard'

export function tenantClass(
  principal: Principal | undefined,
  overrides: Readonly<Record<string, unknown>>,
): TenantClass {
  if (!principal) return 'anonymous'
  if (principal.scopes.has('admin')) return 'admin'
  return Object.hasOwn(overrides, principal.tenant) ? 'custom' : 'standard'
}

interface RequestCount {
  route: string
  method: string
  code: string
  tenantClass: TenantClass
  count: number
}

const requests = new Map<string, RequestCount>()
const latency = new Map<string, Histogram>()

export function recordRequest(
  route: string,
  method: string,
  status: number,
  seconds: number,
  who: TenantClass = 'anonymous',
): void {
  const code = String(status)
  const key = `${route}\n${method}\n${code}\n${who}`
  const entry = requests.get(key) ?? { route, method, code, tenantClass: who, count: 0 }
  entry.count++
  requests.set(key, entry)
  const h = latency.get(route) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }
  BUCKETS.forEach((bound, i) => {
    if (seconds <= bound) h.counts[i] = (h.counts[i] as number) + 1
  })
  h.sum += seconds
  h.count++
  latency.set(route, h)
}

/** Middleware: times every request and counts it under its route pattern (not the raw path). */
export function platformMetrics(): MiddlewareHandler<AuthEnv> {
  return async function platformMetricsMiddleware(c, next) {
    thisIsolate()
    const started = performance.now()
    try {
      await next()
    } finally {
      const route = c.req.routePath && c.req.routePath !== '/*' ? c.req.routePath : 'unmatched'
      // The principal is set by whichever middleware verified the token (gateway, requireScope).
      const who = tenantClass(c.get('principal'), readConfig(c.env).gatewayTenantOverrides)
      recordRequest(route, c.req.method, c.res.status, (performance.now() - started) / 1000, who)
    }
  }
}

/** This isolate's families, then `blocks` (the blocks' own state, block-metrics.ts). */
export function renderPlatformMetrics(blocks: MetricFamily[] = []): string {
  const { id, started } = thisIsolate()
  const isolate = { isolate: id }
  const families: MetricFamily[] = [
    {
      name: 'edgeblocks_isolate_start_time_seconds',
      help: 'When this Worker isolate started (its counters count from then).',
      type: 'gauge',
      samples: [{ labels: isolate, value: started }],
    },
    {
      name: 'edgeblocks_http_requests_total',
      help: 'HTTP requests served by this isolate, by route pattern, method, status code and tenant class.',
      type: 'counter',
      samples: [...requests.values()].map((r) => ({
        labels: { ...isolate, route: r.route, method: r.method, code: r.code, tenant_class: r.tenantClass },
        value: r.count,
      })),
    },
    {
      name: 'edgeblocks_http_request_duration_seconds',
      help: 'Time to the response of HTTP requests served by this isolate, by route pattern.',
      type: 'histogram',
      samples: [...latency].flatMap(([route, h]) => [
        ...BUCKETS.map((bound, i) => ({
          suffix: '_bucket',
          labels: { ...isolate, route, le: String(bound) },
          value: h.counts[i] as number,
        })),
        { suffix: '_bucket', labels: { ...isolate, route, le: '+Inf' }, value: h.count },
        { suffix: '_sum', labels: { ...isolate, route }, value: h.sum },
        { suffix: '_count', labels: { ...isolate, route }, value: h.count },
      ]),
    },
    ...runtimeFamilies(isolate),
    ...blocks,
  ]
  return renderExposition(families)
}

/** A histogram's samples from non-cumulative counts (runtime-metrics.ts keeps them so). */
export function histogramSamples(
  labels: Labels,
  h: RuntimeHistogram,
  bounds: readonly number[] = LATENCY_BOUNDS,
): MetricFamily['samples'] {
  let cumulative = 0
  return [
    ...bounds.map((bound, i) => {
      cumulative += h.counts[i] as number
      return { suffix: '_bucket', labels: { ...labels, le: String(bound) }, value: cumulative }
    }),
    { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: h.count },
    { suffix: '_sum', labels, value: h.sum },
    { suffix: '_count', labels, value: h.count },
  ]
}

function runtimeFamilies(isolate: Labels): MetricFamily[] {
  const r = runtimeMetrics()
  return [
    {
      name: 'edgeblocks_durable_object_calls_total',
      help: 'Durable Object RPC calls made by this isolate, by object kind and method.',
      type: 'counter',
      samples: r.objectCalls.map((c) => ({
        labels: { ...isolate, kind: c.kind, method: c.method },
        value: c.count,
      })),
    },
    {
      name: 'edgeblocks_durable_object_call_duration_seconds',
      help: 'Time to the answer of Durable Object RPC calls made by this isolate, by object kind.',
      type: 'histogram',
      samples: r.objectLatency.flatMap(([kind, h]) => histogramSamples({ ...isolate, kind }, h)),
    },
    {
      name: 'edgeblocks_libsql_request_duration_seconds',
      help: 'Time to the response headers of libSQL (Hrana) requests to the control plane, by outcome.',
      type: 'histogram',
      samples: r.libsqlLatency.flatMap(([outcome, h]) => histogramSamples({ ...isolate, outcome }, h)),
    },
    {
      name: 'edgeblocks_rate_limit_denials_total',
      help: 'Requests the gateway rate limit denied in this isolate, by key (tenant or client address).',
      type: 'counter',
      samples: r.rateLimitDenials.map(([key, count]) => ({ labels: { ...isolate, key }, value: count })),
    },
  ]
}

/**
 * The platform's own metrics, served at `/metrics` in the text format 0.0.4: requests by
 * route pattern, method and status class, and a latency histogram by route pattern.
 *
 * These counters live in the memory of one Worker isolate: each isolate counts the requests
 * it served since it started (the `isolate` label tells them apart), so a scraper sees
 * whichever isolate answers, and a restart resets the counters (which `rate()` handles as a
 * counter reset). Cost: one map update per request; memory O(routes × statuses).
 */
import type { MiddlewareHandler } from 'hono'
import { type MetricFamily, renderExposition } from './exposition'

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

const requests = new Map<string, { route: string; method: string; code: string; count: number }>()
const latency = new Map<string, Histogram>()

export function recordRequest(route: string, method: string, status: number, seconds: number): void {
  const code = String(status)
  const key = `${route}\n${method}\n${code}`
  const entry = requests.get(key) ?? { route, method, code, count: 0 }
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
export function platformMetrics(): MiddlewareHandler {
  return async function platformMetricsMiddleware(c, next) {
    thisIsolate()
    const started = performance.now()
    try {
      await next()
    } finally {
      const route = c.req.routePath && c.req.routePath !== '/*' ? c.req.routePath : 'unmatched'
      recordRequest(route, c.req.method, c.res.status, (performance.now() - started) / 1000)
    }
  }
}

export function renderPlatformMetrics(): string {
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
      help: 'HTTP requests served by this isolate, by route pattern, method and status code.',
      type: 'counter',
      samples: [...requests.values()].map((r) => ({
        labels: { ...isolate, route: r.route, method: r.method, code: r.code },
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
  ]
  return renderExposition(families)
}

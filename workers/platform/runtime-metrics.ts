/**
 * Counters and histograms the platform keeps about its own work in this isolate's memory,
 * rendered at `/metrics` by the monitoring block (workers/monitoring/platform-metrics.ts):
 * Durable Object calls made through `hostedStub` (by object kind and method, with their
 * latency by kind), libSQL requests to the control plane (latency by outcome) and the
 * gateway's rate-limit denials (by key kind).
 *
 * Like the request metrics, they count from this isolate's start. Cost: one map update per
 * event (a histogram adds a short loop over its bounds); memory O(kinds × methods).
 */

/** Seconds; Prometheus's default histogram bounds. */
export const LATENCY_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface Histogram {
  /** Non-cumulative counts per bound of LATENCY_BOUNDS (values above the last are only in `count`). */
  counts: number[]
  sum: number
  count: number
}

function observe(map: Map<string, Histogram>, key: string, seconds: number): void {
  let h = map.get(key)
  if (!h) {
    h = { counts: LATENCY_BOUNDS.map(() => 0), sum: 0, count: 0 }
    map.set(key, h)
  }
  const i = LATENCY_BOUNDS.findIndex((bound) => seconds <= bound)
  if (i >= 0) h.counts[i] = (h.counts[i] as number) + 1
  h.sum += seconds
  h.count++
}

const objectCalls = new Map<string, number>()
const objectLatency = new Map<string, Histogram>()
const libsqlLatency = new Map<string, Histogram>()
const rateLimitDenials = new Map<string, number>()

/** The kind part of an object name `<tenant>:<kind>:<name>`; `other` for names of another shape. */
export function objectKind(objectName: string): string {
  const kind = objectName.split(':')[1]
  return kind && /^[a-z0-9-]{1,40}$/.test(kind) ? kind : 'other'
}

export function recordObjectCall(kind: string, method: string, seconds: number): void {
  const key = `${kind}\n${method}`
  objectCalls.set(key, (objectCalls.get(key) ?? 0) + 1)
  observe(objectLatency, kind, seconds)
}

export function recordLibsqlRequest(outcome: 'ok' | 'error', seconds: number): void {
  observe(libsqlLatency, outcome, seconds)
}

export function recordRateLimitDenial(key: 'tenant' | 'ip'): void {
  rateLimitDenials.set(key, (rateLimitDenials.get(key) ?? 0) + 1)
}

export function runtimeMetrics() {
  return {
    objectCalls: [...objectCalls].map(([key, count]) => {
      const [kind, method] = key.split('\n') as [string, string]
      return { kind, method, count }
    }),
    objectLatency: [...objectLatency],
    libsqlLatency: [...libsqlLatency],
    rateLimitDenials: [...rateLimitDenials],
  }
}

/**
 * Schemas of the load balancer block (`/v1/lb`): pools of origins with a health monitor,
 * outlier detection and an algorithm; load balancers with ordered pools, a fallback pool,
 * cookie affinity, a retry policy and timeouts. Every bound is here so it shows in OpenAPI;
 * rules across fields (a positive weight somewhere, no origin pointing back into the
 * platform, pools that exist) are checked by the block and answer 400 the same way.
 */
import * as v from 'valibot'
import { ResourceName } from './common'

export const LB_LIMITS = {
  maxOrigins: 64,
  maxPoolsPerBalancer: 8,
  maxWeight: 1000,
  maxRetries: 5,
  maxTimeoutMs: 300_000,
} as const

export const ALGORITHMS = [
  'round_robin',
  'weighted_round_robin',
  'random',
  'least_outstanding',
  'power_of_two',
  'least_response_time',
  'ring_hash',
  'maglev',
] as const
export type Algorithm = (typeof ALGORITHMS)[number]

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))

const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.regex(/^https?:\/\//i, 'An http:// or https:// URL'),
)

export const OriginInput = v.strictObject({
  /** Unique within the pool; the affinity cookie and the health view name it. */
  name: ResourceName,
  /** Where requests go: the request path is appended to this URL's path. */
  url: HttpUrl,
  /** Relative share of traffic, 0–1000 (0 = only when nothing else can serve). */
  weight: v.optional(int(0, LB_LIMITS.maxWeight), 1),
  enabled: v.optional(v.boolean(), true),
  /** Requests in flight to this origin at most (0 = unlimited); over it the origin is skipped. */
  maxRequests: v.optional(int(0, 100_000), 0),
})

const ExpectedCodes = v.pipe(
  v.string(),
  v.maxLength(64),
  v.regex(/^(?:[1-5](?:xx|\d\d))(?:,[1-5](?:xx|\d\d))*$/, 'Codes or classes like "200,3xx"'),
)

export const MonitorInput = v.strictObject({
  method: v.optional(v.picklist(['GET', 'HEAD']), 'GET'),
  path: v.optional(v.pipe(v.string(), v.maxLength(1024), v.startsWith('/')), '/'),
  expectedCodes: v.optional(ExpectedCodes, '2xx'),
  /** A substring the body must contain (GET only). */
  expectedBody: v.optional(v.pipe(v.string(), v.maxLength(256))),
  intervalSeconds: v.optional(int(1, 3600), 15),
  timeoutSeconds: v.optional(int(1, 60), 5),
  /** Consecutive passing checks before an unhealthy origin is healthy again. */
  healthyThreshold: v.optional(int(1, 10), 2),
  /** Consecutive failing checks before a healthy origin is unhealthy. */
  unhealthyThreshold: v.optional(int(1, 10), 3),
})

export const OutlierDetectionInput = v.strictObject({
  /** Consecutive 5xx answers that eject an origin (0 = off). */
  consecutive5xx: v.optional(int(0, 1000), 5),
  /** Consecutive gateway errors (502, 503, 504, connect failure, timeout) that eject (0 = off). */
  consecutiveGatewayErrors: v.optional(int(0, 1000), 3),
  /** Success-rate ejection: origins below mean − factor × stdev (in tenths: 19 = 1.9). 0 = off. */
  successRateStdevFactor: v.optional(int(0, 100), 19),
  /** Requests an origin needs in an interval to be judged by success rate. */
  successRateMinRequests: v.optional(int(1, 100_000), 100),
  /** The success-rate interval and the check of ejection ends. */
  intervalSeconds: v.optional(int(1, 3600), 10),
  /** An ejection lasts base × (times ejected). */
  baseEjectionSeconds: v.optional(int(1, 3600), 30),
  /** At most this share of the pool is ejected at once. */
  maxEjectionPercent: v.optional(int(0, 100), 50),
})

const HashKey = v.strictObject({
  source: v.picklist(['ip', 'header', 'cookie']),
  /** The header or cookie name (not for `ip`). */
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128), v.regex(/^[!#-'*+.0-9A-Z^-z|~-]+$/))),
})

export const CreatePoolRequest = v.strictObject({
  origins: v.pipe(
    v.array(OriginInput),
    v.minLength(1, 'A pool needs at least one origin'),
    v.maxLength(LB_LIMITS.maxOrigins),
  ),
  algorithm: v.optional(v.picklist(ALGORITHMS), 'round_robin'),
  /** The key of `ring_hash` and `maglev` (default: the client IP). */
  hashKey: v.optional(HashKey),
  /** Below this many healthy origins the pool counts as down and the next pool serves. */
  minimumHealthy: v.optional(int(1, LB_LIMITS.maxOrigins), 1),
  /** Below this share of healthy origins, traffic spreads over every enabled origin (panic). */
  panicThresholdPercent: v.optional(int(0, 100), 50),
  /** An origin back from unhealthy ramps its weight up linearly over this window (0 = off). */
  slowStartSeconds: v.optional(int(0, 3600), 0),
  monitor: v.optional(v.nullable(MonitorInput), null),
  outlierDetection: v.optional(OutlierDetectionInput, {}),
})
export type CreatePoolInput = v.InferOutput<typeof CreatePoolRequest>
export type OriginConfig = v.InferOutput<typeof OriginInput>
export type MonitorConfig = v.InferOutput<typeof MonitorInput>
export type OutlierConfig = v.InferOutput<typeof OutlierDetectionInput>

export const RetryInput = v.strictObject({
  /** Retries after the first try (idempotent requests without a body only). */
  attempts: v.optional(int(0, LB_LIMITS.maxRetries), 2),
  /** Envoy's retry budget: retries in flight ≤ this share of requests in flight… */
  budgetPercent: v.optional(int(0, 100), 20),
  /** …but always at least this many. */
  minRetryConcurrency: v.optional(int(0, 1000), 3),
  /** Also retry a 5xx answer (gateway errors and connect failures are always retried). */
  on5xx: v.optional(v.boolean(), true),
})

export const AffinityInput = v.strictObject({
  cookieName: v.optional(
    v.pipe(v.string(), v.minLength(1), v.maxLength(64), v.regex(/^[A-Za-z0-9_-]+$/)),
    'eb_lb',
  ),
  ttlSeconds: v.optional(int(1, 7 * 24 * 3600), 3600),
})

export const CreateBalancerRequest = v.strictObject({
  /** Pools in order of preference: the first that is up serves. */
  pools: v.pipe(
    v.array(ResourceName),
    v.minLength(1, 'At least one pool'),
    v.maxLength(LB_LIMITS.maxPoolsPerBalancer),
  ),
  /** Serves, health ignored, when every pool is down. */
  fallbackPool: v.optional(v.nullable(ResourceName), null),
  affinity: v.optional(v.nullable(AffinityInput), null),
  retries: v.optional(RetryInput, {}),
  /** Time to the origin's response headers per try (the body then streams without limit). */
  perTryTimeoutMs: v.optional(int(1, LB_LIMITS.maxTimeoutMs), 15_000),
})
export type CreateBalancerInput = v.InferOutput<typeof CreateBalancerRequest>

export const PoolParam = v.object({ pool: ResourceName })
export const BalancerParam = v.object({ name: ResourceName })

const Meta = { name: v.string(), version: v.number(), createdAt: v.number(), updatedAt: v.number() }

export const PoolView = v.object({ ...Meta, settings: v.object(CreatePoolRequest.entries) })
export const BalancerView = v.object({ ...Meta, settings: v.object(CreateBalancerRequest.entries) })
export const PoolList = v.object({ items: v.array(PoolView), nextCursor: v.optional(v.string()) })
export const BalancerList = v.object({ items: v.array(BalancerView), nextCursor: v.optional(v.string()) })

export const OriginHealthView = v.object({
  name: v.string(),
  url: v.string(),
  weight: v.number(),
  /** Weight after slow start. */
  effectiveWeight: v.number(),
  enabled: v.boolean(),
  /** What the monitor says (`healthy` without a monitor). */
  health: v.picklist(['healthy', 'unhealthy']),
  /** Ejected by outlier detection until this time (ms), or null. */
  ejectedUntil: v.nullable(v.number()),
  ejections: v.number(),
  outstanding: v.number(),
  ewmaMs: v.nullable(v.number()),
  requests: v.number(),
  failures: v.number(),
})

export const PoolHealthView = v.object({
  pool: v.string(),
  state: v.picklist(['up', 'panic', 'down']),
  healthy: v.number(),
  origins: v.array(OriginHealthView),
  events: v.array(
    v.object({ origin: v.string(), from: v.string(), to: v.string(), reason: v.string(), at: v.number() }),
  ),
})

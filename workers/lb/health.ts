/**
 * Health of a pool's origins, as pure functions over their state (the pool object stores
 * it and calls these with `now`).
 *
 * Guarantees:
 * - Active checks: an origin turns unhealthy after exactly `unhealthyThreshold` consecutive
 *   failed checks and healthy after exactly `healthyThreshold` consecutive passes; every
 *   change is an event with its reason and time.
 * - Outlier detection (Envoy's): `consecutive5xx` 5xx answers, or `consecutiveGatewayErrors`
 *   gateway errors (502/503/504, connect failure, timeout), eject an origin for
 *   base × (times ejected); each interval, origins with at least `successRateMinRequests`
 *   requests and a success rate below mean − factor × stdev are ejected. Never more than
 *   `maxEjectionPercent` of the pool is ejected at once (at least one is always allowed
 *   when the pool has more than one origin and the percentage allows any).
 * - Pool state: `down` below `minimumHealthy` usable origins; `panic` below
 *   `panicThresholdPercent` usable (traffic then spreads over every enabled origin); `up`.
 * - Slow start: an origin back in service ramps its weight linearly from 10% to 100%.
 * - Retry budget (Envoy's): a retry may start while retries in flight < max(minimum,
 *   budget% × requests in flight).
 * Cost: O(N) per call for N origins.
 */
import type { MonitorConfig, OutlierConfig } from '../../schemas/lb'

export interface OriginState {
  name: string
  url: string
  weight: number
  enabled: boolean
  maxRequests: number
  health: 'healthy' | 'unhealthy'
  checkPasses: number
  checkFailures: number
  /** When the origin last came (back) into service; slow start ramps from here. */
  servingSince: number
  ejectedUntil: number | null
  ejections: number
  consecutive5xx: number
  consecutiveGateway: number
  windowRequests: number
  windowFailures: number
  requests: number
  failures: number
  ewmaMs: number | null
  ewmaAt: number
}

export interface HealthEvent {
  origin: string
  from: string
  to: string
  reason: string
  at: number
}

/** What one try at an origin came to. */
export type Outcome =
  | { kind: 'response'; status: number; latencyMs: number }
  | { kind: 'connect_failure' | 'timeout' }

export function isGatewayError(outcome: Outcome): boolean {
  return (
    outcome.kind !== 'response' || outcome.status === 502 || outcome.status === 503 || outcome.status === 504
  )
}

export function isFailure(outcome: Outcome): boolean {
  return outcome.kind !== 'response' || outcome.status >= 500
}

export function newOriginState(
  origin: { name: string; url: string; weight: number; enabled: boolean; maxRequests: number },
  now: number,
): OriginState {
  return {
    ...origin,
    health: 'healthy',
    checkPasses: 0,
    checkFailures: 0,
    servingSince: 0,
    ejectedUntil: null,
    ejections: 0,
    consecutive5xx: 0,
    consecutiveGateway: 0,
    windowRequests: 0,
    windowFailures: 0,
    requests: 0,
    failures: 0,
    ewmaMs: null,
    ewmaAt: now,
  }
}

export function isUsable(origin: OriginState, now: number): boolean {
  return (
    origin.enabled &&
    origin.health === 'healthy' &&
    (origin.ejectedUntil === null || origin.ejectedUntil <= now)
  )
}

function mayEject(origins: readonly OriginState[], now: number, maxPercent: number): boolean {
  const ejected = origins.filter((o) => o.ejectedUntil !== null && o.ejectedUntil > now).length
  const allowed = Math.max(
    maxPercent > 0 && origins.length > 1 ? 1 : 0,
    Math.floor((origins.length * maxPercent) / 100),
  )
  return ejected < allowed
}

function eject(origin: OriginState, config: OutlierConfig, now: number, reason: string): HealthEvent {
  origin.ejections++
  origin.ejectedUntil = now + config.baseEjectionSeconds * 1000 * origin.ejections
  origin.consecutive5xx = 0
  origin.consecutiveGateway = 0
  return { origin: origin.name, from: 'serving', to: 'ejected', reason, at: now }
}

/** Counts one outcome of real traffic; may eject the origin (mutates `origins`). */
export function observe(
  origins: OriginState[],
  name: string,
  outcome: Outcome,
  config: OutlierConfig,
  now: number,
): HealthEvent | undefined {
  const origin = origins.find((o) => o.name === name)
  if (!origin) return undefined
  origin.requests++
  origin.windowRequests++
  if (!isFailure(outcome)) {
    origin.consecutive5xx = 0
    origin.consecutiveGateway = 0
    return undefined
  }
  origin.failures++
  origin.windowFailures++
  origin.consecutive5xx++
  origin.consecutiveGateway = isGatewayError(outcome) ? origin.consecutiveGateway + 1 : 0
  if (origin.ejectedUntil !== null && origin.ejectedUntil > now) return undefined
  const by5xx = config.consecutive5xx > 0 && origin.consecutive5xx >= config.consecutive5xx
  const byGateway =
    config.consecutiveGatewayErrors > 0 && origin.consecutiveGateway >= config.consecutiveGatewayErrors
  if (!(by5xx || byGateway) || !mayEject(origins, now, config.maxEjectionPercent)) return undefined
  const reason = byGateway
    ? `${origin.consecutiveGateway} consecutive gateway errors`
    : `${origin.consecutive5xx} consecutive 5xx answers`
  return eject(origin, config, now, reason)
}

/** The interval sweep: success-rate ejection, ejection ends (slow start begins), window reset. */
export function sweep(origins: OriginState[], config: OutlierConfig, now: number): HealthEvent[] {
  const events: HealthEvent[] = []
  for (const origin of origins) {
    if (origin.ejectedUntil !== null && origin.ejectedUntil <= now) {
      origin.ejectedUntil = null
      origin.servingSince = now
      events.push({
        origin: origin.name,
        from: 'ejected',
        to: 'serving',
        reason: 'ejection time over',
        at: now,
      })
    }
  }
  const judged = origins.filter((o) => o.windowRequests >= config.successRateMinRequests && isUsable(o, now))
  if (config.successRateStdevFactor > 0 && judged.length >= 2) {
    const rates = judged.map((o) => 1 - o.windowFailures / o.windowRequests)
    const mean = rates.reduce((s, r) => s + r, 0) / rates.length
    const stdev = Math.sqrt(rates.reduce((s, r) => s + (r - mean) ** 2, 0) / rates.length)
    const floor = mean - (config.successRateStdevFactor / 10) * stdev
    judged.forEach((origin, i) => {
      const rate = rates[i] ?? 1
      if (rate < floor && mayEject(origins, now, config.maxEjectionPercent)) {
        events.push(
          eject(
            origin,
            config,
            now,
            `success rate ${(rate * 100).toFixed(1)}% below ${(floor * 100).toFixed(1)}%`,
          ),
        )
      }
    })
  }
  for (const origin of origins) {
    origin.windowRequests = 0
    origin.windowFailures = 0
  }
  return events
}

/** `"200,3xx"` contains `status`? */
export function codeMatches(status: number, expected: string): boolean {
  return expected.split(',').some((code) => {
    const text = String(status)
    return code.endsWith('xx') ? text[0] === code[0] : text === code
  })
}

/** Counts one active check; flips health at the thresholds. */
export function checked(
  origin: OriginState,
  passed: boolean,
  detail: string,
  monitor: MonitorConfig,
  now: number,
): HealthEvent | undefined {
  if (passed) {
    origin.checkPasses++
    origin.checkFailures = 0
    if (origin.health === 'unhealthy' && origin.checkPasses >= monitor.healthyThreshold) {
      origin.health = 'healthy'
      origin.servingSince = now
      origin.ejectedUntil = null
      return {
        origin: origin.name,
        from: 'unhealthy',
        to: 'healthy',
        reason: `${origin.checkPasses} checks passed`,
        at: now,
      }
    }
    return undefined
  }
  origin.checkFailures++
  origin.checkPasses = 0
  if (origin.health === 'healthy' && origin.checkFailures >= monitor.unhealthyThreshold) {
    origin.health = 'unhealthy'
    return { origin: origin.name, from: 'healthy', to: 'unhealthy', reason: detail, at: now }
  }
  return undefined
}

export const SLOW_START_MIN_FACTOR = 0.1

export function effectiveWeight(origin: OriginState, slowStartMs: number, now: number): number {
  const age = now - origin.servingSince
  if (slowStartMs <= 0 || origin.servingSince === 0 || age >= slowStartMs) return origin.weight
  return origin.weight * Math.max(SLOW_START_MIN_FACTOR, age / slowStartMs)
}

export type PoolMode = 'up' | 'panic' | 'down'

/** The pool's mode and the origins it may pick from (weight 0 only when nothing else can). */
export function servingSet(
  origins: readonly OriginState[],
  settings: { minimumHealthy: number; panicThresholdPercent: number },
  now: number,
): { mode: PoolMode; usable: OriginState[]; healthy: number } {
  const enabled = origins.filter((o) => o.enabled)
  const usable = enabled.filter((o) => isUsable(o, now))
  const healthy = usable.length
  if (healthy < settings.minimumHealthy) return { mode: 'down', usable: enabled, healthy }
  if (enabled.length > 0 && (healthy * 100) / enabled.length < settings.panicThresholdPercent) {
    return { mode: 'panic', usable: enabled, healthy }
  }
  return { mode: 'up', usable, healthy }
}

export function retryAllowed(
  activeRequests: number,
  activeRetries: number,
  budget: { budgetPercent: number; minRetryConcurrency: number },
): boolean {
  return activeRetries < Math.max(budget.minRetryConcurrency, (activeRequests * budget.budgetPercent) / 100)
}

/** The pool's live state as the health endpoint shows it (no events). */
export function originsView(
  origins: readonly OriginState[],
  settings: { minimumHealthy: number; panicThresholdPercent: number; slowStartSeconds: number } | undefined,
  outstanding: ReadonlyMap<string, number>,
  now: number,
) {
  const { mode, healthy } = settings
    ? servingSet(origins, settings, now)
    : { mode: 'down' as const, healthy: 0 }
  return {
    state: mode,
    healthy,
    origins: origins.map((o) => ({
      name: o.name,
      url: o.url,
      weight: o.weight,
      effectiveWeight: effectiveWeight(o, (settings?.slowStartSeconds ?? 0) * 1000, now),
      enabled: o.enabled,
      health: o.health,
      ejectedUntil: o.ejectedUntil !== null && o.ejectedUntil > now ? o.ejectedUntil : null,
      ejections: o.ejections,
      outstanding: outstanding.get(o.name) ?? 0,
      ewmaMs: o.ewmaMs,
      requests: o.requests,
      failures: o.failures,
    })),
  }
}

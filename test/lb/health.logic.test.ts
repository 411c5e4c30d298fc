// Health logic: monitor thresholds, outlier ejection and its cap, success-rate sweep, panic, slow start, retry budget.
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { MonitorInput, OutlierDetectionInput } from '../../schemas/lb'
import {
  checked,
  codeMatches,
  effectiveWeight,
  newOriginState,
  type OriginState,
  observe,
  retryAllowed,
  servingSet,
  sweep,
} from '../../workers/lb/health'

const outlier = v.parse(OutlierDetectionInput, {})
const monitor = v.parse(MonitorInput, { healthyThreshold: 2, unhealthyThreshold: 3 })

function origins(n: number): OriginState[] {
  return Array.from({ length: n }, (_, i) =>
    newOriginState(
      { name: `o${i}`, url: `http://127.0.0.1:${1000 + i}`, weight: 1, enabled: true, maxRequests: 0 },
      0,
    ),
  )
}

describe('active monitor thresholds', () => {
  it('turns unhealthy after exactly unhealthyThreshold failures and healthy after healthyThreshold passes', () => {
    const [o] = origins(1) as [OriginState]
    expect(checked(o, false, 'down', monitor, 1)).toBeUndefined()
    expect(checked(o, false, 'down', monitor, 2)).toBeUndefined()
    expect(checked(o, false, 'monitor: status 500', monitor, 3)).toMatchObject({
      from: 'healthy',
      to: 'unhealthy',
      reason: 'monitor: status 500',
      at: 3,
    })
    expect(o.health).toBe('unhealthy')
    expect(checked(o, true, 'ok', monitor, 4)).toBeUndefined()
    expect(checked(o, false, 'down', monitor, 5)).toBeUndefined()
    expect(checked(o, true, 'ok', monitor, 6)).toBeUndefined()
    expect(checked(o, true, 'ok', monitor, 7)).toMatchObject({ to: 'healthy', at: 7 })
    expect(o.servingSince).toBe(7)
  })

  it('matches expected codes and classes', () => {
    expect(codeMatches(204, '2xx')).toBe(true)
    expect(codeMatches(301, '200,3xx')).toBe(true)
    expect(codeMatches(404, '200,3xx')).toBe(false)
  })
})

describe('outlier detection', () => {
  it('ejects after consecutive gateway errors for base × times ejected; a success resets the count', () => {
    const list = origins(4)
    const gateway = { kind: 'connect_failure' } as const
    observe(list, 'o0', gateway, outlier, 0)
    observe(list, 'o0', gateway, outlier, 0)
    observe(list, 'o0', { kind: 'response', status: 200, latencyMs: 1 }, outlier, 0)
    observe(list, 'o0', gateway, outlier, 0)
    observe(list, 'o0', gateway, outlier, 0)
    const event = observe(list, 'o0', gateway, outlier, 10)
    expect(event).toMatchObject({ origin: 'o0', to: 'ejected', reason: '3 consecutive gateway errors' })
    expect(list[0]?.ejectedUntil).toBe(10 + 30_000)
    // Ends in the sweep; a second ejection lasts twice as long.
    expect(sweep(list, outlier, 30_010)[0]).toMatchObject({ origin: 'o0', to: 'serving' })
    for (let i = 0; i < 3; i++) observe(list, 'o0', gateway, outlier, 40_000)
    expect(list[0]?.ejectedUntil).toBe(40_000 + 60_000)
  })

  it('ejects after consecutive 5xx answers', () => {
    const list = origins(2)
    for (let i = 0; i < 4; i++)
      expect(observe(list, 'o1', { kind: 'response', status: 500, latencyMs: 1 }, outlier, 0)).toBeUndefined()
    expect(observe(list, 'o1', { kind: 'response', status: 500, latencyMs: 1 }, outlier, 0)?.reason).toBe(
      '5 consecutive 5xx answers',
    )
  })

  it('never ejects more than maxEjectionPercent of the pool', () => {
    const list = origins(4)
    for (const o of list) for (let i = 0; i < 3; i++) observe(list, o.name, { kind: 'timeout' }, outlier, 0)
    expect(list.filter((o) => o.ejectedUntil !== null)).toHaveLength(2)
  })

  it('ejects an origin whose success rate is below mean − 1.9 σ', () => {
    const list = origins(5)
    for (const o of list) {
      for (let i = 0; i < 200; i++) {
        const fail = o.name === 'o3' ? i % 4 === 0 : i % 100 === 0
        // Interleave so consecutive-error ejection does not fire.
        observe(
          list,
          o.name,
          fail
            ? { kind: 'response', status: 500, latencyMs: 1 }
            : { kind: 'response', status: 200, latencyMs: 1 },
          outlier,
          0,
        )
      }
    }
    const events = sweep(list, outlier, 1)
    expect(events.map((e) => e.origin)).toEqual(['o3'])
    expect(list.every((o) => o.windowRequests === 0)).toBe(true)
  })
})

describe('pool state', () => {
  it('is up, then panics below the threshold (spreading over every enabled origin), then down below the minimum', () => {
    const list = origins(4)
    const settings = { minimumHealthy: 1, panicThresholdPercent: 50 }
    expect(servingSet(list, settings, 0)).toMatchObject({ mode: 'up', healthy: 4 })
    ;(list[0] as OriginState).health = 'unhealthy'
    ;(list[1] as OriginState).ejectedUntil = 100
    expect(servingSet(list, settings, 0).usable.map((o) => o.name)).toEqual(['o2', 'o3'])
    ;(list[2] as OriginState).health = 'unhealthy'
    const panic = servingSet(list, settings, 0)
    expect(panic.mode).toBe('panic')
    expect(panic.usable).toHaveLength(4)
    ;(list[3] as OriginState).health = 'unhealthy'
    expect(servingSet(list, settings, 0).mode).toBe('down')
  })
})

describe('slow start and retry budget', () => {
  it('ramps an origin back in service from 10% to its full weight linearly', () => {
    const [o] = origins(1) as [OriginState]
    o.weight = 10
    o.servingSince = 1000
    expect(effectiveWeight(o, 10_000, 1000)).toBe(1)
    expect(effectiveWeight(o, 10_000, 6000)).toBe(5)
    expect(effectiveWeight(o, 10_000, 11_000)).toBe(10)
    expect(effectiveWeight(o, 0, 1000)).toBe(10)
  })

  it('allows retries while they stay under max(minimum, budget% of requests in flight)', () => {
    const budget = { budgetPercent: 20, minRetryConcurrency: 3 }
    expect(retryAllowed(5, 2, budget)).toBe(true)
    expect(retryAllowed(5, 3, budget)).toBe(false)
    expect(retryAllowed(100, 19, budget)).toBe(true)
    expect(retryAllowed(100, 20, budget)).toBe(false)
  })
})

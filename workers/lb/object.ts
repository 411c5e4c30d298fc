/**
 * `LbPool`: the Durable Object holding one pool's live state, named `<tenant>:lb-pool:<pool>`.
 * Every Worker isolate that forwards through the pool asks it for an origin (`acquire`) and
 * reports back (`release`), so in-flight counts, latency EWMAs, ejections and the retry
 * budget are fleet-wide, not per process. Each call is synchronous over in-memory state
 * plus one `transactionSync` when durable state changes, so concurrent picks are exact.
 *
 * Durable: the settings, each origin's health (monitor counts, ejections, EWMA, request and
 * failure counts) and the last 100 health events. In memory only: the leases of requests
 * in flight (a restart forgets them, so counts start again from zero) and the algorithm's
 * rotation state. One alarm runs the active monitor and the outlier sweep, whichever is due.
 */

import type { CreatePoolInput } from '../../schemas/lb'
import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { type Candidate, initialPickState, nextEwma, type PickState, pick } from './algorithms'
import {
  checked,
  effectiveWeight,
  type HealthEvent,
  newOriginState,
  type OriginState,
  type Outcome,
  observe,
  originsView,
  type PoolMode,
  retryAllowed,
  servingSet,
  sweep,
} from './health'
import { runMonitor } from './monitor'

declare global {
  namespace Cloudflare {
    interface Env {
      LB_POOLS: DurableObjectNamespace<LbPool>
    }
  }
}

export interface AcquireRequest {
  /** The hash key for `ring_hash` / `maglev`. */
  key?: string | undefined
  /** The affinity cookie's origin, used when it can serve. */
  prefer?: string | undefined
  /** Origins already tried by this request. */
  exclude: string[]
  retry: boolean
  /** Pick from every enabled origin even when the pool is down (the fallback pool). */
  ignoreHealth?: boolean
  /** The balancer's retry budget, checked when `retry`. */
  budget: { budgetPercent: number; minRetryConcurrency: number }
  /** How long the lease counts as in flight if it is never released. */
  leaseMs: number
}

export type Acquired =
  | { kind: 'origin'; lease: string; name: string; url: string; mode: 'up' | 'panic' | 'down' }
  | { kind: 'down' | 'overloaded' | 'no_budget' | 'unconfigured' }

interface Lease {
  origin: string
  retry: boolean
  expiresAt: number
}

const MAX_EVENTS = 100

export class LbPool extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private settings: CreatePoolInput | undefined
  private origins: OriginState[] = []
  private readonly leases = new Map<string, Lease>()
  private pickState: PickState = initialPickState()
  private clockOffsetMs = 0
  private nextSweepAt = 0
  private nextCheckAt = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
      this.sql.exec('CREATE TABLE IF NOT EXISTS origins (name TEXT PRIMARY KEY, state TEXT NOT NULL)')
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL,
           from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL)`,
      )
      const meta = new Map(
        this.sql
          .exec<{ key: string; value: string }>('SELECT key, value FROM meta')
          .toArray()
          .map((r) => [r.key, r.value]),
      )
      if (!meta.has('schema_version')) this.sql.exec("INSERT INTO meta VALUES ('schema_version', '1')")
      const settings = meta.get('settings')
      this.settings = settings ? (JSON.parse(settings) as CreatePoolInput) : undefined
      this.clockOffsetMs = Number(meta.get('clock_offset_ms') ?? 0)
      this.origins = this.sql
        .exec<{ state: string }>('SELECT state FROM origins ORDER BY rowid')
        .toArray()
        .map((r) => JSON.parse(r.state) as OriginState)
    })
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      key,
      value,
    )
  }

  private saveOrigin(origin: OriginState): void {
    this.sql.exec(
      'INSERT INTO origins (name, state) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state',
      origin.name,
      JSON.stringify(origin),
    )
  }

  private record(events: readonly HealthEvent[]): void {
    for (const e of events) {
      this.sql.exec(
        'INSERT INTO events (origin, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)',
        e.origin,
        e.from,
        e.to,
        e.reason,
        e.at,
      )
    }
    if (events.length > 0) {
      this.sql.exec('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?', MAX_EVENTS)
    }
  }

  /** Installs (or replaces) the pool's settings; origins that keep their name and URL keep their state. */
  async configure(settings: CreatePoolInput): Promise<void> {
    const now = this.now()
    const previous = new Map(this.origins.map((o) => [o.name, o]))
    this.ctx.storage.transactionSync(() => {
      this.settings = settings
      this.setMeta('settings', JSON.stringify(settings))
      this.origins = settings.origins.map((o) => {
        const kept = previous.get(o.name)
        const base = kept && kept.url === o.url ? kept : newOriginState(o, now)
        return { ...base, weight: o.weight, enabled: o.enabled, maxRequests: o.maxRequests }
      })
      this.sql.exec('DELETE FROM origins')
      for (const origin of this.origins) this.saveOrigin(origin)
    })
    this.nextCheckAt = settings.monitor ? now : 0
    await this.arm()
  }

  /** Wipes the pool (deleted from the registry). */
  async destroy(): Promise<void> {
    this.settings = undefined
    this.origins = []
    this.leases.clear()
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
  }

  acquire(request: AcquireRequest): Acquired {
    const settings = this.settings
    if (!settings) return { kind: 'unconfigured' }
    const now = this.now()
    this.expireLeases(now)
    if (request.retry) {
      const retries = [...this.leases.values()].filter((l) => l.retry).length
      if (!retryAllowed(this.leases.size, retries, request.budget)) return { kind: 'no_budget' }
    }
    const { mode, usable } = servingSet(this.origins, settings, now)
    if (usable.length === 0 || (mode === 'down' && !request.ignoreHealth)) return { kind: 'down' }
    const outstanding = this.outstandingByOrigin()
    const open = usable.filter(
      (o) =>
        !request.exclude.includes(o.name) &&
        (o.maxRequests === 0 || (outstanding.get(o.name) ?? 0) < o.maxRequests),
    )
    if (open.length === 0) return { kind: request.exclude.length > 0 ? 'down' : 'overloaded' }
    const weighted = open.filter((o) => o.weight > 0)
    const pool = weighted.length > 0 ? weighted : open
    const candidates: Candidate[] = pool.map((o) => ({
      name: o.name,
      weight: Math.max(
        effectiveWeight(o, settings.slowStartSeconds * 1000, now),
        weighted.length > 0 ? 0 : 1,
      ),
      outstanding: outstanding.get(o.name) ?? 0,
      ewmaMs: o.ewmaMs ?? undefined,
    }))
    let name =
      request.prefer && candidates.some((c) => c.name === request.prefer) ? request.prefer : undefined
    if (!name) {
      const chosen = pick(settings.algorithm, {
        candidates,
        state: this.pickState,
        random: Math.random,
        key: request.key,
      })
      this.pickState = chosen.state
      name = chosen.name
    }
    const origin = this.origins.find((o) => o.name === name) as OriginState
    const lease = crypto.randomUUID()
    this.leases.set(lease, { origin: name, retry: request.retry, expiresAt: now + request.leaseMs })
    return { kind: 'origin', lease, name, url: origin.url, mode }
  }

  /** Ends a lease and counts its outcome (outlier detection, EWMA). Unknown leases still count the outcome. */
  async release(lease: string, origin: string, outcome: Outcome): Promise<void> {
    this.leases.delete(lease)
    const settings = this.settings
    const state = this.origins.find((o) => o.name === origin)
    if (!settings || !state) return
    const now = this.now()
    this.ctx.storage.transactionSync(() => {
      if (outcome.kind === 'response') {
        state.ewmaMs = nextEwma(state.ewmaMs ?? undefined, outcome.latencyMs, now - state.ewmaAt)
        state.ewmaAt = now
      }
      const event = observe(this.origins, origin, outcome, settings.outlierDetection, now)
      this.saveOrigin(state)
      if (event) this.record([event])
    })
    if (this.nextSweepAt === 0) await this.arm()
  }

  /** Ends a lease without counting an outcome (the client went away). */
  cancel(lease: string): void {
    this.leases.delete(lease)
  }

  health() {
    const now = this.now()
    const view = originsView(this.origins, this.settings, this.outstandingByOrigin(), now)
    const events = this.sql
      .exec<{ origin: string; from_state: string; to_state: string; reason: string; at: number }>(
        'SELECT origin, from_state, to_state, reason, at FROM events ORDER BY id DESC LIMIT 50',
      )
      .toArray()
      .map((e) => ({ origin: e.origin, from: e.from_state, to: e.to_state, reason: e.reason, at: e.at }))
    return { ...view, events }
  }

  /** The pool's serving mode now (no events, no origin list); undefined when unconfigured. */
  mode(): PoolMode | undefined {
    return this.settings ? servingSet(this.origins, this.settings, this.now()).mode : undefined
  }

  override async alarm(): Promise<void> {
    const settings = this.settings
    if (!settings) return
    const now = this.now()
    if (settings.monitor && this.nextCheckAt <= now) {
      const monitor = settings.monitor
      const results = await Promise.all(this.origins.map((o) => runMonitor(o.url, monitor)))
      const at = this.now()
      this.ctx.storage.transactionSync(() => {
        const events: HealthEvent[] = []
        this.origins.forEach((origin, i) => {
          const result = results[i]
          if (!result) return
          const event = checked(origin, result.passed, result.detail, monitor, at)
          if (event) events.push(event)
          this.saveOrigin(origin)
        })
        this.record(events)
      })
      this.nextCheckAt = at + monitor.intervalSeconds * 1000
    }
    if (this.nextSweepAt !== 0 && this.nextSweepAt <= now) {
      this.ctx.storage.transactionSync(() => {
        const events = sweep(this.origins, settings.outlierDetection, now)
        for (const origin of this.origins) this.saveOrigin(origin)
        this.record(events)
      })
      this.nextSweepAt = 0
    }
    await this.arm()
  }

  /** Arms the alarm for the monitor and, while there is traffic or an ejection to end, the sweep. */
  private async arm(): Promise<void> {
    const settings = this.settings
    if (!settings) return
    const now = this.now()
    const busy = this.origins.some((o) => o.windowRequests > 0 || o.ejectedUntil !== null)
    if (busy && this.nextSweepAt === 0)
      this.nextSweepAt = now + settings.outlierDetection.intervalSeconds * 1000
    const due = [settings.monitor ? this.nextCheckAt : 0, this.nextSweepAt].filter((t) => t > 0)
    if (due.length === 0) return
    const at = Math.min(...due) - this.clockOffsetMs
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > at) await this.ctx.storage.setAlarm(at)
  }

  private expireLeases(now: number): void {
    for (const [id, lease] of this.leases) if (lease.expiresAt <= now) this.leases.delete(id)
  }

  private outstandingByOrigin(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const lease of this.leases.values()) counts.set(lease.origin, (counts.get(lease.origin) ?? 0) + 1)
    return counts
  }

  /** Tests: moves this object's clock forward (ejection ends, slow start, monitor intervals). */
  async advanceClockForTest(ms: number): Promise<void> {
    this.clockOffsetMs += ms
    this.setMeta('clock_offset_ms', String(this.clockOffsetMs))
  }
}

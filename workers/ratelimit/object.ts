/**
 * `RateLimitBucket`: the Durable Object that owns one key's state under one policy, named
 * `<tenant>:ratelimit:<policy>:<key>` (the gateway's: `<tenant>:ratelimit-gateway:tenant` and
 * `_gateway:ratelimit-gateway:ip:<ip>`). There is exactly one such object in the world per
 * name, and every method is one synchronous SQLite transaction with no await between read and
 * write, so concurrent checks of a key are serialized here: exact and global.
 *
 * Holds back all-or-nothing checks over several keys (see service.ts): `reserve` admits
 * against the state without spending and records a hold; later checks on the key must fit
 * with every live hold still counted, so `commit` (drop the hold, then spend) always fits,
 * and `release` (drop the hold) leaves the state exactly as if the check never happened.
 * A hold left by a crashed coordinator expires after `HOLD_TTL_MS`.
 *
 * Tables: `bucket` (one row: the policy fingerprint, the algorithm's state as JSON, and when
 * it becomes equivalent to a fresh key) and `holds`. One alarm: when the key has gone idle
 * its rows are deleted, so keys that stop being used cost no storage.
 */
import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { type Decision, decideWithHolds, type KeyState, peek, type RatePolicy } from './algorithms'
import { type GcraState, gcraRefund } from './buckets'

declare global {
  namespace Cloudflare {
    interface Env {
      RATELIMIT: DurableObjectNamespace<RateLimitBucket>
    }
  }
}

/** How long a multi-key check's reservation lives if it is neither committed nor released. */
export const HOLD_TTL_MS = 10_000

/** A policy as the object sees it: its parameters and a fingerprint that changes with them. */
export interface KeyPolicy extends RatePolicy {
  fingerprint: string
}

interface Loaded {
  state: KeyState | undefined
  held: number
}

const SCHEMA_VERSION = 1

export class RateLimitBucket extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private alarmArmed = false
  /** The time the alarm should fire, noted during a transaction and armed right after it. */
  private wakeAt: number | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (schema_version INTEGER NOT NULL)`)
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS bucket (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           fingerprint TEXT NOT NULL,
           state TEXT NOT NULL,
           idle_at INTEGER NOT NULL
         )`,
      )
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS holds (
           id TEXT PRIMARY KEY,
           fingerprint TEXT NOT NULL,
           cost INTEGER NOT NULL,
           expires_at INTEGER NOT NULL
         )`,
      )
      if (this.sql.exec('SELECT 1 FROM meta').toArray().length === 0) {
        this.sql.exec('INSERT INTO meta (schema_version) VALUES (?)', SCHEMA_VERSION)
      }
      this.alarmArmed = (await ctx.storage.getAlarm()) !== null
    })
  }

  /** Spends `cost` units if they fit (with every live hold counted); `cost: 0` peeks. */
  check(policy: KeyPolicy, cost: number): Decision {
    return this.transaction((now) => {
      const { state, held } = this.load(policy, now)
      if (cost === 0) return peek(policy, state, now, held)
      const outcome = decideWithHolds(policy, state, now, cost, held)
      if (outcome.decision.allowed) this.save(policy, outcome.state, outcome.decision, now)
      return outcome.decision
    })
  }

  /**
   * A lease for the gateway (GCRA only, see leases.ts): gives back `giveBack` units an isolate
   * leased and did not use, then spends as many of `want` units as fit now (possibly none).
   */
  lease(policy: KeyPolicy, want: number, giveBack: number): { decision: Decision; granted: number } {
    if (policy.algorithm !== 'gcra') throw new Error('Leases need a GCRA policy')
    return this.transaction((now) => {
      const loaded = this.load(policy, now)
      const state = gcraRefund(policy, loaded.state as GcraState | undefined, now, giveBack)
      const granted = Math.max(0, Math.min(want, peek(policy, state, now, loaded.held).remaining))
      const outcome = decideWithHolds(policy, state, now, Math.max(1, granted), loaded.held)
      if (granted > 0 || giveBack > 0) {
        this.save(policy, granted > 0 ? outcome.state : state, outcome.decision, now)
      }
      return { decision: outcome.decision, granted }
    })
  }

  /** Phase one of a multi-key check: admits against the state without spending, and holds `cost`. */
  reserve(policy: KeyPolicy, cost: number, holdId: string): Decision {
    return this.transaction((now) => {
      const { state, held } = this.load(policy, now)
      const probe = decideWithHolds(policy, state, now, cost, held).decision
      if (probe.allowed) {
        this.sql.exec(
          'INSERT OR REPLACE INTO holds (id, fingerprint, cost, expires_at) VALUES (?, ?, ?, ?)',
          holdId,
          policy.fingerprint,
          cost,
          now + HOLD_TTL_MS,
        )
        this.wakeAt = now + HOLD_TTL_MS
      }
      return probe
    })
  }

  /** Phase two, all keys admitted: turns the hold into spending. Fits unless the hold expired. */
  commit(policy: KeyPolicy, cost: number, holdId: string): Decision {
    return this.transaction((now) => {
      this.sql.exec('DELETE FROM holds WHERE id = ?', holdId)
      const { state, held } = this.load(policy, now)
      const outcome = decideWithHolds(policy, state, now, cost, held)
      if (outcome.decision.allowed) this.save(policy, outcome.state, outcome.decision, now)
      return outcome.decision
    })
  }

  /** Phase two, some key denied: drops the hold, spending nothing. Returns the key as it now is. */
  release(policy: KeyPolicy, holdId: string): Decision {
    return this.transaction((now) => {
      this.sql.exec('DELETE FROM holds WHERE id = ?', holdId)
      const { state, held } = this.load(policy, now)
      return peek(policy, state, now, held)
    })
  }

  /** Forgets the key's state and holds: its next check starts afresh. */
  reset(): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM bucket')
      this.sql.exec('DELETE FROM holds')
    })
  }

  /** Deletes the key's rows once it is idle (full again, no live holds); otherwise re-arms. */
  override async alarm(): Promise<void> {
    this.alarmArmed = false
    this.transaction((now) => {
      this.sql.exec('DELETE FROM holds WHERE expires_at <= ?', now)
      const idleAt =
        this.sql.exec<{ idle_at: number }>('SELECT idle_at FROM bucket').toArray()[0]?.idle_at ?? 0
      const holdsUntil =
        this.sql.exec<{ until: number | null }>('SELECT MAX(expires_at) AS until FROM holds').one().until ?? 0
      if (idleAt <= now && holdsUntil <= now) this.sql.exec('DELETE FROM bucket')
      else this.wakeAt = Math.max(idleAt, holdsUntil)
    })
  }

  /** The key's state under `policy` (none if it was kept for other parameters) and its live holds. */
  private load(policy: KeyPolicy, now: number): Loaded {
    // Reads first, so the common case (no stale rows) writes nothing.
    let row = this.sql
      .exec<{ fingerprint: string; state: string }>('SELECT fingerprint, state FROM bucket')
      .toArray()[0]
    if (row && row.fingerprint !== policy.fingerprint) {
      // The policy's parameters changed: the key starts afresh.
      this.sql.exec('DELETE FROM bucket')
      row = undefined
    }
    const holds = this.sql
      .exec<{ held: number; live: number; total: number }>(
        `SELECT COALESCE(SUM(cost) FILTER (WHERE fingerprint = ?1 AND expires_at > ?2), 0) AS held,
                COUNT(*) FILTER (WHERE fingerprint = ?1 AND expires_at > ?2) AS live,
                COUNT(*) AS total
         FROM holds`,
        policy.fingerprint,
        now,
      )
      .one()
    if (holds.total > holds.live) {
      // Expired reservations, or ones made under other parameters, no longer count.
      this.sql.exec('DELETE FROM holds WHERE fingerprint <> ? OR expires_at <= ?', policy.fingerprint, now)
    }
    const state = row ? ((JSON.parse(row.state) as KeyState | null) ?? undefined) : undefined
    return { state, held: holds.held }
  }

  private save(policy: KeyPolicy, state: KeyState | undefined, decision: Decision, now: number): void {
    const idleAt = now + decision.resetAfterMs
    this.sql.exec(
      'INSERT OR REPLACE INTO bucket (id, fingerprint, state, idle_at) VALUES (1, ?, ?, ?)',
      policy.fingerprint,
      JSON.stringify(state ?? null),
      idleAt,
    )
    this.wakeAt = idleAt
  }

  /**
   * Runs `change` as one synchronous transaction at one reading of the clock, then arms the
   * alarm if the change asked for one and none is armed (a fired alarm re-arms itself for the
   * latest idle time, so one alarm per idle period is enough).
   */
  private transaction<T>(change: (now: number) => T): T {
    this.wakeAt = undefined
    const result = this.ctx.storage.transactionSync(() => change(Date.now()))
    if (this.wakeAt !== undefined && !this.alarmArmed) {
      this.alarmArmed = true
      void this.ctx.storage.setAlarm(this.wakeAt)
    }
    return result
  }
}

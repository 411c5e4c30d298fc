/**
 * `SchedulerTenant`: one Durable Object per tenant, `<tenant>:scheduler-tenant:settings`,
 * holding what is tenant-wide across all scheduler shards:
 * - its limits (`fairness.ts`): concurrency as leases (one per attempt in flight, expiring
 *   on their own after the attempt's timeout plus a margin, so a shard that crashes mid-
 *   attempt cannot leak a slot) and the rate as a token bucket;
 * - its Standard Webhooks signing secret, created on first use, rotatable.
 * A shard asks `acquire` before starting a tenant's attempts and calls `release` after
 * each. A shard refused for concurrency is remembered and woken (`wake`) as soon as a
 * slot frees (a release, an expiry, raised limits): nothing polls.
 */
import { newWebhookSecret } from '../platform/delivery'
import type { Env } from '../platform/env'
import { HostedObject, hostedStub } from '../platform/hosted-object'
import { type BucketState, DEFAULT_LIMITS, grant, refill, type TenantLimits } from './fairness'
import { shardName } from './tasks'

export interface Acquired {
  leaseIds: string[]
  secret: string
  /** Fewer granted than asked: why, and until when the shard should not ask again. */
  refused?: { reason: 'concurrency' | 'rate'; until: number }
}

export interface TenantUsage {
  limits: TenantLimits
  inFlight: number
  tokens: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (
  id INTEGER PRIMARY KEY CHECK (id = 1), tenant TEXT NOT NULL, limits TEXT NOT NULL, secret TEXT NOT NULL,
  tokens REAL NOT NULL, refilled_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, shard INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS waiters (shard INTEGER PRIMARY KEY);
`

interface Settings {
  tenant: string
  limits: TenantLimits
  secret: string
  bucket: BucketState
}

export class SchedulerTenant extends HostedObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(SCHEMA)
    })
  }

  /** Grants up to `requested` leases of `leaseMs` to `shard` at `now` (the shard's clock). */
  async acquire(
    tenant: string,
    shard: number,
    requested: number,
    leaseMs: number,
    now: number,
  ): Promise<Acquired> {
    const acquired = this.ctx.storage.transactionSync(() => {
      const settings = this.settings(tenant, now)
      this.sql.exec('DELETE FROM leases WHERE expires_at <= ?', now)
      const inFlight = this.inFlight()
      const decision = grant(requested, inFlight, settings.bucket, settings.limits, now)
      this.saveBucket(decision.bucket)
      const leaseIds: string[] = []
      for (let i = 0; i < decision.granted; i++) {
        const id = crypto.randomUUID()
        this.sql.exec('INSERT INTO leases (id, shard, expires_at) VALUES (?, ?, ?)', id, shard, now + leaseMs)
        leaseIds.push(id)
      }
      const result: Acquired = { leaseIds, secret: settings.secret }
      if (decision.reason === 'rate')
        result.refused = { reason: 'rate', until: decision.retryAt ?? now + 1000 }
      if (decision.reason === 'concurrency') {
        this.sql.exec('INSERT OR IGNORE INTO waiters (shard) VALUES (?)', shard)
        const soonest = this.sql.exec('SELECT MIN(expires_at) AS at FROM leases').one().at
        result.refused = { reason: 'concurrency', until: soonest === null ? now + leaseMs : Number(soonest) }
      }
      return result
    })
    await this.armAlarm()
    return acquired
  }

  /** Frees leases (unknown or expired ids are ignored) and wakes waiting shards. */
  async release(leaseIds: string[]): Promise<void> {
    for (const id of leaseIds) this.sql.exec('DELETE FROM leases WHERE id = ?', id)
    await this.wakeWaiters()
  }

  async usage(tenant: string, now: number): Promise<TenantUsage> {
    const settings = this.settings(tenant, now)
    this.sql.exec('DELETE FROM leases WHERE expires_at <= ?', now)
    return {
      limits: settings.limits,
      inFlight: this.inFlight(),
      tokens: Math.floor(refill(settings.bucket, settings.limits, now).tokens),
    }
  }

  async setLimits(tenant: string, limits: TenantLimits, now: number): Promise<TenantUsage> {
    this.ctx.storage.transactionSync(() => {
      const settings = this.settings(tenant, now)
      const bucket = refill(settings.bucket, settings.limits, now)
      this.sql.exec(
        'UPDATE settings SET limits = ?, tokens = ?, refilled_at = ? WHERE id = 1',
        JSON.stringify(limits),
        Math.min(bucket.tokens, limits.burst),
        bucket.refilledAt,
      )
    })
    await this.wakeWaiters()
    return this.usage(tenant, now)
  }

  async signingSecret(tenant: string, now: number): Promise<string> {
    return this.ctx.storage.transactionSync(() => this.settings(tenant, now).secret)
  }

  async rotateSecret(tenant: string, now: number): Promise<string> {
    return this.ctx.storage.transactionSync(() => {
      this.settings(tenant, now)
      const secret = newWebhookSecret()
      this.sql.exec('UPDATE settings SET secret = ? WHERE id = 1', secret)
      return secret
    })
  }

  /** Leases expired: their slots are free again. */
  override async alarm(): Promise<void> {
    this.sql.exec('DELETE FROM leases WHERE expires_at <= ?', Date.now())
    await this.wakeWaiters()
    await this.armAlarm()
  }

  private settings(tenant: string, now: number): Settings {
    let row = this.sql.exec('SELECT * FROM settings WHERE id = 1').toArray()[0]
    if (!row) {
      this.sql.exec(
        'INSERT INTO settings (id, tenant, limits, secret, tokens, refilled_at) VALUES (1, ?, ?, ?, ?, ?)',
        tenant,
        JSON.stringify(DEFAULT_LIMITS),
        newWebhookSecret(),
        DEFAULT_LIMITS.burst,
        now,
      )
      row = this.sql.exec('SELECT * FROM settings WHERE id = 1').one()
    }
    return {
      tenant: String(row.tenant),
      limits: JSON.parse(String(row.limits)) as TenantLimits,
      secret: String(row.secret),
      bucket: { tokens: Number(row.tokens), refilledAt: Number(row.refilled_at) },
    }
  }

  private saveBucket(bucket: BucketState): void {
    this.sql.exec(
      'UPDATE settings SET tokens = ?, refilled_at = ? WHERE id = 1',
      bucket.tokens,
      bucket.refilledAt,
    )
  }

  private inFlight(): number {
    return Number(this.sql.exec('SELECT COUNT(*) AS n FROM leases').one().n)
  }

  /** Wakes every waiting shard once a slot is free; they ask again and the limits decide. */
  private async wakeWaiters(): Promise<void> {
    const row = this.sql.exec('SELECT tenant, limits FROM settings WHERE id = 1').toArray()[0]
    if (!row) return
    const limits = JSON.parse(String(row.limits)) as TenantLimits
    if (this.inFlight() >= limits.concurrency) return
    const shards = this.sql
      .exec('DELETE FROM waiters RETURNING shard')
      .toArray()
      .map((waiter) => Number(waiter.shard))
    const tenant = String(row.tenant)
    await Promise.all(
      shards.map(async (shard) => {
        try {
          await hostedStub(this.env.SCHEDULER_SHARDS, shardName(shard)).wake(tenant)
        } catch {
          // The shard's own block expires at the earliest lease expiry and it asks again then.
        }
      }),
    )
  }

  private async armAlarm(): Promise<void> {
    const waiting = Number(this.sql.exec('SELECT COUNT(*) AS n FROM waiters').one().n) > 0
    const soonest = this.sql.exec('SELECT MIN(expires_at) AS at FROM leases').one().at
    if (waiting && soonest !== null) await this.ctx.storage.setAlarm(Number(soonest))
    else await this.ctx.storage.deleteAlarm()
  }
}

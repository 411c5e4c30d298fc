/**
 * CounterShard: one shard of a sharded counter, named `<tenant>:counter:<name>#<i>`.
 *
 * It holds the shard's value (int64, stored as decimal text), the members hashed to it, and
 * the idempotency keys of the increments it applied (24 h). Every change is one
 * `transactionSync`: an idempotency key is checked and recorded in the same transaction as
 * the increment it guards. After a change, its alarm pushes the shard's state to the
 * counter's aggregator, at most every PUSH_INTERVAL_MS; the same alarm purges expired keys.
 */
import { backoffDelayMs } from '../platform/delivery'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import { coalescedDueAt, PUSH_INTERVAL_MS } from './aggregation'
import { applyIncrement, SHARD_MAX, SHARD_MIN } from './counter'
import { type CounterIdentity, earliest, Identity, Meta, Timers } from './storage'

declare global {
  namespace Cloudflare {
    interface Env {
      COUNTER_SHARDS: DurableObjectNamespace<CounterShard>
    }
  }
}

export interface ShardAddress extends CounterIdentity {
  shard: number
}

export interface ShardIncrement {
  shard: number
  by: bigint
  /** The shard's value after the increment. */
  shardValue: bigint
  /** True when an earlier request with the same Idempotency-Key applied it. */
  replayed: boolean
}

export interface ShardState {
  shard: number
  version: number
  value: bigint
  members: number
  /** Every increment this shard acknowledged before this time (ms) is in `value`. */
  knownAt: number
}

/** How long an Idempotency-Key is remembered (ms). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000
/** Expired keys are purged in batches, at most about once per this interval (ms). */
const PURGE_SLACK_MS = 60_000
const PURGE_BATCH = 1_000
const PUSH_RETRY = { baseMs: 200, capMs: 30_000 }
const SCHEMA_VERSION = 1

interface Tally {
  value: bigint
  members: number
  version: number
}

export class CounterShard extends HostedObject<Env> {
  private readonly sql = this.ctx.storage.sql
  private readonly meta = new Meta(this.sql)
  private readonly timers = new Timers(this.sql, this.meta)
  private readonly identity = new Identity(this.sql)

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => this.createTables())
  }

  private createTables(): void {
    this.meta.createTable()
    this.timers.createTable()
    this.identity.createTable()
    this.sql.exec(`CREATE TABLE IF NOT EXISTS tally (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      value TEXT NOT NULL,
      members INTEGER NOT NULL,
      version INTEGER NOT NULL
    )`)
    this.sql.exec('CREATE TABLE IF NOT EXISTS members (member TEXT PRIMARY KEY, added_at INTEGER NOT NULL)')
    this.sql.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      key TEXT PRIMARY KEY,
      by TEXT NOT NULL,
      result TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    )`)
    this.sql.exec('CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at)')
    this.meta.set('schema_version', SCHEMA_VERSION)
  }

  /** Adds `by` to this shard; with a key, at most once per 24 h (a retry gets the first result). */
  async increment(address: ShardAddress, by: bigint, idempotencyKey?: string): Promise<ShardIncrement> {
    const now = Date.now()
    let alarmAt: number | undefined
    const result = this.ctx.storage.transactionSync((): ShardIncrement => {
      this.admit(address)
      if (idempotencyKey !== undefined) {
        const earlier = this.findIncrement(idempotencyKey, now)
        if (earlier) {
          if (earlier.by !== by) {
            throw new AppError(
              'unprocessable',
              'This Idempotency-Key was already used for an increment with a different `by`.',
            )
          }
          return { ...earlier, replayed: true }
        }
      }
      const tally = this.readTally()
      const outcome = applyIncrement(tally.value, by)
      if (!outcome.applied) {
        throw new AppError(
          'conflict',
          `The increment would take shard ${address.shard} out of its share of the int64 range ` +
            `[${SHARD_MIN}, ${SHARD_MAX}], which keeps the counter's total within int64; nothing changed.`,
        )
      }
      this.writeTally({ ...tally, value: outcome.value, version: tally.version + 1 })
      const applied = { shard: address.shard, by, shardValue: outcome.value, replayed: false }
      alarmAt = this.schedulePush(now)
      if (idempotencyKey !== undefined)
        alarmAt = earliest(alarmAt, this.recordIncrement(idempotencyKey, applied, now))
      return applied
    })
    if (alarmAt !== undefined) await this.ctx.storage.setAlarm(alarmAt)
    return result
  }

  /** Likes: adds `member`; `changed` is false when it already was a member. */
  async addMember(address: ShardAddress, member: string): Promise<{ changed: boolean }> {
    return this.changeMembership(address, member, true)
  }

  /** Unlikes: removes `member`; `changed` is false when it was not a member. */
  async removeMember(address: ShardAddress, member: string): Promise<{ changed: boolean }> {
    return this.changeMembership(address, member, false)
  }

  async hasMember(address: ShardAddress, member: string): Promise<boolean> {
    if (!this.identity.admitRead(address)) return false
    return this.sql.exec('SELECT 1 FROM members WHERE member = ?', member).toArray().length > 0
  }

  /** The shard's state now: what a strong read or a re-sum adds up. */
  async snapshot(address: ShardAddress): Promise<ShardState> {
    const now = Date.now()
    const tally = this.identity.admitRead(address) ? this.readTally() : { value: 0n, members: 0, version: 0 }
    return { shard: address.shard, ...tally, knownAt: now }
  }

  /** Deletes the counter's data here and refuses its incarnation from now on. */
  async retire(address: ShardAddress): Promise<void> {
    this.ctx.storage.transactionSync(() => this.identity.retire(address, () => this.forget()))
  }

  override async alarm(): Promise<void> {
    const now = Date.now()
    const due = this.ctx.storage.transactionSync(() => this.timers.takeDue(now))
    if (due.has('purge')) this.ctx.storage.transactionSync(() => this.purgeExpiredKeys(now))
    if (due.has('push')) await this.pushToAggregator()
    const next = this.ctx.storage.transactionSync(() => this.timers.rearm())
    if (next !== undefined) await this.ctx.storage.setAlarm(next)
  }

  private async changeMembership(
    address: ShardAddress,
    member: string,
    isMember: boolean,
  ): Promise<{ changed: boolean }> {
    const now = Date.now()
    let alarmAt: number | undefined
    const changed = this.ctx.storage.transactionSync(() => {
      this.admit(address)
      const present = this.sql.exec('SELECT 1 FROM members WHERE member = ?', member).toArray().length > 0
      if (present === isMember) return false
      if (isMember) this.sql.exec('INSERT INTO members (member, added_at) VALUES (?, ?)', member, now)
      else this.sql.exec('DELETE FROM members WHERE member = ?', member)
      const tally = this.readTally()
      this.writeTally({ ...tally, members: tally.members + (isMember ? 1 : -1), version: tally.version + 1 })
      alarmAt = this.schedulePush(now)
      return true
    })
    if (alarmAt !== undefined) await this.ctx.storage.setAlarm(alarmAt)
    return { changed }
  }

  private admit(address: ShardAddress): void {
    this.identity.admit(address, () => {
      this.forget()
      this.meta.set('shard', address.shard)
    })
  }

  /** Drops every trace of the incarnation this shard held. */
  private forget(): void {
    this.sql.exec('DELETE FROM tally')
    this.sql.exec('DELETE FROM members')
    this.sql.exec('DELETE FROM idempotency')
    this.timers.clear()
    this.meta.delete('last_push_at')
    this.meta.delete('push_failures')
  }

  private readTally(): Tally {
    const row = this.sql
      .exec<{ value: string; members: number; version: number }>(
        'SELECT value, members, version FROM tally WHERE id = 1',
      )
      .toArray()[0]
    return row ? { value: BigInt(row.value), members: row.members, version: row.version } : emptyTally()
  }

  private writeTally(tally: Tally): void {
    this.sql.exec(
      `INSERT INTO tally (id, value, members, version) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET value = excluded.value, members = excluded.members,
         version = excluded.version`,
      tally.value.toString(),
      tally.members,
      tally.version,
    )
  }

  private findIncrement(key: string, now: number): Omit<ShardIncrement, 'replayed'> | undefined {
    const row = this.sql
      .exec<{ result: string }>('SELECT result FROM idempotency WHERE key = ? AND expires_at > ?', key, now)
      .toArray()[0]
    if (!row) return undefined
    const stored = JSON.parse(row.result) as { shard: number; by: string; shardValue: string }
    return { shard: stored.shard, by: BigInt(stored.by), shardValue: BigInt(stored.shardValue) }
  }

  private recordIncrement(key: string, applied: ShardIncrement, now: number): number | undefined {
    const expiresAt = now + IDEMPOTENCY_TTL_MS
    const result = {
      shard: applied.shard,
      by: applied.by.toString(),
      shardValue: applied.shardValue.toString(),
    }
    this.sql.exec(
      `INSERT INTO idempotency (key, by, result, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET by = excluded.by, result = excluded.result, expires_at = excluded.expires_at`,
      key,
      applied.by.toString(),
      JSON.stringify(result),
      expiresAt,
    )
    return this.timers.schedule('purge', expiresAt + PURGE_SLACK_MS)
  }

  private purgeExpiredKeys(now: number): void {
    this.sql.exec(
      'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= ? LIMIT ?)',
      now,
      PURGE_BATCH,
    )
    const next = this.sql
      .exec<{ due: number | null }>('SELECT MIN(expires_at) AS due FROM idempotency')
      .one().due
    if (next !== null) this.timers.schedule('purge', next <= now ? now : next + PURGE_SLACK_MS)
  }

  /** Arms the push to the aggregator, unless one is pending: at most one per PUSH_INTERVAL_MS. */
  private schedulePush(now: number): number | undefined {
    if (this.timers.has('push')) return undefined
    return this.timers.schedule(
      'push',
      coalescedDueAt(this.meta.getNumber('last_push_at'), now, PUSH_INTERVAL_MS),
    )
  }

  private async pushToAggregator(): Promise<void> {
    const report = this.ctx.storage.transactionSync(() => {
      const identity = this.identity.read()
      const shard = this.meta.getNumber('shard')
      if (!identity || identity.retired || shard === undefined) return undefined
      const now = Date.now()
      this.meta.set('last_push_at', now)
      const { tenant, name, incarnation } = identity
      return { identity: { tenant, name, incarnation }, state: { shard, ...this.readTally(), knownAt: now } }
    })
    if (!report) return
    try {
      const aggregator = objectStub(
        this.env.COUNTER_AGGREGATORS,
        report.identity.tenant,
        'counter',
        report.identity.name,
      )
      await aggregator.report(report.identity, report.state)
      this.ctx.storage.transactionSync(() => this.meta.delete('push_failures'))
    } catch {
      // Eventual reads re-sum on their own after MAX_AGE_MS, so a late push only delays live updates.
      this.ctx.storage.transactionSync(() => {
        const failures = (this.meta.getNumber('push_failures') ?? 0) + 1
        this.meta.set('push_failures', failures)
        this.timers.schedule('push', Date.now() + backoffDelayMs(failures, Math.random(), PUSH_RETRY))
      })
    }
  }
}

function emptyTally(): Tally {
  return { value: 0n, members: 0, version: 0 }
}

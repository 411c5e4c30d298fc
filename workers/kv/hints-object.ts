/**
 * `KvHints`: the hinted-handoff queue of one home storage node for one tenant, named
 * `<tenant>:kv-hints:<node>`. A write that could not reach a home replica leaves a hint
 * here (the version, and the fallback node that held it instead, if any); the alarm
 * delivers hints to the home node (merging them there, so delivery is idempotent), then
 * drops the fallback's copy. A hint that fails is retried with full-jitter backoff (1 s to
 * 60 s) and never dropped: at-least-once until the home node takes it.
 *
 * Cost: one SQLite row per hint (the value included); one store round trip per hint.
 */

import { backoffDelayMs } from '../platform/delivery'
import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { failureDetector } from '../platform/storage-nodes'
import type { Hint } from './coordinator'
import { dropVersion, storeVersions } from './replica'
import { connect } from './service'
import type { ConflictPolicy, Version } from './versions'

const BATCH = 200
const BACKOFF = { baseMs: 1_000, capMs: 60_000 }

declare global {
  namespace Cloudflare {
    interface Env {
      KV_HINTS: DurableObjectNamespace<KvHints>
    }
  }
}

export class KvHints extends HostedObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS hints (
        id INTEGER PRIMARY KEY AUTOINCREMENT, home TEXT NOT NULL, fallback TEXT, ns TEXT NOT NULL,
        key TEXT NOT NULL, policy TEXT NOT NULL, version TEXT NOT NULL, value BLOB,
        attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL)`)
      this.sql.exec('CREATE INDEX IF NOT EXISTS hints_due ON hints (due_at)')
    })
  }

  async add(home: string, hints: Hint[]): Promise<void> {
    const now = Date.now()
    this.ctx.storage.transactionSync(() => {
      for (const hint of hints) {
        const { value, ...rest } = hint.version
        this.sql.exec(
          'INSERT INTO hints (home, fallback, ns, key, policy, version, value, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          home,
          hint.fallback,
          hint.ns,
          hint.key,
          hint.policy,
          JSON.stringify(rest),
          value,
          now,
        )
      }
    })
    await this.arm(now)
  }

  /** Hints waiting for delivery. */
  async pending(): Promise<number> {
    return Number(this.sql.exec('SELECT count(*) AS n FROM hints').one().n)
  }

  override async alarm(): Promise<void> {
    await this.deliver(Date.now())
  }

  /** Delivers the due hints; returns how many were delivered. */
  async deliver(now: number): Promise<number> {
    const rows = this.sql
      .exec('SELECT * FROM hints WHERE due_at <= ? ORDER BY id LIMIT ?', now, BATCH)
      .toArray()
    let delivered = 0
    for (const row of rows) {
      const version: Version = {
        ...(JSON.parse(String(row.version)) as Omit<Version, 'value'>),
        value: row.value === null ? null : new Uint8Array(row.value as ArrayBuffer),
      }
      const home = String(row.home)
      try {
        await storeVersions(
          await connect(this.env, home),
          String(row.ns),
          String(row.key),
          [version],
          row.policy as ConflictPolicy,
          now,
        )
        failureDetector.succeeded(home)
        if (row.fallback !== null) {
          await dropVersion(
            await connect(this.env, String(row.fallback)),
            String(row.ns),
            String(row.key),
            version.id,
          ).catch(() => undefined)
        }
        this.sql.exec('DELETE FROM hints WHERE id = ?', row.id)
        delivered++
      } catch {
        failureDetector.failed(home)
        const attempts = Number(row.attempts) + 1
        this.sql.exec(
          'UPDATE hints SET attempts = ?, due_at = ? WHERE id = ?',
          attempts,
          now + Math.max(100, backoffDelayMs(attempts, Math.random(), BACKOFF)),
          row.id,
        )
      }
    }
    await this.arm(now)
    return delivered
  }

  private async arm(now: number): Promise<void> {
    const next = this.sql.exec('SELECT min(due_at) AS due FROM hints').one().due
    if (next === null) {
      await this.ctx.storage.deleteAlarm()
      return
    }
    const current = await this.ctx.storage.getAlarm()
    const due = Math.max(Number(next), now)
    if (current === null || current > due) await this.ctx.storage.setAlarm(due)
  }
}

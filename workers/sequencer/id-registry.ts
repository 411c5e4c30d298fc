/**
 * `GeneratorIdRegistry`: one Durable Object per tenant (`<tenant>:sequencer-ids:registry`)
 * that leases the 1,024 Snowflake generator IDs to the tenant's generators.
 *
 * Why an object and not the libSQL registry: choosing "the lowest free ID" is a
 * read-decide-write over all 1,024 slots. A single object does it in one synchronous
 * SQLite transaction, serial by construction, with no retry loop and no extra table in
 * libSQL; its storage is durable, so a restart forgets no lease. The rules themselves
 * (renew, lowest free, windows of ID timestamps) are in leases.ts.
 */
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { GENERATOR_LEASE_MS, grantLease, type LeaseRow } from './leases'

export class GeneratorIdRegistry extends HostedObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS generator_leases (
        generator_id INTEGER PRIMARY KEY,
        holder TEXT NOT NULL UNIQUE,
        issue_from_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
      )`)
    })
  }

  /** Every lease row, live or expired, by generator ID. */
  leases(): LeaseRow[] {
    return this.ctx.storage.sql
      .exec<{ generator_id: number; holder: string; issue_from_ms: number; expires_at_ms: number }>(
        'SELECT generator_id, holder, issue_from_ms, expires_at_ms FROM generator_leases ORDER BY generator_id',
      )
      .toArray()
      .map((row) => ({
        generatorId: row.generator_id,
        holder: row.holder,
        issueFromMs: row.issue_from_ms,
        expiresAtMs: row.expires_at_ms,
      }))
  }

  /**
   * Leases (or renews) a generator ID for `holder`, whose IDs are at `holderTimeMs` (the
   * later of its clock and its last ID's timestamp).
   * 503 with Retry-After when every ID is held by a live lease.
   */
  acquire(holder: string, holderTimeMs: number): LeaseRow {
    const nowMs = Date.now()
    return this.ctx.storage.transactionSync(() => {
      const rows = this.leases()
      const granted = grantLease(rows, { holder, holderTimeMs, nowMs, durationMs: GENERATOR_LEASE_MS })
      if (!granted) {
        const firstFree = Math.min(...rows.map((row) => row.expiresAtMs))
        throw new AppError('unavailable', 'All 1,024 Snowflake generator IDs of this tenant are leased.', {
          headers: { 'Retry-After': String(Math.max(1, Math.ceil((firstFree - nowMs) / 1000))) },
        })
      }
      this.ctx.storage.sql.exec(
        'DELETE FROM generator_leases WHERE generator_id = ? OR holder = ?',
        granted.generatorId,
        holder,
      )
      this.ctx.storage.sql.exec(
        'INSERT INTO generator_leases (generator_id, holder, issue_from_ms, expires_at_ms) VALUES (?, ?, ?, ?)',
        granted.generatorId,
        holder,
        granted.issueFromMs,
        granted.expiresAtMs,
      )
      return granted
    })
  }
}

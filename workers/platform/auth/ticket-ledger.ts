/**
 * `StreamTicketLedger`: one object per tenant that remembers which stream tickets have been
 * used, so each opens a stream once. `redeem` is one synchronous transaction (insert if
 * absent), so two concurrent uses of one ticket cannot both succeed. A used ticket's row is
 * kept until the ticket expires (after that its signature check refuses it anyway); the
 * object's one alarm deletes expired rows.
 */
import type { Env } from '../env'
import { HostedObject } from '../hosted-object'

declare global {
  namespace Cloudflare {
    interface Env {
      STREAM_TICKETS: DurableObjectNamespace<StreamTicketLedger>
    }
  }
}

export class StreamTicketLedger extends HostedObject<Env> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS used_tickets (
           ticket_id TEXT PRIMARY KEY,
           expires_at INTEGER NOT NULL
         )`,
      )
    })
  }

  /** True the first time a ticket id is redeemed, false ever after (until it has expired). */
  async redeem(ticketId: string, expiresAtMs: number): Promise<boolean> {
    const first = this.ctx.storage.transactionSync(
      () =>
        this.sql.exec(
          'INSERT OR IGNORE INTO used_tickets (ticket_id, expires_at) VALUES (?, ?)',
          ticketId,
          expiresAtMs,
        ).rowsWritten > 0,
    )
    if (first && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(expiresAtMs)
    return first
  }

  override async alarm(): Promise<void> {
    const next = this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM used_tickets WHERE expires_at <= ?', Date.now())
      return this.sql.exec<{ next: number | null }>('SELECT MIN(expires_at) AS next FROM used_tickets').one()
        .next
    })
    if (next !== null) await this.ctx.storage.setAlarm(next)
  }
}

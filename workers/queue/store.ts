/**
 * The messages of one queue partition in its Durable Object's SQLite (tables and states:
 * `tables.ts`). The object calls each method inside one `transactionSync`, so every
 * read-compute-write is atomic.
 *
 * `applyDue(now)` performs every transition whose time has come: expired messages are
 * deleted, delayed ones become ready, and an in-flight one whose deadline passed becomes
 * ready again, or moving to the dead-letter queue once it has used up its deliveries.
 *
 * Guarantees: at-least-once (a message leaves only by ack, retention, purge or a completed
 * move); a delivery's receipt is honoured only while its delivery number and nonce are the
 * message's current ones; FIFO: a group is served only while none of its messages is in
 * flight or moving and only up to its first delayed message, in `seq` order; a duplicate
 * send inside the deduplication window stores nothing and returns the first message's id.
 * Cost: a send is one insert per message (+ one dedup row for FIFO); a receive is one
 * indexed scan of ready messages (FIFO adds two indexed lookups per candidate).
 */
import { QUEUE_LIMITS } from '../../schemas/queue'
import { shardFor } from '../platform/hashing'
import type { DepthCounts } from './depths'
import type { OutgoingMessage, Receipt } from './messages'
import { deliveryLimit, type PartitionConfig } from './settings'
import {
  addToCounter,
  COUNTERS,
  type Counter,
  type DeadLetterHistory,
  type Delivery,
  type Destination,
  type MessageState,
  markMoving,
  type Row,
  SCHEMA,
  SCHEMA_VERSION,
  toDelivery,
} from './tables'

const FIFO_SERVABLE = `
  AND NOT EXISTS (SELECT 1 FROM messages b WHERE b.group_id = m.group_id AND b.state IN ('inflight', 'moving'))
  AND NOT EXISTS (SELECT 1 FROM messages b WHERE b.group_id = m.group_id AND b.state = 'delayed' AND b.seq < m.seq)`

export type ReceiptCheck =
  | { ok: true; seq: number; state: MessageState; dueAt: number; receiveCount: number }
  | { ok: false; reason: 'gone' | 'stale' }

export class PartitionStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement)
    this.setMeta('schema_version', String(SCHEMA_VERSION))
  }

  getMeta(key: string): string | undefined {
    const row = this.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]
    return row?.value
  }

  setMeta(key: string, value: string): void {
    this.sql.exec(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      key,
      value,
    )
  }

  deleteMeta(key: string): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key)
  }

  /** Forgets every message, dedup entry, idempotency key and counter (a queue created anew, or deleted). */
  wipe(): void {
    this.sql.exec('DELETE FROM messages')
    this.sql.exec('DELETE FROM dedup')
    this.sql.exec('DELETE FROM idempotency')
    this.sql.exec('DELETE FROM counters')
  }

  count(counter: Counter, by = 1): void {
    addToCounter(this.sql, counter, by)
  }

  /** Stores messages; FIFO duplicates inside the window return the first message instead. */
  send(
    config: PartitionConfig,
    messages: OutgoingMessage[],
    dedupKeys: Array<string | undefined>,
    newId: () => string,
    now: number,
  ): Array<{ messageId: string; duplicate: boolean; sequenceNumber: number }> {
    this.sql.exec('DELETE FROM dedup WHERE expires_at <= ?', now)
    const results = messages.map((message, index) => {
      const key = dedupKeys[index]
      if (key !== undefined) {
        const seen = this.sql
          .exec<{ message_id: string; seq: number }>('SELECT message_id, seq FROM dedup WHERE key = ?', key)
          .toArray()[0]
        if (seen) return { messageId: seen.message_id, duplicate: true, sequenceNumber: seen.seq }
      }
      const delayMs = (message.delaySeconds ?? config.delaySeconds) * 1000
      const id = newId()
      const { seq } = this.sql
        .exec<{ seq: number }>(
          `INSERT INTO messages (id, body, attributes, group_id, state, due_at, sent_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
          id,
          message.body,
          JSON.stringify(message.attributes ?? {}),
          message.groupId ?? null,
          delayMs > 0 ? 'delayed' : 'ready',
          now + delayMs,
          now,
          now + config.retentionSeconds * 1000,
        )
        .one()
      if (key !== undefined) {
        this.sql.exec(
          'INSERT INTO dedup (key, message_id, seq, expires_at) VALUES (?, ?, ?, ?)',
          key,
          id,
          seq,
          now + QUEUE_LIMITS.deduplicationWindowSeconds * 1000,
        )
      }
      return { messageId: id, duplicate: false, sequenceNumber: seq }
    })
    const stored = results.filter((result) => !result.duplicate).length
    this.count('sent', stored)
    this.count('deduplicated', results.length - stored)
    return results
  }

  /** Every transition whose time has come: expiry (idempotency keys too), end of delay, end of visibility. */
  applyDue(config: PartitionConfig, now: number): void {
    this.sql.exec('DELETE FROM idempotency WHERE expires_at <= ?', now)
    const expired = this.sql.exec('DELETE FROM messages WHERE expires_at <= ? RETURNING seq', now).toArray()
    this.count('expired', expired.length)
    this.sql.exec(`UPDATE messages SET state = 'ready' WHERE state = 'delayed' AND due_at <= ?`, now)
    const overdue = this.sql
      .exec<{ seq: number }>(`SELECT seq FROM messages WHERE state = 'inflight' AND due_at <= ?`, now)
      .toArray()
    for (const { seq } of overdue) this.release(config, seq, now)
  }

  /** A delivered message back to ready, or to the dead-letter queue when out of deliveries. */
  release(config: PartitionConfig, seq: number, now: number): 'ready' | 'moving' {
    const row = this.sql
      .exec<Row>(
        'SELECT id, receive_count, first_received_at, last_received_at FROM messages WHERE seq = ?',
        seq,
      )
      .one()
    const limit = deliveryLimit(config)
    if (config.deadLetter && limit !== undefined && Number(row.receive_count) >= limit) {
      const history: DeadLetterHistory = {
        sourceQueue: config.queue,
        sourcePartition: config.partition,
        reason: config.push ? 'push-exhausted' : 'max-receives',
        receiveCount: Number(row.receive_count),
        firstReceivedAt: row.first_received_at === null ? null : Number(row.first_received_at),
        lastReceivedAt: row.last_received_at === null ? null : Number(row.last_received_at),
        deadLetteredAt: now,
      }
      const destination: Destination = {
        queue: config.deadLetter.queue,
        partition: shardFor(String(row.id), Math.max(1, config.deadLetterPartitions)),
        kind: 'dead-letter',
      }
      markMoving(this.sql, seq, destination, history, now)
      return 'moving'
    }
    this.sql.exec(`UPDATE messages SET state = 'ready', due_at = ? WHERE seq = ?`, now, seq)
    return 'ready'
  }

  /** Delivers up to `max` servable messages, invisible until `now + visibilityMs`. */
  receive(
    config: PartitionConfig,
    max: number,
    visibilityMs: number,
    nonce: () => string,
    now: number,
  ): Delivery[] {
    const rows = this.sql
      .exec<Row>(
        `SELECT seq FROM messages m WHERE m.state = 'ready' ${config.fifo ? FIFO_SERVABLE : ''}
         ORDER BY m.seq LIMIT ?`,
        max,
      )
      .toArray()
    const deliveries = rows.map(({ seq }) => {
      const row = this.sql
        .exec<Row>(
          `UPDATE messages SET state = 'inflight', due_at = ?, receive_count = receive_count + 1,
             first_received_at = COALESCE(first_received_at, ?), last_received_at = ?, receipt_nonce = ?
           WHERE seq = ? RETURNING *`,
          now + visibilityMs,
          now,
          now,
          nonce(),
          seq,
        )
        .one()
      return toDelivery(row)
    })
    this.count('received', deliveries.length)
    return deliveries
  }

  /** Is this receipt the message's current delivery? */
  checkReceipt(receipt: Receipt): ReceiptCheck {
    const row = this.sql
      .exec<Row>(
        'SELECT seq, state, due_at, receive_count, receipt_nonce FROM messages WHERE id = ?',
        receipt.messageId,
      )
      .toArray()[0]
    if (!row || row.state === 'moving') return { ok: false, reason: 'gone' }
    if (Number(row.receive_count) !== receipt.receiveCount || row.receipt_nonce !== receipt.nonce) {
      return { ok: false, reason: 'stale' }
    }
    return {
      ok: true,
      seq: Number(row.seq),
      state: row.state as MessageState,
      dueAt: Number(row.due_at),
      receiveCount: Number(row.receive_count),
    }
  }

  delete(seq: number, counter: Counter): void {
    this.sql.exec('DELETE FROM messages WHERE seq = ?', seq)
    this.count(counter)
  }

  /** Keeps an in-flight message invisible until `dueAt`. */
  extend(seq: number, dueAt: number): void {
    this.sql.exec('UPDATE messages SET due_at = ? WHERE seq = ?', dueAt, seq)
  }

  /** Puts a failed push delivery back, visible again at `retryAt`. */
  retryLater(seq: number, retryAt: number): void {
    this.sql.exec(
      `UPDATE messages SET state = 'delayed', due_at = ? WHERE seq = ? AND state = 'inflight'`,
      retryAt,
      seq,
    )
  }

  /** Would a receive get a message now? (FIFO: a visible message whose group is not held.) */
  hasServable(config: PartitionConfig): boolean {
    const servable = `SELECT 1 FROM messages m WHERE m.state = 'ready' ${config.fifo ? FIFO_SERVABLE : ''} LIMIT 1`
    return this.sql.exec(servable).toArray().length > 0
  }

  /** The earliest time a transition is due (undefined: nothing pending). */
  nextDueAt(): number | undefined {
    const times = [
      this.sql.exec<{ t: number | null }>('SELECT MIN(expires_at) AS t FROM messages').one().t,
      this.sql.exec<{ t: number | null }>('SELECT MIN(expires_at) AS t FROM idempotency').one().t,
      ...(['delayed', 'inflight', 'moving'] as const).map(
        (state) =>
          this.sql
            .exec<{ t: number | null }>('SELECT MIN(due_at) AS t FROM messages WHERE state = ?', state)
            .one().t,
      ),
    ].filter((time): time is number => time !== null)
    return times.length > 0 ? Math.min(...times) : undefined
  }

  purge(): number {
    const purged = this.sql.exec('DELETE FROM messages RETURNING seq').toArray().length
    this.count('purged', purged)
    return purged
  }

  /** Counts by state and the oldest message's send time, for the depth registry (depths.ts). */
  depth(): Omit<DepthCounts, 'hasDeadLetter'> {
    const { visible, inFlight, delayed, moving, deadLettered } = this.stats(0)
    const oldest = this.sql.exec<{ t: number | null }>('SELECT MIN(sent_at) AS t FROM messages').one().t
    return { visible, inFlight, delayed, moving, oldestSentAt: oldest, deadLettered }
  }

  stats(now: number) {
    const byState: Record<MessageState, number> = { delayed: 0, ready: 0, inflight: 0, moving: 0 }
    for (const row of this.sql.exec<{ state: MessageState; n: number }>(
      'SELECT state, COUNT(*) AS n FROM messages GROUP BY state',
    )) {
      byState[row.state] = row.n
    }
    const oldest = this.sql.exec<{ t: number | null }>('SELECT MIN(sent_at) AS t FROM messages').one().t
    const counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<Counter, number>
    for (const row of this.sql.exec<{ name: Counter; value: number }>('SELECT name, value FROM counters')) {
      counters[row.name] = row.value
    }
    return {
      visible: byState.ready,
      inFlight: byState.inflight,
      delayed: byState.delayed,
      moving: byState.moving,
      oldestMessageAgeSeconds: oldest === null ? null : Math.max(0, Math.floor((now - oldest) / 1000)),
      ...counters,
    }
  }
}

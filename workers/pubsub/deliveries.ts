/**
 * The delivery state of every message of every pull and push subscription of a topic, in
 * the topic object's SQLite. The object calls every method inside one `transactionSync`.
 *
 * Each subscription has a `cursor`: the last log seq it has looked at. Pull and push
 * subscriptions copy the messages after it that pass their filter into `deliveries`
 * (lazily, a bounded number per call), one row per (subscription, message) until it is
 * acknowledged. A row is available when `visible_at` has passed; delivering it takes a new
 * lease, counts an attempt and hides it until the ack deadline (pull) or the push timeout.
 *
 * Guarantees:
 * - Ordering: a message with an ordering key is available only while no earlier message
 *   with that key is still unacknowledged in the subscription, so at most one message per
 *   key is outstanding and each is delivered only after the one before it was settled.
 * - At-least-once: a row leaves only by an ack under its current lease, a completed move
 *   to the dead-letter topic, retention, or a seek; an expired lease makes it available.
 * - Dead letters: with a dead-letter topic, a row that used `maxDeliveries` attempts is
 *   never delivered again; once available it is `exhausted` and waits to be moved.
 * Cost: a receive is one scan of available rows in seq order (with one indexed lookup per
 * keyed candidate) plus one update per delivered message; topping up reads at most
 * TOP_UP_BUDGET log headers.
 */
import { ackIdOf, parseAckId } from './delivery-rules'
import { matchesFilter } from './filter'
import type { StoredMessage } from './messages'
import type { SubscriptionRecord, SubscriptionTable } from './subscriptions'
import { type TopicLog, type TopicState, toStoredMessage } from './topic-log'

export interface Lease {
  seq: number
  lease: number
  /** The first lease of this delivery: the same on every retry, new after a seek replays it. */
  firstLease: number
  ackId: string
  /** Attempts including this one. */
  attempts: number
  lastError: string | null
  message: StoredMessage
}

export interface SettleResult {
  count: number
  invalidAckIds: string[]
}

/** Log messages examined per top-up. */
const TOP_UP_BUDGET = 1000
const NO_LIMIT = Number.MAX_SAFE_INTEGER

type LeaseRow = {
  seq: number
  lease: number
  first_lease: number
  attempts: number
  last_error: string | null
  published_at: number
  data: ArrayBuffer
  attributes: string | null
  ordering_key: string | null
}

function toLease(row: LeaseRow): Lease {
  return {
    seq: row.seq,
    lease: row.lease,
    firstLease: row.first_lease,
    ackId: ackIdOf(row.seq, row.lease),
    attempts: row.attempts,
    lastError: row.last_error,
    message: toStoredMessage(row),
  }
}

/** Attempts at which a row stops being delivered (dead-letter threshold). */
function attemptLimit(subscription: SubscriptionRecord): number {
  return subscription.config.deadLetter?.maxDeliveries ?? NO_LIMIT
}

export class DeliveryStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly log: TopicLog,
    private readonly subscriptions: SubscriptionTable,
  ) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS deliveries (
      subscription INTEGER NOT NULL, seq INTEGER NOT NULL, ordering_key TEXT,
      attempts INTEGER NOT NULL DEFAULT 0, visible_at INTEGER NOT NULL DEFAULT 0,
      lease INTEGER, first_lease INTEGER, last_error TEXT,
      PRIMARY KEY (subscription, seq)) WITHOUT ROWID`)
    this.sql.exec(`CREATE INDEX IF NOT EXISTS deliveries_by_key
      ON deliveries (subscription, ordering_key, seq) WHERE ordering_key IS NOT NULL`)
    this.sql.exec('CREATE INDEX IF NOT EXISTS deliveries_by_lease ON deliveries (subscription, lease)')
    this.sql.exec(`CREATE TABLE IF NOT EXISTS lease_counter (
      id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL)`)
  }

  /** Forgets every delivery of a subscription (it is being deleted). */
  removeAll(subscription: SubscriptionRecord): void {
    this.sql.exec('DELETE FROM deliveries WHERE subscription = ?', subscription.id)
  }

  stats(subscription: SubscriptionRecord, state: TopicState, now: number) {
    const cursor = this.subscriptions.cursor(subscription)
    const rows = this.sql
      .exec<{ total: number; outstanding: number | null }>(
        `SELECT count(*) AS total, sum(CASE WHEN lease IS NOT NULL AND visible_at > ? THEN 1 ELSE 0 END) AS outstanding
         FROM deliveries WHERE subscription = ?`,
        now,
        subscription.id,
      )
      .one()
    const unscanned = subscription.config.type === 'streaming' ? 0 : Math.max(0, state.headSeq - cursor)
    return { cursor, backlog: rows.total + unscanned, outstanding: rows.outstanding ?? 0 }
  }

  /** Copies up to TOP_UP_BUDGET log messages after the cursor that pass the filter into deliveries. */
  topUp(subscription: SubscriptionRecord, state: TopicState): void {
    let cursor = this.subscriptions.cursor(subscription)
    if (cursor >= state.headSeq) return
    const headers = this.log.readHeaders(cursor, TOP_UP_BUDGET)
    for (const header of headers) {
      if (matchesFilter(subscription.config.filter, header.attributes)) {
        this.sql.exec(
          'INSERT OR IGNORE INTO deliveries (subscription, seq, ordering_key) VALUES (?, ?, ?)',
          subscription.id,
          header.seq,
          header.orderingKey,
        )
      }
      cursor = header.seq
    }
    if (headers.length < TOP_UP_BUDGET) cursor = state.headSeq
    this.subscriptions.setCursor(subscription, cursor)
  }

  /** Available rows in seq order, at most one per ordering key, skipping exhausted ones. */
  private available(subscription: SubscriptionRecord, now: number, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>(
        `SELECT d.seq FROM deliveries d
         WHERE d.subscription = ?1 AND d.visible_at <= ?2 AND d.attempts < ?3
           AND (d.ordering_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM deliveries e
             WHERE e.subscription = ?1 AND e.ordering_key = d.ordering_key AND e.seq < d.seq))
         ORDER BY d.seq LIMIT ?4`,
        subscription.id,
        now,
        attemptLimit(subscription),
        limit,
      )
      .toArray()
      .map((row) => row.seq)
  }

  /** Delivers up to `limit` available messages: a lease each, hidden until `hiddenUntil`. */
  lease(
    subscription: SubscriptionRecord,
    state: TopicState,
    now: number,
    limit: number,
    hiddenUntil: number,
  ) {
    this.topUp(subscription, state)
    const seqs = this.available(subscription, now, limit)
    if (seqs.length === 0) return []
    const first = this.takeLeases(seqs.length)
    seqs.forEach((seq, index) => {
      const lease = first + index
      this.sql.exec(
        `UPDATE deliveries SET attempts = attempts + 1, visible_at = ?, lease = ?,
           first_lease = coalesce(first_lease, ?) WHERE subscription = ? AND seq = ?`,
        hiddenUntil,
        lease,
        lease,
        subscription.id,
        seq,
      )
    })
    return this.leasesBetween(subscription, first, first + seqs.length)
  }

  private takeLeases(count: number): number {
    const row = this.sql
      .exec<{ next: number }>(
        `INSERT INTO lease_counter (id, next) VALUES (1, 1 + ?1)
         ON CONFLICT (id) DO UPDATE SET next = next + ?1 RETURNING next`,
        count,
      )
      .one()
    return row.next - count
  }

  private leasesBetween(subscription: SubscriptionRecord, from: number, to: number): Lease[] {
    return this.sql
      .exec<LeaseRow>(
        `SELECT d.seq, d.lease, d.first_lease, d.attempts, d.last_error, m.published_at, m.data, m.attributes, m.ordering_key
         FROM deliveries d JOIN messages m ON m.seq = d.seq
         WHERE d.subscription = ? AND d.lease >= ? AND d.lease < ? ORDER BY d.seq`,
        subscription.id,
        from,
        to,
      )
      .toArray()
      .map(toLease)
  }

  /** Rows that used every attempt and are due again: they go to the dead-letter topic. */
  exhausted(subscription: SubscriptionRecord, now: number, limit: number): Lease[] {
    if (!subscription.config.deadLetter) return []
    return this.sql
      .exec<LeaseRow>(
        `SELECT d.seq, d.lease, d.first_lease, d.attempts, d.last_error, m.published_at, m.data, m.attributes, m.ordering_key
         FROM deliveries d JOIN messages m ON m.seq = d.seq
         WHERE d.subscription = ? AND d.attempts >= ? AND d.visible_at <= ? ORDER BY d.seq LIMIT ?`,
        subscription.id,
        attemptLimit(subscription),
        now,
        limit,
      )
      .toArray()
      .map(toLease)
  }

  /** Acks (deletes) or re-times each row whose current lease the ack id names. */
  settle(
    subscription: SubscriptionRecord,
    ackIds: string[],
    action: { kind: 'ack' } | { kind: 'defer'; visibleAt: number },
  ): SettleResult {
    const invalidAckIds: string[] = []
    let count = 0
    for (const ackId of ackIds) {
      const parsed = parseAckId(ackId)
      const changed = parsed
        ? action.kind === 'ack'
          ? this.removeLease(subscription, parsed.seq, parsed.lease)
          : this.retime(subscription, parsed.seq, parsed.lease, action.visibleAt, null)
        : false
      if (changed) count += 1
      else invalidAckIds.push(ackId)
    }
    return { count, invalidAckIds }
  }

  /** Deletes the row if `lease` is still its current lease. */
  removeLease(subscription: SubscriptionRecord, seq: number, lease: number): boolean {
    const deleted = this.sql.exec(
      'DELETE FROM deliveries WHERE subscription = ? AND seq = ? AND lease = ? RETURNING seq',
      subscription.id,
      seq,
      lease,
    )
    return deleted.toArray().length > 0
  }

  /** Sets when the row is available again, if `lease` is still its current lease. */
  retime(
    subscription: SubscriptionRecord,
    seq: number,
    lease: number,
    visibleAt: number,
    error: string | null,
  ): boolean {
    const updated = this.sql.exec(
      `UPDATE deliveries SET visible_at = ?, last_error = coalesce(?, last_error)
       WHERE subscription = ? AND seq = ? AND lease = ? RETURNING seq`,
      visibleAt,
      error,
      subscription.id,
      seq,
      lease,
    )
    return updated.toArray().length > 0
  }

  /** Replays from `cursor`: every delivery state is dropped (outstanding ack ids become invalid). */
  seek(subscription: SubscriptionRecord, cursor: number): void {
    this.removeAll(subscription)
    this.subscriptions.setCursor(subscription, cursor)
  }

  /** Retention removed every message up to `seq`: their delivery rows go too. */
  dropThrough(seq: number): void {
    this.sql.exec('DELETE FROM deliveries WHERE seq <= ?', seq)
  }

  /**
   * When the object must next act for this subscription on its own: push — now while a
   * message is available or exhausted, else when the next one becomes available; pull with
   * a dead-letter topic — when an exhausted message becomes due for the move; else never.
   */
  nextDue(subscription: SubscriptionRecord, state: TopicState, now: number): number | null {
    const { type, deadLetter } = subscription.config
    if (type === 'streaming' || (type === 'pull' && !deadLetter)) return null
    if (this.exhausted(subscription, now, 1).length > 0) return now
    if (type === 'push') {
      if (
        this.subscriptions.cursor(subscription) < state.headSeq ||
        this.available(subscription, now, 1).length > 0
      )
        return now
      return this.sql
        .exec<{ at: number | null }>(
          'SELECT min(visible_at) AS at FROM deliveries WHERE subscription = ? AND visible_at > ?',
          subscription.id,
          now,
        )
        .one().at
    }
    return this.sql
      .exec<{ at: number | null }>(
        'SELECT min(visible_at) AS at FROM deliveries WHERE subscription = ? AND attempts >= ? AND visible_at > ?',
        subscription.id,
        attemptLimit(subscription),
        now,
      )
      .one().at
  }
}

/**
 * Moving messages between queues: dead letters to the dead-letter queue, and redrive back
 * to the queue a dead letter came from. A move is an outbox: the message stays here in
 * state `moving` until the destination has stored it, then it is deleted here.
 *
 * Guarantees: nothing is lost (a failed move is retried with full-jitter backoff until it
 * arrives or its retention ends; a redrive whose source queue is gone puts the message back
 * as visible); a move claimed by one flush is leased so a concurrent flush does not send it
 * twice; moves leave in `seq` order and the destination stores them in that order, so
 * FIFO groups keep their order; a repeated arrival (same message id) is stored once.
 * Cost: one RPC per destination per batch of up to 100 messages.
 */
import { type BackoffPolicy, backoffDelayMs } from '../platform/delivery'
import { asAppError } from '../platform/errors'
import type { PartitionConfig } from './settings'
import {
  addToCounter,
  type DeadLetterHistory,
  type Destination,
  markMoving,
  type Row,
  type TransferredMessage,
  toTransferred,
} from './tables'

/** How long a claimed move may take before another flush may retry it. */
const MOVE_LEASE_MS = 60_000
const MOVE_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 5 * 60_000 }
const MOVE_BATCH = 100
const MOVE_ROUNDS_PER_FLUSH = 20

interface ClaimedMove {
  destination: Destination
  seqs: number[]
  messages: TransferredMessage[]
}

export class TransferStore {
  constructor(private readonly sql: SqlStorage) {}

  /** Claims the moves due now, grouped by destination, for `leaseMs`. */
  claimMoves(now: number, leaseMs: number, limit: number): ClaimedMove[] {
    const rows = this.sql
      .exec<Row>(
        `SELECT * FROM messages WHERE state = 'moving' AND due_at <= ? ORDER BY seq LIMIT ?`,
        now,
        limit,
      )
      .toArray()
    const groups = new Map<string, ClaimedMove>()
    for (const row of rows) {
      this.sql.exec('UPDATE messages SET due_at = ? WHERE seq = ?', now + leaseMs, row.seq)
      const key = String(row.move_to)
      let group = groups.get(key)
      if (!group) {
        group = { destination: JSON.parse(key) as Destination, seqs: [], messages: [] }
        groups.set(key, group)
      }
      group.seqs.push(Number(row.seq))
      group.messages.push(toTransferred(row))
    }
    return [...groups.values()]
  }

  /** The destination stored them: the messages leave this partition. */
  completeMove(seqs: number[], kind: Destination['kind']): void {
    for (const seq of seqs) this.sql.exec(`DELETE FROM messages WHERE seq = ? AND state = 'moving'`, seq)
    addToCounter(this.sql, kind === 'dead-letter' ? 'deadLettered' : 'redriven', seqs.length)
  }

  /** The move failed: try again after `delayMs(attempt)` (attempt 1 = the first retry). */
  retryMove(seqs: number[], now: number, delayMs: (attempt: number) => number): void {
    for (const seq of seqs) {
      const { move_attempts: attempt } = this.sql
        .exec<{ move_attempts: number }>(
          'UPDATE messages SET move_attempts = move_attempts + 1 WHERE seq = ? RETURNING move_attempts',
          seq,
        )
        .one()
      this.sql.exec('UPDATE messages SET due_at = ? WHERE seq = ?', now + delayMs(attempt), seq)
    }
  }

  /** A redrive whose source queue is gone: the messages stay here, visible. */
  cancelMove(seqs: number[], now: number): void {
    for (const seq of seqs) {
      this.sql.exec(`UPDATE messages SET state = 'ready', due_at = ?, move_to = NULL WHERE seq = ?`, now, seq)
    }
  }

  /** Marks up to `max` visible dead letters after `afterSeq` to move back to their source queues. */
  startRedrive(max: number, afterSeq: number, now: number): { count: number; lastSeq: number } {
    const rows = this.sql
      .exec<Row>(
        `SELECT seq, dead_letter FROM messages WHERE state = 'ready' AND dead_letter IS NOT NULL AND seq > ?
         ORDER BY seq LIMIT ?`,
        afterSeq,
        max,
      )
      .toArray()
    for (const row of rows) {
      const history = JSON.parse(String(row.dead_letter)) as DeadLetterHistory
      const destination: Destination = {
        queue: history.sourceQueue,
        partition: history.sourcePartition,
        kind: 'redrive',
      }
      markMoving(this.sql, Number(row.seq), destination, null, now)
    }
    return { count: rows.length, lastSeq: Number(rows.at(-1)?.seq ?? afterSeq) }
  }

  /**
   * Messages arriving from another queue, in order; a repeated arrival (same id) is ignored.
   * Dead letters keep their history; redriven messages are ordinary messages again.
   */
  accept(
    config: PartitionConfig,
    messages: TransferredMessage[],
    kind: Destination['kind'],
    now: number,
  ): number {
    let stored = 0
    for (const message of messages) {
      const inserted = this.sql
        .exec(
          `INSERT INTO messages (id, body, attributes, group_id, state, due_at, sent_at, expires_at, dead_letter)
           VALUES (?, ?, ?, ?, 'ready', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq`,
          message.id,
          message.body,
          JSON.stringify(message.attributes),
          config.fifo ? message.groupId : null,
          now,
          message.sentAt,
          now + config.retentionSeconds * 1000,
          kind === 'dead-letter' && message.deadLetter ? JSON.stringify(message.deadLetter) : null,
        )
        .toArray()
      stored += inserted.length
    }
    return stored
  }
}

/** Where moves go: the destination partition's `acceptTransfers`. */
export interface MoveHost {
  transaction<T>(work: () => T): T
  destination(destination: Destination): {
    acceptTransfers(messages: TransferredMessage[], kind: Destination['kind']): Promise<number>
  }
}

/** Sends every move due at `now`; returns how many redriven messages arrived or were cancelled. */
export async function flushMoves(
  host: MoveHost,
  transfers: TransferStore,
  now: number,
): Promise<{ redriven: number; cancelled: number }> {
  const outcome = { redriven: 0, cancelled: 0 }
  for (let round = 0; round < MOVE_ROUNDS_PER_FLUSH; round++) {
    const groups = host.transaction(() => transfers.claimMoves(now, MOVE_LEASE_MS, MOVE_BATCH))
    if (groups.length === 0) break
    for (const { destination, seqs, messages } of groups) {
      try {
        await host.destination(destination).acceptTransfers(messages, destination.kind)
        host.transaction(() => transfers.completeMove(seqs, destination.kind))
        if (destination.kind === 'redrive') outcome.redriven += seqs.length
      } catch (error) {
        const sourceGone = destination.kind === 'redrive' && asAppError(error).code === 'not_found'
        host.transaction(() => {
          if (sourceGone) transfers.cancelMove(seqs, now)
          else
            transfers.retryMove(seqs, now, (attempt) => backoffDelayMs(attempt, Math.random(), MOVE_BACKOFF))
        })
        if (sourceGone) outcome.cancelled += seqs.length
      }
    }
  }
  return outcome
}

/**
 * Moves up to `maxMessages` visible dead letters back to their source queues, in batches of
 * up to 100: each batch is marked moving in one transaction, then flushed.
 */
export async function redriveDeadLetters(
  host: MoveHost,
  transfers: TransferStore,
  maxMessages: number,
  now: () => number,
): Promise<{ moved: number; failed: number; pending: number }> {
  const totals = { moved: 0, failed: 0, pending: 0 }
  let afterSeq = 0
  while (totals.moved + totals.failed + totals.pending < maxMessages) {
    const startedAt = now()
    const batch = Math.min(MOVE_BATCH, maxMessages - totals.moved - totals.failed - totals.pending)
    const started = host.transaction(() => transfers.startRedrive(batch, afterSeq, startedAt))
    if (started.count === 0) break
    afterSeq = started.lastSeq
    const outcome = await flushMoves(host, transfers, startedAt)
    totals.moved += outcome.redriven
    totals.failed += outcome.cancelled
    totals.pending += started.count - outcome.redriven - outcome.cancelled
  }
  return { moved: totals.moved, failed: totals.failed, pending: Math.max(0, totals.pending) }
}

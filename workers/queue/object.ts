/**
 * `QueuePartition`: the Durable Object holding one partition of a queue,
 * `<tenant>:queue:<name>#<partition>`. A thin host around `PartitionStore`: it reads the
 * clock once per step, runs each state change in one `transactionSync`, holds long-polling
 * receivers, and keeps one alarm armed for the earliest due time (a delay ending, a
 * visibility deadline, a retention expiry, a move or push retry, a waiter's deadline).
 *
 * The alarm performs due transitions, wakes waiters, moves messages to other queues
 * (dead-letter, redrive; retried with full-jitter backoff until they arrive or expire) and
 * pushes batches to the queue's endpoint. A long-polling receive waits on an in-memory
 * promise that a send, a nack, an arrival or the alarm resolves: nothing polls.
 * The work inside each transaction lives beside it: `sending.ts` (sends, Idempotency-Key),
 * `receipts.ts` (ack, visibility), `transfers.ts` (moves, redrive), `store.ts` (the rest).
 */
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import type { ReceiveOptions } from './client'
import { forgetDepth, sendDepth } from './depth-registry'
import { DepthReporter } from './depths'
import { IdempotencyStore } from './idempotency'
import { nonceFrom, type Receipt, type ReceivedMessage, toReceivedMessage } from './messages'
import { pushVisible } from './push'
import { type AckStatus, ackReceipts, changeReceiptVisibility } from './receipts'
import { commitSend, prepareSend, type SendRequest, type SendResult } from './sending'
import { type PartitionConfig, QUEUE_KIND } from './settings'
import { PartitionStore } from './store'
import type { Destination, TransferredMessage } from './tables'
import { flushMoves, type MoveHost, redriveDeadLetters, TransferStore } from './transfers'
import { Waiters } from './waiters'

declare global {
  namespace Cloudflare {
    interface Env {
      QUEUES: DurableObjectNamespace<QueuePartition>
    }
  }
}

const newNonce = () => nonceFrom(crypto.getRandomValues(new Uint8Array(16)))
const newMessageId = () => crypto.randomUUID()

export class QueuePartition extends HostedObject<Env> {
  private readonly store: PartitionStore
  private readonly transfers: TransferStore
  private readonly keys: IdempotencyStore
  private readonly waiters = new Waiters()
  private config: PartitionConfig | undefined
  /** Zero in production; moved only by `advanceClockForTest`. */
  private clockOffsetMs = 0
  /** The alarm time set in storage (real clock), null when none. */
  private armedAt: number | null = null
  /** No push attempt before this time (after a failed one). */
  private pushPausedUntil = 0
  private dueWork: Promise<void> | undefined
  /** Depth reports to the registry for /metrics: on change, from the alarm, rate-limited. */
  private readonly depths = new DepthReporter()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new PartitionStore(ctx.storage.sql)
    this.transfers = new TransferStore(ctx.storage.sql)
    this.keys = new IdempotencyStore(ctx.storage.sql)
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      const config = this.store.getMeta('config')
      this.config = config ? (JSON.parse(config) as PartitionConfig) : undefined
      this.clockOffsetMs = Number(this.store.getMeta('clock_offset_ms') ?? 0)
      this.armedAt = await ctx.storage.getAlarm()
    })
  }

  /** (Re)creates the partition: forgets any earlier state under this name. */
  async initialize(config: PartitionConfig): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.store.wipe()
      this.store.setMeta('config', JSON.stringify(config))
    })
    this.config = config
    this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(this.now())
  }

  /**
   * New settings for an existing partition (a partition added by growing starts empty);
   * settings older than the current ones (two updates racing) are ignored.
   */
  async configure(config: PartitionConfig): Promise<void> {
    if (!this.config) return this.initialize(config)
    if (config.version < this.config.version) return
    this.store.setMeta('config', JSON.stringify(config))
    this.config = config
    this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(this.now())
  }

  /** Deletes every message and the configuration; later calls answer 404. */
  async destroy(): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.store.wipe()
      this.store.deleteMeta('config')
    })
    const gone = this.config
    this.config = undefined
    await this.ctx.storage.deleteAlarm()
    this.armedAt = null
    this.waiters.wakeAll()
    this.depths.reset()
    if (gone) await forgetDepth(this.env, gone)
  }

  /** Stores messages; an Idempotency-Key is checked and recorded in the same transaction (sending.ts). */
  async send(request: SendRequest): Promise<SendResult> {
    const before = this.requireConfig()
    const prepared = await prepareSend(before, request)
    const config = this.requireConfig()
    if (config !== before) return this.send(request)
    const now = this.now()
    const sent = this.ctx.storage.transactionSync(() =>
      commitSend({ messages: this.store, keys: this.keys }, config, request, prepared, newMessageId, now),
    )
    if (sent.results.some((result) => !result.duplicate) && !sent.replayed) this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(now)
    return sent
  }

  /** Up to `maxMessages` messages; with `waitSeconds`, holds the call until one is visible. */
  async receive(request: ReceiveOptions): Promise<ReceivedMessage[]> {
    const deadline = this.now() + request.waitSeconds * 1000
    for (;;) {
      const config = this.requireConfig()
      const now = this.now()
      const visibilityMs = (request.visibilityTimeoutSeconds ?? config.visibilityTimeoutSeconds) * 1000
      const deliveries = this.ctx.storage.transactionSync(() => {
        this.store.applyDue(config, now)
        return this.store.receive(config, request.maxMessages, visibilityMs, newNonce, now)
      })
      if (deliveries.length > 0 || now >= deadline) {
        if (deliveries.length > 0) this.depths.changed()
        await this.armAlarm(now)
        return deliveries.map((delivery) => toReceivedMessage(config.partition, delivery))
      }
      await this.waitForChange(deadline)
    }
  }

  /** Resolves true as soon as a message is visible, false after `waitMs` (partitioned receives). */
  async waitForMessages(waitMs: number): Promise<boolean> {
    const deadline = this.now() + waitMs
    for (;;) {
      const config = this.requireConfig()
      const now = this.now()
      const visible = this.ctx.storage.transactionSync(() => {
        this.store.applyDue(config, now)
        return this.store.hasServable(config)
      })
      if (visible || now >= deadline) {
        await this.armAlarm(now)
        return visible
      }
      await this.waitForChange(deadline)
    }
  }

  /** Deletes each message whose receipt is its current delivery: 200, 409 stale, 410 gone. */
  async ack(receipts: Receipt[]): Promise<Array<{ status: AckStatus; messageId: string }>> {
    const config = this.requireConfig()
    const results = this.ctx.storage.transactionSync(() => ackReceipts(this.store, receipts))
    if (config.fifo) this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(this.now())
    return results
  }

  /** Keeps a delivered message invisible `seconds` from now; 0 releases it at once (a nack). */
  async changeVisibility(
    receipt: Receipt,
    seconds: number,
  ): Promise<{ messageId: string; visibleAt: number }> {
    const config = this.requireConfig()
    const now = this.now()
    const visibleAt = this.ctx.storage.transactionSync(() =>
      changeReceiptVisibility(this.store, config, receipt, seconds, now),
    )
    if (seconds === 0) this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(now)
    return { messageId: receipt.messageId, visibleAt }
  }

  /** Messages moved here from another queue (dead letters, or redriven back to their source). */
  async acceptTransfers(messages: TransferredMessage[], kind: Destination['kind']): Promise<number> {
    const config = this.requireConfig()
    const now = this.now()
    const stored = this.ctx.storage.transactionSync(() => this.transfers.accept(config, messages, kind, now))
    this.waiters.wakeAll()
    this.depths.changed()
    await this.armAlarm(now)
    return stored
  }

  /** Moves up to `maxMessages` visible dead letters back to their source queues. */
  async redrive(maxMessages: number): Promise<{ moved: number; failed: number; pending: number }> {
    this.requireConfig()
    const totals = await redriveDeadLetters(this.moveHost(), this.transfers, maxMessages, () => this.now())
    this.depths.changed()
    await this.armAlarm(this.now())
    return totals
  }

  async purge(): Promise<number> {
    this.requireConfig()
    const purged = this.ctx.storage.transactionSync(() => this.store.purge())
    this.depths.changed()
    await this.armAlarm(this.now())
    return purged
  }

  async stats() {
    this.requireConfig()
    const now = this.now()
    const stats = this.ctx.storage.transactionSync(() => this.store.stats(now))
    return { ...stats, waitingReceivers: this.waiters.size }
  }

  /** Test hook: moves this object's clock forward (persisted); the next alarm sees the new time. */
  async advanceClockForTest(ms: number): Promise<void> {
    this.clockOffsetMs += ms
    this.store.setMeta('clock_offset_ms', String(this.clockOffsetMs))
  }

  /** Resolves when the alarm's work in progress (moves, pushes) is done. */
  async whenIdle(): Promise<void> {
    await this.dueWork
  }

  override async alarm(): Promise<void> {
    this.armedAt = null
    if (!this.dueWork) {
      this.dueWork = this.runDueWork().finally(() => {
        this.dueWork = undefined
      })
    }
    await this.dueWork
  }

  private async runDueWork(): Promise<void> {
    const config = this.config
    if (!config) return
    const now = this.now()
    this.ctx.storage.transactionSync(() => this.store.applyDue(config, now))
    this.waiters.wakeAll()
    if (config.push && now >= this.pushPausedUntil) {
      const host = {
        store: this.store,
        transaction: <T>(work: () => T) => this.ctx.storage.transactionSync(work),
        now: () => this.now(),
        nonce: newNonce,
      }
      this.pushPausedUntil = (await pushVisible(host, config)) ?? 0
    }
    await flushMoves(this.moveHost(), this.transfers, this.now())
    this.depths.changed()
    await this.depths.flush(
      this.now(),
      () => ({ ...this.store.depth(), hasDeadLetter: config.deadLetter !== null }),
      (counts) => sendDepth(this.env, config, counts),
    )
    await this.armAlarm(this.now())
  }

  private moveHost(): MoveHost {
    const config = this.requireConfig()
    return {
      transaction: (work) => this.ctx.storage.transactionSync(work),
      destination: (destination: Destination) =>
        objectStub(this.env.QUEUES, config.tenant, QUEUE_KIND, destination.queue, destination.partition),
    }
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs
  }

  private requireConfig(): PartitionConfig {
    if (!this.config) throw new AppError('not_found', 'The queue does not exist (it may have been deleted).')
    return this.config
  }

  private async waitForChange(deadline: number): Promise<void> {
    const woken = this.waiters.wait(deadline)
    await this.armAlarm(this.now())
    await woken
  }

  /** Arms the one alarm for the earliest due time, waiters and pending pushes included. */
  private async armAlarm(now: number): Promise<void> {
    const times: number[] = []
    const due = this.config ? this.store.nextDueAt() : undefined
    if (due !== undefined) times.push(due)
    const deadline = this.waiters.earliestDeadline()
    if (deadline !== undefined) times.push(deadline)
    const report = this.config ? this.depths.dueAt(now) : undefined
    if (report !== undefined) times.push(report)
    if (this.config?.push && this.store.hasServable(this.config))
      times.push(Math.max(now, this.pushPausedUntil))
    if (times.length === 0) {
      if (this.armedAt !== null) {
        this.armedAt = null
        await this.ctx.storage.deleteAlarm()
      }
      return
    }
    const at = Math.min(...times) - this.clockOffsetMs
    if (this.armedAt !== at) {
      this.armedAt = at
      await this.ctx.storage.setAlarm(at)
    }
  }
}

/**
 * The background upkeep of one topic object: when each piece of work is due and what runs
 * when the alarm fires — retention trims, and per subscription its push loop (kept alive
 * by a backstop due time while it runs) or its next dead-letter move. It owns the `timers`
 * table (through `Timers`) and sees the push loops and dead-letter moves only through
 * `UpkeepHost`.
 *
 * Guarantees: `afterPublish`, `retime` and `forget` only change due times and run inside
 * the caller's transaction; `arm()` then sets the one alarm for the earliest of them. A
 * fired alarm never waits on a push endpoint: it only starts push loops, and it waits for
 * dead-letter moves (bounded RPCs to other topics) before re-arming.
 * Cost: one indexed statement per due time changed; one transaction per due item on alarm.
 */
import type { DeliveryStore } from './deliveries'
import type { SubscriptionRecord, SubscriptionTable } from './subscriptions'
import { Timers } from './timers'
import type { TopicLog, TopicState } from './topic-log'

/** While a push loop runs, its subscription's alarm stays this far ahead (a backstop). */
const PUSH_BACKSTOP_MS = 60_000

export interface UpkeepHost {
  /** Whether the subscription's push loop is running. */
  isPushing(name: string): boolean
  /** Starts the subscription's push loop unless it runs. */
  startPush(name: string): void
  /** Moves the subscription's exhausted messages to its dead-letter topic. */
  deadLetter(subscription: SubscriptionRecord): Promise<void>
}

export class Upkeep {
  private readonly timers: Timers

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly log: TopicLog,
    private readonly subscriptions: SubscriptionTable,
    private readonly deliveries: DeliveryStore,
    private readonly host: UpkeepHost,
  ) {
    this.timers = new Timers(storage.sql, storage)
  }

  createTables(): void {
    this.timers.createTables()
  }

  /**
   * After new messages were stored (inside the publish transaction): the next trim is due
   * when the oldest can expire (now when the log is over its byte budget), and every push
   * subscription gets its backstop.
   */
  afterPublish(before: TopicState, now: number): void {
    const { retention, deduplicationWindowSeconds } = before.config
    let trimDue = now + retention.maxAgeSeconds * 1000
    if (deduplicationWindowSeconds > 0) trimDue = Math.min(trimDue, now + deduplicationWindowSeconds * 1000)
    if ((this.log.state()?.bytes ?? 0) > retention.maxBytes) trimDue = now
    this.timers.scheduleRetention(trimDue)
    for (const record of this.subscriptions.records()) {
      if (record.config.type === 'push') this.timers.scheduleSubscription(record.name, now + PUSH_BACKSTOP_MS)
    }
  }

  /** Sets the subscription's due time; a running push loop keeps only a backstop. */
  retime(record: SubscriptionRecord, state: TopicState, now: number): void {
    const due =
      record.config.type === 'push' && this.host.isPushing(record.name)
        ? now + PUSH_BACKSTOP_MS
        : this.deliveries.nextDue(record, state, now)
    this.timers.setSubscription(record.name, due)
  }

  /** The subscription was deleted: nothing is due for it any more. */
  forget(name: string): void {
    this.timers.setSubscription(name, null)
  }

  async retimeAndArm(name: string): Promise<void> {
    const record = this.subscriptions.get(name)
    const state = this.log.state()
    if (!record || !state) return
    this.storage.transactionSync(() => this.retime(record, state, Date.now()))
    await this.timers.arm()
  }

  /** Arms the alarm for the earliest due time (or deletes it). */
  arm(): Promise<void> {
    return this.timers.arm()
  }

  /** Storage was wiped: re-arm on the next `arm()`. */
  forgetArmed(): void {
    this.timers.forgetArmed()
  }

  /** The alarm fired: runs everything due, then re-arms for what is left. */
  async alarm(): Promise<void> {
    this.timers.forgetArmed()
    const state = this.log.state()
    if (!state) return
    const now = Date.now()
    const moves: Promise<void>[] = []
    for (const work of this.timers.due(now)) {
      if (work.kind === 'retention') {
        this.storage.transactionSync(() => {
          const through = this.log.trim(state, now)
          if (through > 0) this.deliveries.dropThrough(through)
          this.timers.setRetention(this.log.nextTrimDue(this.log.state() ?? state, now))
        })
        continue
      }
      const record = this.subscriptions.get(work.name)
      if (!record) this.storage.transactionSync(() => this.timers.setSubscription(work.name, null))
      else if (record.config.type === 'push') {
        this.storage.transactionSync(() => this.timers.setSubscription(work.name, now + PUSH_BACKSTOP_MS))
        this.host.startPush(record.name)
      } else moves.push(this.host.deadLetter(record).then(() => this.retimeAndArm(record.name)))
    }
    await Promise.all(moves)
    await this.timers.arm()
  }
}

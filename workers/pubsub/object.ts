/**
 * `PubsubTopic`: the Durable Object `<tenant>:topic:<name>` that is one topic — its
 * ordered log, its subscriptions with their delivery state, its streaming connections.
 *
 * A thin host: the log (topic-log.ts), subscriptions (subscriptions.ts), delivery state
 * (deliveries.ts), push loops (push.ts), streams (streams.ts) and dead-letter moves
 * (dead-letters.ts) do the work; this class runs each state change as one
 * `transactionSync`, keeps one alarm armed for the earliest due time in `timers`, and
 * answers RPC from the routes (and from other topics' objects, for dead letters).
 *
 * Guarantees: a publish returns once its messages are committed; stream fan-out and push
 * loops start after it returns, so no subscriber can slow a publisher. The alarm trims
 * retention and restarts what is due per subscription (push retries, dead-letter moves)
 * without waiting on any push endpoint.
 */
import { DurableObject } from 'cloudflare:workers'
import { PUBSUB_LIMITS } from '../../schemas/pubsub'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { objectStub } from '../platform/tenancy'
import type { EventOrigin } from './cloudevents'
import { DeadLetterMover } from './dead-letters'
import { DeliveryStore } from './deliveries'
import { DeliveryPort } from './delivery-port'
import { parseResumePoint } from './delivery-rules'
import { type RenderedMessage, renderForClient } from './formats'
import type { MessageDraft, PublishResult } from './messages'
import { PushWorker } from './push'
import { StreamHub } from './streams'
import { type SubscriptionConfig, type SubscriptionRecord, SubscriptionTable } from './subscriptions'
import { Timers } from './timers'
import { type TopicConfig, type TopicIdentity, TopicLog, type TopicState } from './topic-log'
import { type SubscriptionView, subscriptionView, type TopicStats } from './views'

declare global {
  namespace Cloudflare {
    interface Env {
      PUBSUB_TOPICS: DurableObjectNamespace<PubsubTopic>
    }
  }
}

/** While a push loop runs, its subscription's alarm stays this far ahead (a backstop). */
const PUSH_BACKSTOP_MS = 60_000

export type ReceivedMessage = { ackId: string; deliveryAttempt: number } & RenderedMessage
export type SeekTarget = { seq: number } | { time: number }

export class PubsubTopic extends DurableObject<Env> {
  private readonly log: TopicLog
  private readonly subscriptions: SubscriptionTable
  private readonly deliveries: DeliveryStore
  private readonly timers: Timers
  private readonly push: PushWorker
  private readonly streams: StreamHub
  private readonly deadLetters: DeadLetterMover

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    const sql = ctx.storage.sql
    this.log = new TopicLog(sql)
    this.subscriptions = new SubscriptionTable(sql)
    this.deliveries = new DeliveryStore(sql, this.log, this.subscriptions)
    this.timers = new Timers(sql, ctx.storage)
    const port = new DeliveryPort(ctx.storage, this.log, this.subscriptions, this.deliveries)
    this.deadLetters = new DeadLetterMover({
      deliveries: port,
      topic: () => this.log.state(),
      isCurrent: (record) => this.subscriptions.isCurrent(record),
      publishTo: (tenant, topic, drafts) =>
        objectStub(this.env.PUBSUB_TOPICS, tenant, 'topic', topic).publish(drafts),
    })
    this.push = new PushWorker({
      deliveries: port,
      subscription: (name) => this.subscriptions.get(name),
      origin: (record) => this.origin(record),
      deadLetter: (record) => this.deadLetters.move(record),
      stopped: (name) => this.retimeAndArm(name),
    })
    this.streams = new StreamHub({
      ctx,
      headSeq: () => this.log.state()?.headSeq ?? 0,
      read: (afterSeq, limit) => this.log.read(afterSeq, limit),
      subscription: (name) => this.subscriptions.get(name),
      origin: (record) => this.origin(record),
    })
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'))
    void ctx.blockConcurrencyWhile(async () => this.load())
  }

  private load(): void {
    const sql = this.ctx.storage.sql
    sql.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    if (sql.exec('SELECT version FROM schema_version').toArray().length === 0) {
      sql.exec('INSERT INTO schema_version (version) VALUES (1)')
    }
    this.log.createTables()
    this.subscriptions.createTables()
    this.deliveries.createTables()
    this.timers.createTables()
  }

  // ---- Topic

  /** Creates the topic in this object (replacing anything left from an earlier one). */
  async initialize(identity: TopicIdentity, config: TopicConfig): Promise<TopicStats> {
    if (this.log.state()) await this.destroy()
    const now = Date.now()
    this.transaction(() => this.log.initialize(identity, config, now))
    return this.describe()
  }

  /** Deletes everything: messages, subscriptions, streams, the alarm. */
  async destroy(): Promise<void> {
    this.streams.closeAll(4404, 'The topic was deleted')
    this.subscriptions.forget()
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    this.timers.forgetArmed()
    this.load()
  }

  describe(): TopicStats {
    const state = this.requireTopic()
    return {
      headSeq: state.headSeq,
      oldestSeq: this.log.oldestSeq(state),
      messages: state.messages,
      bytes: state.bytes,
      subscriptions: this.subscriptions.size,
      streams: this.streams.count(),
    }
  }

  async publish(drafts: MessageDraft[]): Promise<PublishResult[]> {
    const state = this.requireTopic()
    const now = Date.now()
    const results = this.transaction(() => {
      const results = this.log.publish(state, drafts, now)
      if (results.every((result) => result.duplicate)) return results
      const { retention, deduplicationWindowSeconds } = state.config
      let trimDue = now + retention.maxAgeSeconds * 1000
      if (deduplicationWindowSeconds > 0) trimDue = Math.min(trimDue, now + deduplicationWindowSeconds * 1000)
      if ((this.log.state()?.bytes ?? 0) > retention.maxBytes) trimDue = now
      this.timers.scheduleRetention(trimDue)
      for (const record of this.subscriptions.records()) {
        if (record.config.type === 'push')
          this.timers.scheduleSubscription(record.name, now + PUSH_BACKSTOP_MS)
      }
      return results
    })
    await this.timers.arm()
    if (results.some((result) => !result.duplicate)) {
      for (const record of this.subscriptions.records()) {
        if (record.config.type === 'push') void this.push.ensure(record.name)
      }
      this.streams.kick()
    }
    return results
  }

  // ---- Subscriptions

  createSubscription(name: string, config: SubscriptionConfig): SubscriptionView {
    const state = this.requireTopic()
    if (this.subscriptions.get(name))
      throw new AppError('conflict', `A subscription named "${name}" already exists.`)
    if (this.subscriptions.size >= PUBSUB_LIMITS.maxSubscriptionsPerTopic) {
      throw new AppError(
        'conflict',
        `A topic has at most ${PUBSUB_LIMITS.maxSubscriptionsPerTopic} subscriptions.`,
      )
    }
    const now = Date.now()
    const record = this.transaction(() => this.subscriptions.create(name, config, state.headSeq, now))
    return this.view(record, state, now, true)
  }

  listSubscriptions(limit: number, after?: string): { items: SubscriptionView[]; next?: string } {
    const state = this.requireTopic()
    const now = Date.now()
    const names = this.subscriptions
      .records()
      .map((record) => record.name)
      .filter((name) => after === undefined || name > after)
      .sort()
    const items = names
      .slice(0, limit)
      .map((name) => this.view(this.requireSubscription(name), state, now, false))
    const last = items.at(-1)?.name
    return names.length > limit && last !== undefined ? { items, next: last } : { items }
  }

  getSubscription(name: string): SubscriptionView {
    return this.view(this.requireSubscription(name), this.requireTopic(), Date.now(), false)
  }

  async deleteSubscription(name: string): Promise<void> {
    const record = this.requireSubscription(name)
    this.transaction(() => {
      this.deliveries.removeAll(record)
      this.subscriptions.remove(record)
      this.timers.setSubscription(name, null)
    })
    this.streams.closeSubscription(name, 4404, 'The subscription was deleted')
    await this.timers.arm()
  }

  async pull(name: string, maxMessages: number, ackDeadlineSeconds?: number): Promise<ReceivedMessage[]> {
    const record = this.requireSubscription(name, 'pull')
    const now = Date.now()
    const hiddenUntil = now + (ackDeadlineSeconds ?? record.config.ackDeadlineSeconds) * 1000
    const leases = this.transaction(() => {
      const leases = this.deliveries.lease(record, this.requireTopic(), now, maxMessages, hiddenUntil)
      this.retime(record, this.requireTopic(), now)
      return leases
    })
    await this.timers.arm()
    const origin = this.origin(record)
    return leases.map((lease) => ({
      ackId: lease.ackId,
      deliveryAttempt: lease.attempts,
      ...renderForClient(record.config.format, lease.message, origin),
    }))
  }

  acknowledge(name: string, ackIds: string[]) {
    const record = this.requireSubscription(name, 'pull')
    return this.transaction(() => this.deliveries.settle(record, ackIds, { kind: 'ack' }))
  }

  /** Hides the leased messages for `seconds` more; 0 makes them available now (a nack). */
  async modifyAckDeadline(name: string, ackIds: string[], seconds: number) {
    const record = this.requireSubscription(name, 'pull')
    const now = Date.now()
    const result = this.transaction(() => {
      const result = this.deliveries.settle(record, ackIds, {
        kind: 'defer',
        visibleAt: now + seconds * 1000,
      })
      this.retime(record, this.requireTopic(), now)
      return result
    })
    await this.timers.arm()
    return result
  }

  /** Replays from a sequence number (the first one delivered again) or from a time. */
  async seek(name: string, target: SeekTarget): Promise<{ cursor: number }> {
    const record = this.requireSubscription(name)
    const state = this.requireTopic()
    const first = 'seq' in target ? target.seq : this.log.firstSeqAtOrAfter(state, target.time)
    const cursor = Math.max(0, Math.min(first - 1, state.headSeq))
    this.transaction(() => {
      this.deliveries.seek(record, cursor)
      this.retime(record, state, Date.now())
    })
    await this.timers.arm()
    if (record.config.type === 'streaming') this.streams.reposition(name, cursor)
    if (record.config.type === 'push') void this.push.ensure(name)
    return { cursor }
  }

  /** Checks that a stream may open (the route calls this before `fetch`, to get typed errors). */
  checkStream(name: string): void {
    this.requireSubscription(name, 'streaming')
    if (this.streams.count() >= PUBSUB_LIMITS.maxStreamsPerTopic) {
      throw new AppError(
        'rate_limited',
        `A topic has at most ${PUBSUB_LIMITS.maxStreamsPerTopic} open streams.`,
        {
          headers: { 'Retry-After': '5' },
        },
      )
    }
  }

  /** Opens a stream: `?subscription=&after=&transport=websocket|sse`. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const name = url.searchParams.get('subscription') ?? ''
    if (!this.log.state() || this.subscriptions.get(name)?.config.type !== 'streaming') {
      return Response.json({ detail: 'No such streaming subscription.' }, { status: 404 })
    }
    const after = parseResumePoint(url.searchParams.get('after'))
    return url.searchParams.get('transport') === 'websocket'
      ? this.streams.openWebSocket(name, after)
      : this.streams.openEventStream(name, after)
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 ? 1000 : code, reason)
    } catch {
      // Already closed.
    }
  }

  // ---- Timers

  override async alarm(): Promise<void> {
    this.timers.forgetArmed()
    const state = this.log.state()
    if (!state) return
    const now = Date.now()
    const moves: Promise<void>[] = []
    for (const work of this.timers.due(now)) {
      if (work.kind === 'retention') {
        this.transaction(() => {
          const through = this.log.trim(state, now)
          if (through > 0) this.deliveries.dropThrough(through)
          this.timers.setRetention(this.log.nextTrimDue(this.log.state() ?? state, now))
        })
        continue
      }
      const record = this.subscriptions.get(work.name)
      if (!record) this.transaction(() => this.timers.setSubscription(work.name, null))
      else if (record.config.type === 'push') {
        this.transaction(() => this.timers.setSubscription(work.name, now + PUSH_BACKSTOP_MS))
        void this.push.ensure(record.name)
      } else moves.push(this.deadLetters.move(record).then(() => this.retimeAndArm(record.name)))
    }
    await Promise.all(moves)
    await this.timers.arm()
  }

  /** Resolves once no push loop, stream pump or dead-letter move is running. */
  async settled(): Promise<void> {
    do {
      await this.push.settled()
      await this.streams.settled()
      await this.deadLetters.settled()
    } while (this.push.running() > 0 || this.deadLetters.active() > 0)
  }

  // ---- Internals

  private transaction<T>(change: () => T): T {
    return this.ctx.storage.transactionSync(change)
  }

  /** Sets the subscription's due time; a running push loop keeps only a backstop. */
  private retime(record: SubscriptionRecord, state: TopicState, now: number): void {
    const due =
      record.config.type === 'push' && this.push.isRunning(record.name)
        ? now + PUSH_BACKSTOP_MS
        : this.deliveries.nextDue(record, state, now)
    this.timers.setSubscription(record.name, due)
  }

  private async retimeAndArm(name: string): Promise<void> {
    const record = this.subscriptions.get(name)
    const state = this.log.state()
    if (!record || !state) return
    this.transaction(() => this.retime(record, state, Date.now()))
    await this.timers.arm()
  }

  private requireTopic(): TopicState {
    const state = this.log.state()
    if (state) return state
    const name = this.ctx.id.name?.split(':')[2]
    throw new AppError('not_found', name ? `No topic named "${name}".` : 'No such topic.')
  }

  private requireSubscription(name: string, type?: SubscriptionConfig['type']): SubscriptionRecord {
    this.requireTopic()
    const record = this.subscriptions.get(name)
    if (!record) throw new AppError('not_found', `No subscription named "${name}".`)
    if (type && record.config.type !== type) {
      throw new AppError(
        'conflict',
        `"${name}" is a ${record.config.type} subscription; this needs a ${type} one.`,
      )
    }
    return record
  }

  private origin(record: SubscriptionRecord): EventOrigin {
    return { topic: this.log.state()?.name ?? '', subscription: record.name }
  }

  private view(
    record: SubscriptionRecord,
    state: TopicState,
    now: number,
    withSecret: boolean,
  ): SubscriptionView {
    const stats = { ...this.deliveries.stats(record, state, now), streams: this.streams.count(record.name) }
    return subscriptionView(record, state.name, stats, withSecret)
  }
}

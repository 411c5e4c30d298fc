/**
 * `PubsubTopic`: the Durable Object `<tenant>:topic:<name>` that is one topic — its
 * ordered log, its subscriptions with their delivery state, its streaming connections.
 *
 * A thin host: the log (topic-log.ts), subscriptions (subscriptions.ts), delivery state
 * (deliveries.ts), pulls (pull.ts), push loops (push.ts), streams (streams.ts),
 * dead-letter moves (dead-letters.ts) and due times with the alarm (upkeep.ts) do the
 * work; this class runs each state change as one `transactionSync` and answers RPC from
 * the routes (and from other topics' objects, for dead letters).
 *
 * Guarantees: a publish returns once its messages are committed; stream fan-out and push
 * loops start after it returns, so no subscriber can slow a publisher. The alarm trims
 * retention and restarts what is due per subscription (push retries, dead-letter moves)
 * without waiting on any push endpoint.
 */
import { PUBSUB_LIMITS } from '../../schemas/pubsub'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import type { EventOrigin } from './cloudevents'
import { DeadLetterMover } from './dead-letters'
import { DeliveryStore } from './deliveries'
import { DeliveryPort } from './delivery-port'
import type { MessageDraft, PublishResult } from './messages'
import { PullConsumer, type ReceivedMessage } from './pull'
import { PushWorker } from './push'
import { StreamHub } from './streams'
import { type SubscriptionConfig, type SubscriptionRecord, SubscriptionTable } from './subscriptions'
import { type TopicConfig, type TopicIdentity, TopicLog, type TopicState } from './topic-log'
import { Upkeep } from './upkeep'
import { type SubscriptionView, subscriptionView, type TopicStats } from './views'

declare global {
  namespace Cloudflare {
    interface Env {
      PUBSUB_TOPICS: DurableObjectNamespace<PubsubTopic>
    }
  }
}

export type SeekTarget = { seq: number } | { time: number }

export class PubsubTopic extends HostedObject<Env> {
  private readonly log: TopicLog
  private readonly subscriptions: SubscriptionTable
  private readonly deliveries: DeliveryStore
  private readonly upkeep: Upkeep
  private readonly pulls: PullConsumer
  private readonly push: PushWorker
  private readonly streams: StreamHub
  private readonly deadLetters: DeadLetterMover

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    const sql = ctx.storage.sql
    this.log = new TopicLog(sql)
    this.subscriptions = new SubscriptionTable(sql)
    this.deliveries = new DeliveryStore(sql, this.log, this.subscriptions)
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
      stopped: (name) => this.upkeep.retimeAndArm(name),
    })
    this.upkeep = new Upkeep(ctx.storage, this.log, this.subscriptions, this.deliveries, {
      isPushing: (name) => this.push.isRunning(name),
      startPush: (name) => void this.push.ensure(name),
      deadLetter: (record) => this.deadLetters.move(record),
    })
    this.pulls = new PullConsumer(ctx.storage, this.deliveries, this.upkeep, {
      topic: () => this.requireTopic(),
      origin: (record) => this.origin(record),
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
    this.upkeep.createTables()
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
    this.upkeep.forgetArmed()
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
      if (!results.every((result) => result.duplicate)) this.upkeep.afterPublish(state, now)
      return results
    })
    await this.upkeep.arm()
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
      this.upkeep.forget(name)
    })
    this.streams.closeSubscription(name, 4404, 'The subscription was deleted')
    await this.upkeep.arm()
  }

  async pull(name: string, maxMessages: number, ackDeadlineSeconds?: number): Promise<ReceivedMessage[]> {
    return this.pulls.pull(this.requireSubscription(name, 'pull'), maxMessages, ackDeadlineSeconds)
  }

  acknowledge(name: string, ackIds: string[]) {
    return this.pulls.acknowledge(this.requireSubscription(name, 'pull'), ackIds)
  }

  /** Hides the leased messages for `seconds` more; 0 makes them available now (a nack). */
  async modifyAckDeadline(name: string, ackIds: string[], seconds: number) {
    return this.pulls.modifyAckDeadline(this.requireSubscription(name, 'pull'), ackIds, seconds)
  }

  /** Replays from a sequence number (the first one delivered again) or from a time. */
  async seek(name: string, target: SeekTarget): Promise<{ cursor: number }> {
    const record = this.requireSubscription(name)
    const state = this.requireTopic()
    const first = 'seq' in target ? target.seq : this.log.firstSeqAtOrAfter(state, target.time)
    const cursor = Math.max(0, Math.min(first - 1, state.headSeq))
    this.transaction(() => {
      this.deliveries.seek(record, cursor)
      this.upkeep.retime(record, state, Date.now())
    })
    await this.upkeep.arm()
    if (record.config.type === 'streaming') this.streams.reposition(name, cursor)
    if (record.config.type === 'push') void this.push.ensure(name)
    return { cursor }
  }

  /** Checks that a stream may open (the route calls this before `fetch`, to get typed errors). */
  checkStream(name: string): void {
    this.requireSubscription(name, 'streaming')
    this.streams.checkCapacity()
  }

  /** Opens a stream: `?subscription=&after=&transport=websocket|sse`. */
  override async fetch(request: Request): Promise<Response> {
    const query = new URL(request.url).searchParams
    const name = query.get('subscription') ?? ''
    if (!this.log.state() || this.subscriptions.get(name)?.config.type !== 'streaming') {
      return Response.json({ detail: 'No such streaming subscription.' }, { status: 404 })
    }
    return this.streams.open(name, query)
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
    await this.upkeep.alarm()
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

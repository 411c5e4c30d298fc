/**
 * Moving a subscription's exhausted messages (every delivery attempt used) into its
 * dead-letter topic: publish them there through that topic's object (RPC), then remove
 * them here. One move per subscription runs at a time.
 *
 * Guarantees: nothing is dropped — a message leaves only after the dead-letter topic
 * stored it; if that topic is gone or fails, the messages stay and are tried again after a
 * jittered 10–30 s. A crash between the two steps repeats the publish, which the
 * dead-letter topic deduplicates by the per-lease deduplication id.
 * Cost: one RPC and one transaction per batch of up to DEAD_LETTER_BATCH messages.
 */
import { asAppError } from '../platform/errors'
import type { DeliveryPort } from './delivery-port'
import { deadLetterDraft } from './delivery-rules'
import type { MessageDraft } from './messages'
import type { SubscriptionRecord } from './subscriptions'

const DEAD_LETTER_BATCH = 100

export interface DeadLetterHost {
  deliveries: DeliveryPort
  /** The topic's identity; undefined once it is deleted. */
  topic(): { tenant: string; name: string } | undefined
  isCurrent(subscription: SubscriptionRecord): boolean
  publishTo(tenant: string, topic: string, drafts: MessageDraft[]): Promise<unknown>
}

export class DeadLetterMover {
  private readonly running = new Map<string, Promise<void>>()

  constructor(private readonly host: DeadLetterHost) {}

  /** Moves what is exhausted now; joins a move already running for the subscription. */
  move(subscription: SubscriptionRecord): Promise<void> {
    let move = this.running.get(subscription.name)
    if (!move) {
      move = this.run(subscription).finally(() => this.running.delete(subscription.name))
      this.running.set(subscription.name, move)
    }
    return move
  }

  active(): number {
    return this.running.size
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()])
  }

  private async run(subscription: SubscriptionRecord): Promise<void> {
    const deadLetter = subscription.config.deadLetter
    const topic = this.host.topic()
    if (!deadLetter || !topic) return
    for (;;) {
      const exhausted = this.host.deliveries.exhausted(subscription, Date.now(), DEAD_LETTER_BATCH)
      if (exhausted.length === 0 || !this.host.isCurrent(subscription)) return
      const drafts = exhausted.map((lease) =>
        deadLetterDraft({ topic: topic.name, subscription: subscription.name, ...lease }),
      )
      try {
        await this.host.publishTo(topic.tenant, deadLetter.topic, drafts)
      } catch (error) {
        const at = Date.now() + 10_000 + Math.floor(Math.random() * 20_000)
        const cause = asAppError(error)
        const reason = `Dead-letter topic "${deadLetter.topic}": ${cause.code === 'internal' ? String(error) : cause.detail}`
        this.host.deliveries.retryAt(subscription, exhausted, at, reason)
        return
      }
      if (!this.host.isCurrent(subscription)) return
      this.host.deliveries.remove(subscription, exhausted)
    }
  }
}

/**
 * Pull consumption of one topic's pull subscriptions: leasing available messages to a
 * pull, acknowledging them, and moving their ack deadlines (0 makes them available now, a
 * nack). The object checks the subscription first; this module sees the topic only
 * through `PullHost`.
 *
 * Guarantees: each call is one transaction over the delivery state (deliveries.ts: at
 * most one lease per message, per-key order, at-least-once) that also resets the
 * subscription's due time, and the alarm is re-armed before a pull or deadline change
 * returns. An ack id that is not a current lease changes nothing and comes back invalid.
 * Cost: one transaction per call; one rendering per leased message.
 */
import type { EventOrigin } from './cloudevents'
import type { DeliveryStore } from './deliveries'
import { type RenderedMessage, renderForClient } from './formats'
import type { SubscriptionRecord } from './subscriptions'
import type { TopicState } from './topic-log'
import type { Upkeep } from './upkeep'

export type ReceivedMessage = { ackId: string; deliveryAttempt: number } & RenderedMessage

export interface PullHost {
  /** The topic's state; throws `not_found` once the topic is deleted. */
  topic(): TopicState
  origin(subscription: SubscriptionRecord): EventOrigin
}

export class PullConsumer {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly deliveries: DeliveryStore,
    private readonly upkeep: Upkeep,
    private readonly host: PullHost,
  ) {}

  async pull(
    record: SubscriptionRecord,
    maxMessages: number,
    ackDeadlineSeconds?: number,
  ): Promise<ReceivedMessage[]> {
    const now = Date.now()
    const hiddenUntil = now + (ackDeadlineSeconds ?? record.config.ackDeadlineSeconds) * 1000
    const leases = this.storage.transactionSync(() => {
      const leases = this.deliveries.lease(record, this.host.topic(), now, maxMessages, hiddenUntil)
      this.upkeep.retime(record, this.host.topic(), now)
      return leases
    })
    await this.upkeep.arm()
    const origin = this.host.origin(record)
    return leases.map((lease) => ({
      ackId: lease.ackId,
      deliveryAttempt: lease.attempts,
      ...renderForClient(record.config.format, lease.message, origin),
    }))
  }

  acknowledge(record: SubscriptionRecord, ackIds: string[]) {
    return this.storage.transactionSync(() => this.deliveries.settle(record, ackIds, { kind: 'ack' }))
  }

  /** Hides the leased messages for `seconds` more; 0 makes them available now (a nack). */
  async modifyAckDeadline(record: SubscriptionRecord, ackIds: string[], seconds: number) {
    const now = Date.now()
    const result = this.storage.transactionSync(() => {
      const result = this.deliveries.settle(record, ackIds, {
        kind: 'defer',
        visibleAt: now + seconds * 1000,
      })
      this.upkeep.retime(record, this.host.topic(), now)
      return result
    })
    await this.upkeep.arm()
    return result
  }
}

/**
 * The narrow port through which push loops and dead-letter moves change delivery state:
 * each operation is its own transaction and a no-op for a subscription that was deleted
 * (or replaced) meanwhile, so work that outlived its subscription changes nothing.
 */
import type { DeliveryStore, Lease } from './deliveries'
import type { SubscriptionRecord, SubscriptionTable } from './subscriptions'
import type { TopicLog } from './topic-log'

export class DeliveryPort {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly log: TopicLog,
    private readonly subscriptions: SubscriptionTable,
    private readonly store: DeliveryStore,
  ) {}

  lease(subscription: SubscriptionRecord, now: number, limit: number, hiddenUntil: number): Lease[] {
    return this.storage.transactionSync(() => {
      const state = this.log.state()
      if (!state || !this.subscriptions.isCurrent(subscription)) return []
      return this.store.lease(subscription, state, now, limit, hiddenUntil)
    })
  }

  exhausted(subscription: SubscriptionRecord, now: number, limit: number): Lease[] {
    return this.subscriptions.isCurrent(subscription) ? this.store.exhausted(subscription, now, limit) : []
  }

  /** Settles the leases for good (acknowledged, or moved to the dead-letter topic). */
  remove(subscription: SubscriptionRecord, leases: Lease[]): void {
    if (!this.subscriptions.isCurrent(subscription)) return
    this.storage.transactionSync(() => {
      for (const lease of leases) this.store.removeLease(subscription, lease.seq, lease.lease)
    })
  }

  /** Makes the leased messages available again at `at` (a retry), noting why. */
  retryAt(subscription: SubscriptionRecord, leases: Lease[], at: number, reason: string): void {
    if (!this.subscriptions.isCurrent(subscription)) return
    this.storage.transactionSync(() => {
      for (const lease of leases) this.store.retime(subscription, lease.seq, lease.lease, at, reason)
    })
  }
}

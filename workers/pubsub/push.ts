/**
 * Push delivery: one independent loop per push subscription. A loop leases a batch of
 * available messages (at most one per ordering key), POSTs each to the endpoint signed per
 * Standard Webhooks through the shared `deliver` (bounded by the subscription's timeout),
 * records each outcome, and repeats until nothing is available; then it hands the next
 * due time (a retry's backoff) back to the object's alarm.
 *
 * Guarantees: a slow or failing endpoint holds up only its own loop — loops never wait for
 * each other, and publishing never waits for any loop. A lease covers each attempt, so a
 * loop lost with its object (eviction) only delays the message until the lease expires.
 * Retries use full-jitter backoff; after `maxDeliveries` attempts a message goes to the
 * dead-letter topic when there is one, otherwise it keeps being retried (never dropped).
 * `webhook-id` is `<topic>/<subscription>/<seq>/<first lease>`: the same on every retry of a
 * delivery, new when a seek replays the message (a replay is meant to be processed again).
 * Cost: one HMAC and one HTTP request per message attempt; one transaction per outcome.
 */
import { deliver, signWebhook } from '../platform/delivery'
import type { EventOrigin } from './cloudevents'
import type { Lease } from './deliveries'
import type { DeliveryPort } from './delivery-port'
import { afterFailedAttempt } from './delivery-rules'
import { renderForPush } from './formats'
import type { SubscriptionRecord } from './subscriptions'

/** Messages in flight per push subscription. */
const PUSH_BATCH = 16
/** A lease outlives the push timeout by this much before the message is available again. */
const LEASE_MARGIN_MS = 5_000

export interface PushHost {
  deliveries: DeliveryPort
  /** The subscription's current record; undefined once deleted. */
  subscription(name: string): SubscriptionRecord | undefined
  origin(subscription: SubscriptionRecord): EventOrigin
  /** Moves exhausted messages to the dead-letter topic. */
  deadLetter(subscription: SubscriptionRecord): Promise<void>
  /** The loop stopped: the object re-arms its alarm for the subscription's next due time. */
  stopped(name: string): Promise<void>
}

export class PushWorker {
  private readonly loops = new Map<string, Promise<void>>()

  constructor(private readonly host: PushHost) {}

  /** Starts the subscription's loop unless it runs; resolves when that loop stops. */
  ensure(name: string): Promise<void> {
    let loop = this.loops.get(name)
    if (!loop) {
      const logError = (error: unknown) => {
        console.error(JSON.stringify({ level: 'error', block: 'pubsub', push: name, error: String(error) }))
      }
      loop = this.run(name)
        .catch(logError)
        .finally(() => this.loops.delete(name))
        .then(() => this.host.stopped(name))
        .catch(logError)
      this.loops.set(name, loop)
    }
    return loop
  }

  isRunning(name: string): boolean {
    return this.loops.has(name)
  }

  running(): number {
    return this.loops.size
  }

  /** Resolves when every loop running now has stopped. */
  async settled(): Promise<void> {
    while (this.loops.size > 0) await Promise.all([...this.loops.values()])
  }

  private async run(name: string): Promise<void> {
    await Promise.resolve()
    for (;;) {
      const subscription = this.host.subscription(name)
      const push = subscription?.config.push
      if (!subscription || !push) return
      await this.host.deadLetter(subscription)
      const now = Date.now()
      const hiddenUntil = now + push.timeoutSeconds * 1000 + LEASE_MARGIN_MS
      const leases = this.host.deliveries.lease(subscription, now, PUSH_BATCH, hiddenUntil)
      if (leases.length === 0) return
      await Promise.all(leases.map((lease) => this.attempt(subscription, lease)))
    }
  }

  private async attempt(subscription: SubscriptionRecord, lease: Lease): Promise<void> {
    const push = subscription.config.push
    if (!push) return
    const origin = this.host.origin(subscription)
    const { headers, body } = renderForPush(subscription.config.format, lease.message, origin)
    const webhookId = `${origin.topic}/${subscription.name}/${lease.seq}/${lease.firstLease}`
    const signature = await signWebhook(push.secret, webhookId, Math.floor(Date.now() / 1000), body)
    const outcome = await deliver({
      url: push.endpoint,
      method: 'POST',
      headers: { ...headers, ...signature, 'x-pubsub-delivery-attempt': String(lease.attempts) },
      body,
      timeoutMs: push.timeoutSeconds * 1000,
    })
    if (outcome.ok) {
      this.host.deliveries.remove(subscription, [lease])
      return
    }
    const now = Date.now()
    const decision = afterFailedAttempt({
      attempts: lease.attempts,
      maxDeliveries: subscription.config.deadLetter?.maxDeliveries ?? null,
      retry: push.retry,
      now,
      random: Math.random(),
    })
    // A dead-letter decision makes the message exhausted (due now); the loop moves it next.
    const at = decision.kind === 'retry' ? decision.at : now
    this.host.deliveries.retryAt(subscription, [lease], at, outcome.error ?? 'failed')
  }
}

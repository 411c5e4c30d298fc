/**
 * Push delivery: the partition POSTs batches of visible messages,
 * `{ type: 'queue.messages', timestamp, data: { queue, partition, messages } }`, signed per
 * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
 * queue's secret, through the shared `deliver` (one attempt with a timeout). A batch is a
 * delivery like a receive: its messages are in flight (leased for the request timeout plus
 * a margin) until a 2xx deletes them; a failure puts each back with full-jitter backoff
 * (`backoffDelayMs`) and a message out of attempts moves to the dead-letter queue.
 *
 * Guarantees: the `webhook-id` is a digest of the batch's message ids, so a retry of the
 * same batch carries the same id and a receiver can drop duplicates by it (or per message
 * by `messageId`; `receiveCount` tells which attempt it is). Retrying, backoff and dead-lettering are the caller's.
 * Cost: one SHA-256, one HMAC and one HTTP request per batch.
 */
import { backoffDelayMs, type DeliveryOutcome, deliver, signWebhook } from '../platform/delivery'
import { contentHash } from './messages'
import type { PartitionConfig, PushConfig } from './settings'
import type { PartitionStore } from './store'
import type { Delivery } from './tables'

/** A push delivery stays in flight this much longer than its request timeout. */
const PUSH_LEASE_MARGIN_MS = 30_000
const PUSH_BATCHES_PER_RUN = 10

export interface PushTarget {
  queue: string
  partition: number
  push: PushConfig
}

export function pushPayload(target: PushTarget, deliveries: Delivery[], nowMs: number): string {
  return JSON.stringify({
    type: 'queue.messages',
    timestamp: new Date(nowMs).toISOString(),
    data: {
      queue: target.queue,
      partition: target.partition,
      messages: deliveries.map((delivery) => ({
        messageId: delivery.id,
        body: delivery.body,
        attributes: delivery.attributes,
        sentAt: delivery.sentAt,
        receiveCount: delivery.receiveCount,
        sequenceNumber: delivery.seq,
        ...(delivery.groupId !== null ? { groupId: delivery.groupId } : {}),
      })),
    },
  })
}

/** Signs and POSTs one batch; never throws (a failure is an outcome). */
export async function pushBatch(
  target: PushTarget,
  deliveries: Delivery[],
  nowMs: number,
  fetcher?: (input: Request) => Promise<Response>,
): Promise<DeliveryOutcome> {
  const body = pushPayload(target, deliveries, nowMs)
  const batchKey = deliveries.map((delivery) => delivery.id).join(',')
  const webhookId = `msg_${(await contentHash(batchKey)).slice(0, 32)}`
  const headers = await signWebhook(target.push.secret, webhookId, Math.floor(nowMs / 1000), body)
  return deliver(
    {
      url: target.push.url,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      timeoutMs: target.push.timeoutSeconds * 1000,
    },
    fetcher,
  )
}

export interface PushHost {
  store: PartitionStore
  transaction<T>(work: () => T): T
  now(): number
  nonce(): string
}

/**
 * Pushes visible messages in batches until none is left, a bound is hit or an attempt
 * fails; returns the time before which no push should be tried again (after a failure).
 */
export async function pushVisible(host: PushHost, config: PartitionConfig): Promise<number | undefined> {
  const push = config.push
  if (!push) return undefined
  const leaseMs = push.timeoutSeconds * 1000 + PUSH_LEASE_MARGIN_MS
  for (let run = 0; run < PUSH_BATCHES_PER_RUN; run++) {
    const now = host.now()
    const deliveries = host.transaction(() =>
      host.store.receive(config, push.batchSize, leaseMs, host.nonce, now),
    )
    if (deliveries.length === 0) return undefined
    const target = { queue: config.queue, partition: config.partition, push }
    const outcome = await pushBatch(target, deliveries, Date.now())
    const after = host.now()
    host.transaction(() => settlePush(host.store, config, deliveries, outcome.ok, after))
    if (!outcome.ok) return after + backoffDelayMs(1, Math.random())
  }
  return undefined
}

function settlePush(
  store: PartitionStore,
  config: PartitionConfig,
  deliveries: Delivery[],
  ok: boolean,
  now: number,
): void {
  const push = config.push
  if (!push) return
  if (!ok) store.count('pushFailures')
  for (const delivery of deliveries) {
    const current = store.checkReceipt({
      partition: config.partition,
      messageId: delivery.id,
      receiveCount: delivery.receiveCount,
      nonce: delivery.nonce,
    })
    if (!current.ok) continue
    if (ok) store.delete(current.seq, 'pushed')
    else if (delivery.receiveCount >= push.maxAttempts) store.release(config, current.seq, now)
    else store.retryLater(current.seq, now + backoffDelayMs(delivery.receiveCount, Math.random()))
  }
}

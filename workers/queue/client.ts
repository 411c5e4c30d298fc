/**
 * The Worker side of message traffic: finds a queue's partitions and spreads sends and
 * receives over them. A queue's partition count comes from the registry and is cached per
 * isolate for a few seconds (it can only grow, so a stale count only means fewer
 * partitions used for a moment); the partition objects themselves are the authority on
 * whether the queue exists, so a queue deleted elsewhere answers 404 at once.
 *
 * Ordering on a partitioned standard queue: none across partitions; within a partition,
 * best-effort arrival order (a redelivered message comes back at its original position).
 */

import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import { getResource } from '../platform/registry'
import { objectStub } from '../platform/tenancy'
import { keyPartition } from './idempotency'
import {
  checkSizes,
  decodeReceipt,
  type OutgoingMessage,
  type Receipt,
  type ReceivedMessage,
  receiveOrder,
  sendPartition,
} from './messages'
import type { AckStatus } from './receipts'
import type { SendResult } from './sending'
import { QUEUE_KIND, type QueueConfig } from './settings'

const DESCRIPTOR_TTL_MS = 5_000

interface Descriptor {
  partitions: number
  /** The fixed count Idempotency-Keys are hashed over (idempotency.ts). */
  keyPartitions: number
}

const descriptors = new IsolateCache<Descriptor>(DESCRIPTOR_TTL_MS)
const cacheKey = (tenant: string, queue: string) => `${tenant}\n${queue}`

/** The queue's partition count; 404 when the tenant has no such queue. */
export async function queueDescriptor(env: Env, tenant: string, queue: string): Promise<Descriptor> {
  const key = cacheKey(tenant, queue)
  const cached = descriptors.lookup(key)
  if (cached) return cached.value
  const resource = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, queue)
  return descriptors.set(key, {
    partitions: resource.config.partitions,
    keyPartitions: resource.config.keyPartitions ?? 1,
  })
}

/** Drops the cached descriptor after the queue changed or was deleted in this isolate. */
export function forgetQueue(tenant: string, queue: string): void {
  descriptors.delete(cacheKey(tenant, queue))
}

export function partitionStub(env: Env, tenant: string, queue: string, partition: number) {
  return objectStub(env.QUEUES, tenant, QUEUE_KIND, queue, partition)
}

/**
 * Stores a batch in one partition: chosen uniformly, or with an Idempotency-Key the key's
 * fixed partition (where the key is checked and recorded); 413 over the size limits.
 */
export async function sendMessages(
  env: Env,
  tenant: string,
  queue: string,
  messages: OutgoingMessage[],
  fieldBase: 'body' | 'body/messages',
  idempotencyKey?: string,
): Promise<SendResult> {
  checkSizes(messages, fieldBase)
  const { partitions, keyPartitions } = await queueDescriptor(env, tenant, queue)
  const partition =
    idempotencyKey === undefined
      ? sendPartition(partitions, Math.random())
      : keyPartition(idempotencyKey, keyPartitions)
  return partitionStub(env, tenant, queue, partition).send({ messages, fieldBase, idempotencyKey })
}

export interface ReceiveOptions {
  maxMessages: number
  visibilityTimeoutSeconds?: number | undefined
  waitSeconds: number
}

/**
 * Receives up to `maxMessages`. One partition holds the long poll itself. Several are
 * visited in a fair order; when all are empty, the call waits until any of them has a
 * visible message (or the wait ends) and visits them again.
 */
export async function receiveMessages(
  env: Env,
  tenant: string,
  queue: string,
  options: ReceiveOptions,
): Promise<ReceivedMessage[]> {
  const { partitions } = await queueDescriptor(env, tenant, queue)
  if (partitions === 1) return partitionStub(env, tenant, queue, 0).receive(options)
  const deadline = Date.now() + options.waitSeconds * 1000
  for (;;) {
    const messages: ReceivedMessage[] = []
    for (const partition of receiveOrder(partitions, Math.random())) {
      if (messages.length >= options.maxMessages) break
      const batch = await partitionStub(env, tenant, queue, partition).receive({
        ...options,
        maxMessages: options.maxMessages - messages.length,
        waitSeconds: 0,
      })
      messages.push(...batch)
    }
    const remainingMs = deadline - Date.now()
    if (messages.length > 0 || remainingMs <= 0) return messages
    await Promise.race(
      Array.from({ length: partitions }, (_, partition) =>
        partitionStub(env, tenant, queue, partition).waitForMessages(remainingMs),
      ),
    )
  }
}

/** Decodes every handle first, so one malformed handle rejects the request and changes nothing. */
function decodeAll(handles: string[], partitions: number, path: (index: number) => string): Receipt[] {
  const errors: Array<{ path: string; message: string }> = []
  const receipts = handles.map((handle, index) => {
    const receipt = decodeReceipt(handle)
    if (!receipt || receipt.partition >= partitions) {
      errors.push({ path: path(index), message: 'Not a receipt handle of this queue' })
    }
    return receipt
  })
  if (errors.length > 0) throw new AppError('validation_failed', 'Malformed receipt handle.', { errors })
  return receipts as Receipt[]
}

export async function ackMessages(
  env: Env,
  tenant: string,
  queue: string,
  handles: string[],
  path: (index: number) => string,
): Promise<Array<{ receiptHandle: string; status: AckStatus; messageId: string }>> {
  const { partitions } = await queueDescriptor(env, tenant, queue)
  const receipts = decodeAll(handles, partitions, path)
  const byPartition = new Map<number, number[]>()
  receipts.forEach((receipt, index) => {
    byPartition.set(receipt.partition, [...(byPartition.get(receipt.partition) ?? []), index])
  })
  const results = new Array<{ receiptHandle: string; status: AckStatus; messageId: string }>(handles.length)
  await Promise.all(
    [...byPartition].map(async ([partition, indexes]) => {
      const outcomes = await partitionStub(env, tenant, queue, partition).ack(
        indexes.map((index) => receipts[index] as Receipt),
      )
      outcomes.forEach((outcome, i) => {
        const index = indexes[i] as number
        results[index] = { receiptHandle: handles[index] as string, ...outcome }
      })
    }),
  )
  return results
}

export async function changeVisibility(
  env: Env,
  tenant: string,
  queue: string,
  handle: string,
  seconds: number,
): Promise<{ messageId: string; visibleAt: number }> {
  const { partitions } = await queueDescriptor(env, tenant, queue)
  const [receipt] = decodeAll([handle], partitions, () => 'param/receiptHandle') as [Receipt]
  return partitionStub(env, tenant, queue, receipt.partition).changeVisibility(receipt, seconds)
}

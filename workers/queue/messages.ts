/**
 * Message rules: sizes, what a message may carry for its queue's type, receipt handles and
 * partition choice. Pure logic: randomness and time are arguments.
 *
 * Guarantees:
 * - sizes are counted in UTF-8 bytes (body + attribute names and values), 256 KiB per
 *   message and 1 MiB per batch, exactly;
 * - a FIFO message has a group and either a deduplication id or a queue with content-based
 *   deduplication (its key is then the SHA-256 of the body); a standard message has
 *   neither; a delay never outlives the retention;
 * - a receipt handle names one delivery: partition, message id, delivery number and a
 *   random nonce kept with the message. Its integrity comes from the nonce (128 random
 *   bits compared with the stored one), not from a signature; any text that does not
 *   decode is `undefined` (a 400 for the caller).
 * - partition choice is uniform for sends; receives visit every partition once starting
 *   at a random one, so no partition is starved.
 * Cost: O(size of the input).
 */
import { QUEUE_LIMITS } from '../../schemas/queue'
import { base64urlToText, bytesToBase64url, sha256Hex, textToBase64url } from '../platform/encoding'
import { AppError, type FieldError } from '../platform/errors'
import type { QueueConfig } from './settings'
import type { DeadLetterHistory, Delivery } from './tables'

export interface OutgoingMessage {
  body: string
  attributes?: Record<string, string> | undefined
  delaySeconds?: number | undefined
  groupId?: string | undefined
  deduplicationId?: string | undefined
}

export interface SendOutcome {
  messageId: string
  /** True when the send fell in the deduplication window of an earlier one: nothing was stored. */
  duplicate: boolean
  sequenceNumber: number
}

/** A message as a receiver gets it. */
export interface ReceivedMessage {
  messageId: string
  receiptHandle: string
  body: string
  attributes: Record<string, string>
  sentAt: number
  receiveCount: number
  firstReceivedAt: number
  sequenceNumber: number
  groupId?: string
  deadLetter?: DeadLetterHistory
}

const encoder = new TextEncoder()

/**
 * The messages of an unvalidated request body, reduced to what counts for their size
 * (a string body and string attributes), so that sizes can be checked before the schema.
 */
export function messagesForSizing(json: unknown, batch: boolean): OutgoingMessage[] {
  const candidates = batch ? (json as { messages?: unknown } | undefined)?.messages : [json]
  if (!Array.isArray(candidates)) return []
  return candidates.map((candidate) => {
    const { body, attributes } = (candidate ?? {}) as { body?: unknown; attributes?: unknown }
    const entries = typeof attributes === 'object' && attributes !== null ? Object.entries(attributes) : []
    return {
      body: typeof body === 'string' ? body : '',
      attributes: Object.fromEntries(
        entries.filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      ),
    }
  })
}

/** A message's size: UTF-8 bytes of its body and of its attribute names and values. */
export function messageBytes(message: OutgoingMessage): number {
  let bytes = encoder.encode(message.body).length
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    bytes += encoder.encode(name).length + encoder.encode(value).length
  }
  return bytes
}

/** Throws 413 when one message is over 256 KiB or the batch is over 1 MiB. */
export function checkSizes(messages: OutgoingMessage[], fieldBase: string): void {
  let total = 0
  const errors: FieldError[] = []
  messages.forEach((message, index) => {
    const bytes = messageBytes(message)
    total += bytes
    if (bytes > QUEUE_LIMITS.maxMessageBytes) {
      errors.push({
        path: fieldPath(fieldBase, index),
        message: `${bytes} bytes; a message is at most ${QUEUE_LIMITS.maxMessageBytes} bytes`,
      })
    }
  })
  if (errors.length > 0) {
    throw new AppError('payload_too_large', 'A message is over the 256 KiB limit.', { errors })
  }
  if (total > QUEUE_LIMITS.maxBatchBytes) {
    throw new AppError(
      'payload_too_large',
      `The batch holds ${total} bytes of messages; a batch is at most ${QUEUE_LIMITS.maxBatchBytes}.`,
    )
  }
}

/** `body` for a single send, `body/messages/3` for the fourth message of a batch. */
export function fieldPath(fieldBase: string, index: number): string {
  return fieldBase === 'body/messages' ? `${fieldBase}/${index}` : fieldBase
}

/** Throws 400 listing every message that does not fit its queue's type and retention. */
export function checkMessagesForQueue(config: QueueConfig, messages: OutgoingMessage[], fieldBase: string) {
  const errors: FieldError[] = []
  messages.forEach((message, index) => {
    const at = (field: string) => `${fieldPath(fieldBase, index)}/${field}`
    if (config.fifo) {
      if (message.groupId === undefined)
        errors.push({ path: at('groupId'), message: 'FIFO messages need a groupId' })
      if (message.deduplicationId === undefined && !config.contentBasedDeduplication) {
        errors.push({
          path: at('deduplicationId'),
          message: 'Needed unless the queue has contentBasedDeduplication',
        })
      }
    } else {
      if (message.groupId !== undefined) errors.push({ path: at('groupId'), message: 'Only for FIFO queues' })
      if (message.deduplicationId !== undefined) {
        errors.push({ path: at('deduplicationId'), message: 'Only for FIFO queues' })
      }
    }
    if ((message.delaySeconds ?? 0) > config.retentionSeconds) {
      errors.push({
        path: at('delaySeconds'),
        message: `At most the queue's retention (${config.retentionSeconds} s)`,
      })
    }
  })
  if (errors.length > 0) {
    throw new AppError('validation_failed', 'A message does not fit this queue.', { errors })
  }
}

/** SHA-256 of the body, hex: the deduplication key under content-based deduplication. */
export function contentHash(body: string): Promise<string> {
  return sha256Hex(body)
}

export interface Receipt {
  partition: number
  messageId: string
  /** Which delivery of the message this handle belongs to (1 = the first). */
  receiveCount: number
  nonce: string
}

const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const NONCE = /^[A-Za-z0-9_-]{16,64}$/

/** 16 random bytes as base64url; `random` is e.g. `crypto.getRandomValues(new Uint8Array(16))`. */
export function nonceFrom(random: Uint8Array): string {
  return bytesToBase64url(random)
}

export function encodeReceipt(receipt: Receipt): string {
  return textToBase64url(`${receipt.partition}.${receipt.receiveCount}.${receipt.messageId}.${receipt.nonce}`)
}

/** The receipt in a handle, or undefined if the text is not a handle this block issues. */
export function decodeReceipt(handle: string): Receipt | undefined {
  const text = base64urlToText(handle)
  if (text === undefined) return undefined
  const [partition, receiveCount, messageId, nonce, ...rest] = text.split('.')
  if (rest.length > 0 || !partition || !receiveCount || !messageId || !nonce) return undefined
  if (!/^\d{1,2}$/.test(partition) || !/^[1-9]\d{0,8}$/.test(receiveCount)) return undefined
  if (!MESSAGE_ID.test(messageId) || !NONCE.test(nonce)) return undefined
  const receipt = { partition: Number(partition), receiveCount: Number(receiveCount), messageId, nonce }
  return receipt.partition < QUEUE_LIMITS.maxPartitions ? receipt : undefined
}

/** The partition a send goes to: uniform over `partitions`; `random` in [0, 1). */
export function sendPartition(partitions: number, random: number): number {
  return Math.min(partitions - 1, Math.floor(random * partitions))
}

/** The order a receive visits partitions: all of them, starting at a random one. */
export function receiveOrder(partitions: number, random: number): number[] {
  const start = sendPartition(partitions, random)
  return Array.from({ length: partitions }, (_, step) => (start + step) % partitions)
}

/** A delivery as the receiver sees it, with its receipt handle. */
export function toReceivedMessage(partition: number, delivery: Delivery): ReceivedMessage {
  return {
    messageId: delivery.id,
    receiptHandle: encodeReceipt({
      partition,
      messageId: delivery.id,
      receiveCount: delivery.receiveCount,
      nonce: delivery.nonce,
    }),
    body: delivery.body,
    attributes: delivery.attributes,
    sentAt: delivery.sentAt,
    receiveCount: delivery.receiveCount,
    firstReceivedAt: delivery.firstReceivedAt,
    sequenceNumber: delivery.seq,
    ...(delivery.groupId !== null ? { groupId: delivery.groupId } : {}),
    ...(delivery.deadLetter ? { deadLetter: delivery.deadLetter } : {}),
  }
}

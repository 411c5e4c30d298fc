/**
 * Messages of a topic, as published and as stored in its log.
 *
 * A message is `data` (bytes), string `attributes`, an optional `orderingKey` and an
 * optional `deduplicationId`; the log gives it a `seq` (1, 2, 3… per topic, never reused)
 * and a `publishedAt` time. Clients see it as a Pub/Sub-style `PubsubMessage` with the data
 * in standard base64 and `messageId` = the decimal `seq`.
 *
 * Guarantees: `messageSize` counts exactly what the 256 KiB limit bounds (data bytes plus
 * the UTF-8 bytes of attribute names, values and the ordering key); base64 round-trips
 * every byte string (platform/encoding's standard base64).
 * Cost: linear in the message size.
 */
import { utf8Length } from '../../schemas/text'
import { bytesToBase64 } from '../platform/encoding'

export interface MessageDraft {
  data: Uint8Array
  attributes: Record<string, string>
  orderingKey?: string | undefined
  /** Publishes with the same id inside the topic's window store the message once. */
  deduplicationId?: string | undefined
}

export interface StoredMessage {
  seq: number
  /** Milliseconds since the epoch. */
  publishedAt: number
  data: Uint8Array
  attributes: Record<string, string>
  orderingKey: string | null
}

/** The JSON shape clients see (Google Cloud Pub/Sub's `PubsubMessage`, plus `seq`). */
export interface PubsubMessage {
  messageId: string
  seq: number
  /** Standard base64. */
  data: string
  attributes: Record<string, string>
  orderingKey?: string
  /** RFC 3339. */
  publishTime: string
}

export interface PublishResult {
  messageId: string
  seq: number
  /** True when the deduplication id was seen inside the window: nothing new was stored. */
  duplicate: boolean
}

const encoder = new TextEncoder()

export function messageSize(draft: Pick<MessageDraft, 'data' | 'attributes' | 'orderingKey'>): number {
  let size = draft.data.byteLength + (draft.orderingKey ? utf8Length(draft.orderingKey) : 0)
  for (const [key, value] of Object.entries(draft.attributes)) size += utf8Length(key) + utf8Length(value)
  return size
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The bytes as text when they are valid UTF-8, else undefined. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes)
  } catch {
    return undefined
  }
}

export function textBytes(text: string): Uint8Array {
  return encoder.encode(text)
}

export function toPubsubMessage(message: StoredMessage): PubsubMessage {
  return {
    messageId: String(message.seq),
    seq: message.seq,
    data: bytesToBase64(message.data),
    attributes: message.attributes,
    ...(message.orderingKey !== null ? { orderingKey: message.orderingKey } : {}),
    publishTime: new Date(message.publishedAt).toISOString(),
  }
}

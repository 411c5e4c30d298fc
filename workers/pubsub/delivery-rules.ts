/**
 * The rules of delivering one message to one subscription, independent of transport.
 *
 * - Leases: each delivery of a message takes a fresh lease number from the topic; its ack
 *   id is `<seq>-<lease>`. An ack, nack or deadline change is honoured only while that
 *   lease is the message's current one, so an ack from a delivery whose deadline passed
 *   and that was delivered again (or that a seek reset) changes nothing.
 * - Failures: after a failed attempt (a push error, an expired pull deadline) a message is
 *   dead-lettered once it has used `maxDeliveries` attempts and the subscription has a
 *   dead-letter topic; otherwise it is retried after a full-jitter exponential backoff
 *   (the shared `backoffDelayMs`), so it is never dropped.
 * - Dead letters: the moved message keeps its data, attributes and ordering key, gains
 *   `dead-letter-*` attributes saying where it came from, and carries a deduplication id
 *   unique to the (subscription, message, lease), so a move retried after a crash is
 *   stored once in the dead-letter topic.
 * - Server-Sent Events framing (`id:` is the sequence number a client resumes after).
 *
 * Guarantees: pure, deterministic for a given `now` and `random`.
 * Cost: O(1) per decision; SSE framing linear in the payload.
 */
import { backoffDelayMs } from '../platform/delivery'
import type { MessageDraft, StoredMessage } from './messages'

export const ACK_ID_PATTERN = /^[1-9]\d{0,15}-[1-9]\d{0,15}$/

export function ackIdOf(seq: number, lease: number): string {
  return `${seq}-${lease}`
}

export function parseAckId(ackId: string): { seq: number; lease: number } | undefined {
  if (!ACK_ID_PATTERN.test(ackId)) return undefined
  const [seq, lease] = ackId.split('-').map(Number)
  return seq !== undefined && lease !== undefined ? { seq, lease } : undefined
}

export interface RetryPolicy {
  /** The backoff ceiling of the first retry, in seconds (doubles per attempt). */
  baseDelaySeconds: number
  /** The largest backoff, in seconds. */
  maxDelaySeconds: number
}

export type FailureDecision = { kind: 'retry'; at: number } | { kind: 'dead-letter' }

export function afterFailedAttempt(input: {
  /** Attempts made so far, including the one that failed. */
  attempts: number
  /** The dead-letter threshold; null when the subscription has no dead-letter topic. */
  maxDeliveries: number | null
  retry: RetryPolicy
  now: number
  random: number
}): FailureDecision {
  if (input.maxDeliveries !== null && input.attempts >= input.maxDeliveries) return { kind: 'dead-letter' }
  const delay = backoffDelayMs(input.attempts, input.random, {
    baseMs: input.retry.baseDelaySeconds * 1000,
    capMs: input.retry.maxDelaySeconds * 1000,
  })
  return { kind: 'retry', at: input.now + delay }
}

/** One SSE event; `data` may hold newlines (each line becomes its own `data:` field). */
export function sseEvent(fields: { id?: string; event?: string; data: string }): string {
  let frame = ''
  if (fields.event !== undefined) frame += `event: ${fields.event}\n`
  if (fields.id !== undefined) frame += `id: ${fields.id}\n`
  for (const line of fields.data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`
  return `${frame}\n`
}

/** The reconnection delay a client should use, in ms. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.floor(ms)}\n\n`
}

/** A resume point (`Last-Event-ID` or `?after=`): a sequence number ≥ 0, else undefined. */
export function parseResumePoint(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^\d{1,16}$/.test(value.trim())) return undefined
  return Number(value.trim())
}

export interface DeadLetterSource {
  topic: string
  subscription: string
  seq: number
  lease: number
  attempts: number
  lastError: string | null
  message: StoredMessage
}

export function deadLetterDraft(source: DeadLetterSource): MessageDraft {
  const attributes: Record<string, string> = {
    ...source.message.attributes,
    'dead-letter-source-topic': source.topic,
    'dead-letter-source-subscription': source.subscription,
    'dead-letter-source-seq': String(source.seq),
    'dead-letter-delivery-attempts': String(source.attempts),
  }
  if (source.lastError) attributes['dead-letter-last-error'] = source.lastError.slice(0, 1024)
  return {
    data: source.message.data,
    attributes,
    orderingKey: source.message.orderingKey ?? undefined,
    deduplicationId: `dead-letter:${source.topic}/${source.subscription}/${source.seq}/${source.lease}`,
  }
}

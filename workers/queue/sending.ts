/**
 * A send as one partition performs it, in two steps: `prepareSend` does the asynchronous
 * hashing (FIFO deduplication keys, the Idempotency-Key request hash) before the
 * transaction; `commitSend` runs inside the partition's one `transactionSync` and checks the
 * idempotency key, checks the messages against the queue, stores them and records the key.
 *
 * Guarantees: a keyed send either replays the response recorded for its key (same request),
 * is refused with 422 (different request), or stores its messages and records the key — in
 * one transaction, so concurrent sends with one key store the messages exactly once.
 * Cost: one SHA-256 per FIFO message without a deduplication id, one per keyed request.
 */
import { AppError } from '../platform/errors'
import { type IdempotencyStore, requestHash } from './idempotency'
import { checkMessagesForQueue, contentHash, type OutgoingMessage, type SendOutcome } from './messages'
import type { PartitionConfig } from './settings'
import type { PartitionStore } from './store'

export interface SendRequest {
  messages: OutgoingMessage[]
  /** `body` (one message) or `body/messages` (a batch): the endpoint, and where errors point. */
  fieldBase: string
  idempotencyKey?: string | undefined
}

export interface SendResult {
  results: SendOutcome[]
  /** True when an earlier send with the same Idempotency-Key answered: nothing was stored. */
  replayed: boolean
}

export interface PreparedSend {
  dedupKeys: Array<string | undefined>
  requestHash: string | undefined
}

export async function prepareSend(config: PartitionConfig, request: SendRequest): Promise<PreparedSend> {
  const dedupKeys = config.fifo
    ? await Promise.all(
        request.messages.map(async (message) =>
          message.deduplicationId !== undefined
            ? `id:${message.deduplicationId}`
            : `sha256:${await contentHash(message.body)}`,
        ),
      )
    : request.messages.map(() => undefined)
  const hash =
    request.idempotencyKey === undefined ? undefined : await requestHash(request.fieldBase, request.messages)
  return { dedupKeys, requestHash: hash }
}

/** Runs inside one transaction; throws (changing nothing) on a reused key or a message that does not fit. */
export function commitSend(
  stores: { messages: PartitionStore; keys: IdempotencyStore },
  config: PartitionConfig,
  request: SendRequest,
  prepared: PreparedSend,
  newId: () => string,
  now: number,
): SendResult {
  const { idempotencyKey: key } = request
  const hash = prepared.requestHash
  if (key !== undefined && hash !== undefined) {
    const earlier = stores.keys.find(key, hash, now)
    if (earlier.found && !earlier.sameRequest) {
      throw new AppError(
        'unprocessable',
        'This Idempotency-Key was used with a different request in the last 24 hours; nothing was stored.',
      )
    }
    if (earlier.found) return { results: earlier.response, replayed: true }
  }
  checkMessagesForQueue(config, request.messages, request.fieldBase)
  const results = stores.messages.send(config, request.messages, prepared.dedupKeys, newId, now)
  if (key !== undefined && hash !== undefined) stores.keys.record(key, hash, results, now)
  return { results, replayed: false }
}

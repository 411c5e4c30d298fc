/**
 * What a receipt handle can do to a delivered message: acknowledge (delete) it, or change
 * its visibility (extend it, or 0 = nack). Each function runs inside the partition's one
 * `transactionSync`.
 *
 * Guarantees: a receipt acts only while it names the message's current delivery (else 409
 * stale, or 410 when the message is gone: acked, expired or moving to another queue); a
 * visibility change needs the message still in flight; a nack of a message that used up its
 * deliveries moves it to the dead-letter queue (`PartitionStore.release`).
 * Cost: one indexed lookup and one write per receipt.
 */
import { AppError } from '../platform/errors'
import type { Receipt } from './messages'
import type { PartitionConfig } from './settings'
import type { PartitionStore } from './store'

export type AckStatus = 200 | 409 | 410

/** Deletes each message whose receipt is its current delivery: 200, 409 stale, 410 gone. */
export function ackReceipts(
  store: PartitionStore,
  receipts: Receipt[],
): Array<{ status: AckStatus; messageId: string }> {
  return receipts.map((receipt) => {
    const current = store.checkReceipt(receipt)
    if (!current.ok) return { status: current.reason === 'gone' ? 410 : 409, messageId: receipt.messageId }
    store.delete(current.seq, 'acked')
    return { status: 200, messageId: receipt.messageId }
  })
}

/** Keeps a delivered message invisible `seconds` from now; 0 releases it at once. Returns when it is visible. */
export function changeReceiptVisibility(
  store: PartitionStore,
  config: PartitionConfig,
  receipt: Receipt,
  seconds: number,
  now: number,
): number {
  const current = store.checkReceipt(receipt)
  if (!current.ok) throw receiptError(current.reason)
  if (current.state !== 'inflight' || current.dueAt <= now) {
    throw new AppError('conflict', 'The message is not in flight: its visibility timeout has already ended.')
  }
  if (seconds > 0) {
    store.extend(current.seq, now + seconds * 1000)
    return now + seconds * 1000
  }
  store.release(config, current.seq, now)
  return now
}

function receiptError(reason: 'gone' | 'stale'): AppError {
  return reason === 'gone'
    ? new AppError('gone', 'The message is no longer in the queue (acknowledged, expired or moved).')
    : new AppError('conflict', 'The receipt handle is stale: the message was delivered again since.')
}

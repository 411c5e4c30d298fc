/**
 * Idempotency keys for sends (`Idempotency-Key` on `POST .../messages` and `.../messages/batch`).
 *
 * Placement: a key lives in one fixed partition, `shardFor(key, keyPartitions)`, where
 * `keyPartitions` is the queue's partition count at creation and never changes afterwards
 * (partitions may grow, but hashing over the current count would move a key to another
 * partition, where a retry would not find it; partitions never shrink, so the fixed count
 * always names a partition that exists). A send carrying a key is stored in that partition,
 * so the key is checked and recorded in the same `transactionSync` as the messages.
 *
 * Guarantees: within `QUEUE_LIMITS.idempotencyKeySeconds` (24 h) of the first send, a
 * request with the same key and the same request (endpoint + messages, compared by
 * SHA-256 of their canonical JSON) gets the first response and stores nothing; the same key
 * with a different request is refused (422) and stores nothing. Keys are per tenant and per
 * queue (each partition object belongs to one queue of one tenant). Expired keys are
 * deleted by the partition's alarm (and ignored if it has not run yet).
 * Cost: one SHA-256 of the request, one indexed lookup and one insert per keyed send.
 */

import { QUEUE_LIMITS } from '../../schemas/queue'
import { sha256Hex } from '../platform/encoding'
import { shardFor } from '../platform/hashing'
import type { OutgoingMessage, SendOutcome } from './messages'

/** The partition holding `key`: fixed for the queue's life (see above). */
export function keyPartition(key: string, keyPartitions: number): number {
  return shardFor(key, Math.max(1, keyPartitions))
}

/** JSON with object keys sorted, so equal requests give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** SHA-256 (hex) of what a send asks for: which endpoint (`fieldBase`) and which messages. */
export function requestHash(fieldBase: string, messages: OutgoingMessage[]): Promise<string> {
  return sha256Hex(canonicalJson({ endpoint: fieldBase, messages }))
}

export type KeyLookup = { found: false } | { found: true; sameRequest: boolean; response: SendOutcome[] }

/** The `idempotency` table of a partition; each method runs inside the caller's transaction. */
export class IdempotencyStore {
  constructor(private readonly sql: SqlStorage) {}

  /** The live entry for `key` (an expired one counts as absent). */
  find(key: string, hash: string, now: number): KeyLookup {
    const row = this.sql
      .exec<{ request_hash: string; response: string }>(
        'SELECT request_hash, response FROM idempotency WHERE key = ? AND expires_at > ?',
        key,
        now,
      )
      .toArray()[0]
    if (!row) return { found: false }
    return {
      found: true,
      sameRequest: row.request_hash === hash,
      response: JSON.parse(row.response) as SendOutcome[],
    }
  }

  record(key: string, hash: string, response: SendOutcome[], now: number): void {
    this.sql.exec(
      `INSERT INTO idempotency (key, request_hash, response, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, response = excluded.response,
         expires_at = excluded.expires_at`,
      key,
      hash,
      JSON.stringify(response),
      now + QUEUE_LIMITS.idempotencyKeySeconds * 1000,
    )
  }
}

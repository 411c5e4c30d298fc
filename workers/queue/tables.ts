/**
 * The tables of a queue partition's SQLite, the shapes of their rows, and the few writes
 * that `store.ts` and `transfers.ts` share (counters, marking a message as moving).
 *
 * A message is in one state:
 *   delayed  — not visible before `due_at` (a send delay, or a push retry's backoff);
 *   ready    — visible; receives take ready messages in `seq` (arrival) order;
 *   inflight — delivered; invisible until `due_at` (the visibility deadline);
 *   moving   — on its way to another queue (dead-letter or redrive); next try at `due_at`.
 * `seq` is AUTOINCREMENT, so it is never reused: it is the arrival order and, for FIFO, the
 * order within a group.
 */
export type MessageState = 'delayed' | 'ready' | 'inflight' | 'moving'

export interface DeadLetterHistory {
  sourceQueue: string
  sourcePartition: number
  reason: 'max-receives' | 'push-exhausted'
  receiveCount: number
  firstReceivedAt: number | null
  lastReceivedAt: number | null
  deadLetteredAt: number
}

/** A message as it travels between queues. */
export interface TransferredMessage {
  id: string
  body: string
  attributes: Record<string, string>
  groupId: string | null
  sentAt: number
  deadLetter: DeadLetterHistory | null
}

export interface Destination {
  queue: string
  partition: number
  kind: 'dead-letter' | 'redrive'
}

/** One delivery of a message (a receive or a push attempt). */
export interface Delivery {
  seq: number
  id: string
  body: string
  attributes: Record<string, string>
  groupId: string | null
  sentAt: number
  receiveCount: number
  firstReceivedAt: number
  nonce: string
  deadLetter: DeadLetterHistory | null
}

export type Row = Record<string, SqlStorageValue>

export const COUNTERS = [
  'sent',
  'deduplicated',
  'received',
  'acked',
  'deadLettered',
  'redriven',
  'expired',
  'purged',
  'pushed',
  'pushFailures',
] as const
export type Counter = (typeof COUNTERS)[number]

export const SCHEMA_VERSION = 1

export const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  `CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    group_id TEXT,
    state TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    last_received_at INTEGER,
    receipt_nonce TEXT,
    dead_letter TEXT,
    move_to TEXT,
    move_attempts INTEGER NOT NULL DEFAULT 0
  )`,
  'CREATE INDEX IF NOT EXISTS messages_by_state_seq ON messages (state, seq)',
  'CREATE INDEX IF NOT EXISTS messages_by_state_due ON messages (state, due_at)',
  'CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_at)',
  'CREATE INDEX IF NOT EXISTS messages_by_group ON messages (group_id, state, seq) WHERE group_id IS NOT NULL',
  `CREATE TABLE IF NOT EXISTS dedup (
    key TEXT PRIMARY KEY, message_id TEXT NOT NULL, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS dedup_by_expiry ON dedup (expires_at)',
  `CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT NOT NULL, expires_at INTEGER NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at)',
  'CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)',
]

export function addToCounter(sql: SqlStorage, counter: Counter, by = 1): void {
  if (by === 0) return
  sql.exec(
    `INSERT INTO counters (name, value) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`,
    counter,
    by,
  )
}

/** Sends a message on its way to `destination`, now; its receipt handles stop working. */
export function markMoving(
  sql: SqlStorage,
  seq: number,
  destination: Destination,
  history: DeadLetterHistory | null,
  now: number,
): void {
  sql.exec(
    `UPDATE messages SET state = 'moving', due_at = ?, receipt_nonce = NULL, move_to = ?, move_attempts = 0,
       dead_letter = COALESCE(?, dead_letter) WHERE seq = ?`,
    now,
    JSON.stringify(destination),
    history ? JSON.stringify(history) : null,
    seq,
  )
}

function parseHistory(value: SqlStorageValue | undefined): DeadLetterHistory | null {
  return typeof value === 'string' ? (JSON.parse(value) as DeadLetterHistory) : null
}

export function toDelivery(row: Row): Delivery {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    body: String(row.body),
    attributes: JSON.parse(String(row.attributes)) as Record<string, string>,
    groupId: row.group_id === null ? null : String(row.group_id),
    sentAt: Number(row.sent_at),
    receiveCount: Number(row.receive_count),
    firstReceivedAt: Number(row.first_received_at),
    nonce: String(row.receipt_nonce),
    deadLetter: parseHistory(row.dead_letter),
  }
}

export function toTransferred(row: Row): TransferredMessage {
  return {
    id: String(row.id),
    body: String(row.body),
    attributes: JSON.parse(String(row.attributes)) as Record<string, string>,
    groupId: row.group_id === null ? null : String(row.group_id),
    sentAt: Number(row.sent_at),
    deadLetter: parseHistory(row.dead_letter),
  }
}

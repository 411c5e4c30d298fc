/**
 * The ordered log of one topic, in its Durable Object's SQLite. The object calls every
 * method inside one `transactionSync`, so each read-compute-write is atomic.
 *
 * Tables: `topic` (one row: identity, settings, the head sequence number and the log's
 * size), `messages` (seq → data, attributes, ordering key), `dedup` (deduplication id →
 * the seq it was first stored as, until the window closes).
 *
 * Guarantees: sequence numbers are 1, 2, 3… in commit order and never reused, even after
 * retention removed every message; `publishedAt` never decreases along the log (so a time
 * maps to a seq); a deduplication id seen inside the window stores nothing and answers the
 * first message's seq; retention removes only from the old end (age first, then size).
 * Cost: a publish is one insert per message (+ one dedup row per id); a trim is one range
 * delete over the primary key.
 */
import { type MessageDraft, messageSize, type PublishResult, type StoredMessage } from './messages'

export interface TopicConfig {
  retention: { maxAgeSeconds: number; maxBytes: number }
  deduplicationWindowSeconds: number
}

export interface TopicIdentity {
  tenant: string
  name: string
}

export interface TopicState extends TopicIdentity {
  config: TopicConfig
  headSeq: number
  messages: number
  bytes: number
  lastPublishedAt: number
  createdAt: number
}

type TopicRow = {
  tenant: string
  name: string
  config: string
  head_seq: number
  message_count: number
  byte_count: number
  last_published_at: number
  created_at: number
}

type MessageRow = {
  seq: number
  published_at: number
  data: ArrayBuffer
  attributes: string | null
  ordering_key: string | null
}

/** The largest number of messages one trim removes (the alarm comes back for the rest). */
const TRIM_BATCH = 10_000

export function toStoredMessage(row: MessageRow): StoredMessage {
  return {
    seq: row.seq,
    publishedAt: row.published_at,
    data: new Uint8Array(row.data),
    attributes: row.attributes ? (JSON.parse(row.attributes) as Record<string, string>) : {},
    orderingKey: row.ordering_key,
  }
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return copy.buffer
}

export class TopicLog {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS topic (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      tenant TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
      head_seq INTEGER NOT NULL, message_count INTEGER NOT NULL, byte_count INTEGER NOT NULL,
      last_published_at INTEGER NOT NULL, created_at INTEGER NOT NULL)`)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY, published_at INTEGER NOT NULL, data BLOB NOT NULL,
      attributes TEXT, ordering_key TEXT, size INTEGER NOT NULL)`)
    this.sql.exec('CREATE INDEX IF NOT EXISTS messages_by_time ON messages (published_at)')
    this.sql.exec(`CREATE TABLE IF NOT EXISTS dedup (
      id TEXT PRIMARY KEY, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`)
    this.sql.exec('CREATE INDEX IF NOT EXISTS dedup_by_expiry ON dedup (expires_at)')
  }

  initialize(identity: TopicIdentity, config: TopicConfig, now: number): void {
    this.sql.exec(
      `INSERT INTO topic (id, tenant, name, config, head_seq, message_count, byte_count, last_published_at, created_at)
       VALUES (1, ?, ?, ?, 0, 0, 0, 0, ?)`,
      identity.tenant,
      identity.name,
      JSON.stringify(config),
      now,
    )
  }

  /** The topic, or undefined when this object was never initialized (or was destroyed). */
  state(): TopicState | undefined {
    const row = this.sql.exec<TopicRow>('SELECT * FROM topic WHERE id = 1').toArray()[0]
    if (!row) return undefined
    return {
      tenant: row.tenant,
      name: row.name,
      config: JSON.parse(row.config) as TopicConfig,
      headSeq: row.head_seq,
      messages: row.message_count,
      bytes: row.byte_count,
      lastPublishedAt: row.last_published_at,
      createdAt: row.created_at,
    }
  }

  publish(state: TopicState, drafts: MessageDraft[], now: number): PublishResult[] {
    const windowMs = state.config.deduplicationWindowSeconds * 1000
    const publishedAt = Math.max(now, state.lastPublishedAt)
    let { headSeq, messages, bytes } = state
    const results: PublishResult[] = []
    for (const draft of drafts) {
      const dedupId = windowMs > 0 ? draft.deduplicationId : undefined
      if (dedupId !== undefined) {
        const seen = this.sql
          .exec<{ seq: number }>('SELECT seq FROM dedup WHERE id = ? AND expires_at > ?', dedupId, now)
          .toArray()[0]
        if (seen) {
          results.push({ messageId: String(seen.seq), seq: seen.seq, duplicate: true })
          continue
        }
      }
      headSeq += 1
      const size = messageSize(draft)
      const attributes = Object.keys(draft.attributes).length > 0 ? JSON.stringify(draft.attributes) : null
      this.sql.exec(
        'INSERT INTO messages (seq, published_at, data, attributes, ordering_key, size) VALUES (?, ?, ?, ?, ?, ?)',
        headSeq,
        publishedAt,
        exactBuffer(draft.data),
        attributes,
        draft.orderingKey ?? null,
        size,
      )
      if (dedupId !== undefined) {
        this.sql.exec(
          `INSERT INTO dedup (id, seq, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, expires_at = excluded.expires_at`,
          dedupId,
          headSeq,
          now + windowMs,
        )
      }
      messages += 1
      bytes += size
      results.push({ messageId: String(headSeq), seq: headSeq, duplicate: false })
    }
    this.sql.exec(
      'UPDATE topic SET head_seq = ?, message_count = ?, byte_count = ?, last_published_at = ? WHERE id = 1',
      headSeq,
      messages,
      bytes,
      publishedAt,
    )
    return results
  }

  /** Up to `limit` messages with seq > `afterSeq`, in order. */
  read(afterSeq: number, limit: number): StoredMessage[] {
    return this.sql
      .exec<MessageRow>(
        'SELECT seq, published_at, data, attributes, ordering_key FROM messages WHERE seq > ? ORDER BY seq LIMIT ?',
        afterSeq,
        limit,
      )
      .toArray()
      .map(toStoredMessage)
  }

  /** Routing fields only (no data) of up to `limit` messages after `afterSeq`. */
  readHeaders(
    afterSeq: number,
    limit: number,
  ): Array<{ seq: number; attributes: Record<string, string>; orderingKey: string | null }> {
    return this.sql
      .exec<{ seq: number; attributes: string | null; ordering_key: string | null }>(
        'SELECT seq, attributes, ordering_key FROM messages WHERE seq > ? ORDER BY seq LIMIT ?',
        afterSeq,
        limit,
      )
      .toArray()
      .map((row) => ({
        seq: row.seq,
        attributes: row.attributes ? (JSON.parse(row.attributes) as Record<string, string>) : {},
        orderingKey: row.ordering_key,
      }))
  }

  oldestSeq(state: TopicState): number {
    const row = this.sql.exec<{ seq: number | null }>('SELECT min(seq) AS seq FROM messages').one()
    return row.seq ?? state.headSeq + 1
  }

  /** The first seq published at or after `time`; headSeq + 1 when there is none. */
  firstSeqAtOrAfter(state: TopicState, time: number): number {
    const row = this.sql
      .exec<{ seq: number | null }>('SELECT min(seq) AS seq FROM messages WHERE published_at >= ?', time)
      .one()
    return row.seq ?? state.headSeq + 1
  }

  /**
   * Removes messages past the retention age, then the oldest while the log is over its
   * size, at most TRIM_BATCH per call, and expired dedup ids. Returns the highest removed
   * seq (0 when nothing was removed).
   */
  trim(state: TopicState, now: number): number {
    const { maxAgeSeconds, maxBytes } = state.config.retention
    this.sql.exec('DELETE FROM dedup WHERE expires_at <= ?', now)
    const oldest = this.oldestSeq(state)
    if (oldest > state.headSeq) return 0
    const limit = oldest + TRIM_BATCH - 1
    const expired = this.sql
      .exec<{ seq: number | null }>(
        'SELECT max(seq) AS seq FROM messages WHERE published_at < ? AND seq <= ?',
        now - maxAgeSeconds * 1000,
        limit,
      )
      .one()
    let through = expired.seq ?? 0
    const removed = this.sql
      .exec<{ bytes: number }>('SELECT coalesce(sum(size), 0) AS bytes FROM messages WHERE seq <= ?', through)
      .one()
    let remainingBytes = state.bytes - removed.bytes
    if (remainingBytes > maxBytes) {
      const rows = this.sql.exec<{ seq: number; size: number }>(
        'SELECT seq, size FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq',
        through,
        limit,
      )
      for (const row of rows) {
        if (remainingBytes <= maxBytes) break
        remainingBytes -= row.size
        through = row.seq
      }
    }
    if (through === 0) return 0
    const count = this.sql
      .exec<{ count: number }>('SELECT count(*) AS count FROM messages WHERE seq <= ?', through)
      .one().count
    this.sql.exec('DELETE FROM messages WHERE seq <= ?', through)
    const messages = state.messages - count
    this.sql.exec('UPDATE topic SET message_count = ?, byte_count = ? WHERE id = 1', messages, remainingBytes)
    return through
  }

  /** When the next trim is due: now when over size, else when the oldest message or dedup id expires. */
  nextTrimDue(state: TopicState, now: number): number | null {
    if (state.bytes > state.config.retention.maxBytes) return now
    const oldest = this.sql
      .exec<{ at: number | null }>('SELECT min(published_at) AS at FROM messages')
      .one().at
    const dedup = this.sql.exec<{ at: number | null }>('SELECT min(expires_at) AS at FROM dedup').one().at
    const candidates = [
      oldest === null ? null : oldest + state.config.retention.maxAgeSeconds * 1000,
      dedup,
    ].filter((at): at is number => at !== null)
    return candidates.length > 0 ? Math.min(...candidates) : null
  }
}

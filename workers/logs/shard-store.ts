/**
 * The tables of one log shard (one tenant, one UTC day, one slice of the streams) in its
 * Durable Object's SQLite, and every read and write on them. The object calls each write
 * inside one `transactionSync`.
 *
 * Tables: `streams` (canonical label set), `stream_labels` (label index: name, value →
 * stream), `entries` (the hot tier: time, line, metadata), `lines` (FTS5 trigram over the
 * lines, external content), `fields` (field index: name, value → entry), `batches` (hashes
 * of ingested batches, kept as long as the shard: a retried batch stores nothing), `chunks` (the archive tier's index:
 * one row per compressed chunk in object storage, by stream and time range).
 *
 * Guarantees: a batch is stored whole or not at all and at most once per batch id; every
 * line is in the label, word and field indexes in the same transaction. Cost per line: one
 * entry row, one FTS row (≈ its trigrams) and one field row per indexed field.
 */
import { type Entry, labelsFromKey, labelsKey, type Stream } from './entries'
import { indexedFields } from './plan'

export const SCHEMA_VERSION = 1

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)`,
  `CREATE TABLE IF NOT EXISTS stream_labels (name TEXT NOT NULL, value TEXT NOT NULL, stream_id INTEGER NOT NULL,
     PRIMARY KEY (name, value, stream_id)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, ms INTEGER NOT NULL,
     ns INTEGER NOT NULL, line TEXT NOT NULL, metadata TEXT)`,
  `CREATE INDEX IF NOT EXISTS entries_by_time ON entries (ms, ns)`,
  `CREATE INDEX IF NOT EXISTS entries_by_stream ON entries (stream_id, ms, ns)`,
  `CREATE VIRTUAL TABLE IF NOT EXISTS lines USING fts5 (line, content='entries', content_rowid='id',
     tokenize='trigram case_sensitive 1')`,
  `CREATE TABLE IF NOT EXISTS fields (name TEXT NOT NULL, value TEXT NOT NULL, entry_id INTEGER NOT NULL,
     PRIMARY KEY (name, value, entry_id)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS batches (hash TEXT PRIMARY KEY, at INTEGER NOT NULL, lines INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, key TEXT NOT NULL,
     min_ms INTEGER NOT NULL, max_ms INTEGER NOT NULL, lines INTEGER NOT NULL, raw_bytes INTEGER NOT NULL,
     stored_bytes INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS chunks_by_stream ON chunks (stream_id, min_ms)`,
]

/** A stored line as queries read it, from either tier. */
export interface Row {
  streamId: number
  ms: number
  ns: number
  line: string
  metadata: Record<string, string> | undefined
}

export interface ChunkRef {
  id: number
  streamId: number
  key: string
  minMs: number
  maxMs: number
  lines: number
  rawBytes: number
  storedBytes: number
}

/** Lines (both tiers), streams, and the archive's chunks, lines and bytes (raw and compressed). */
export interface ShardCounts {
  lines: number
  streams: number
  chunks: number
  archivedLines: number
  rawBytes: number
  storedBytes: number
}

/** What to read: streams, a time range in ms (inclusive) and the index lookups of a plan. */
export interface RowSelection {
  streamIds: number[] | 'all'
  fromMs: number
  toMs: number
  words: string[]
  fields: Array<[string, string]>
  descending: boolean
}

export class ShardStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement)
    this.setMeta('schema_version', String(SCHEMA_VERSION))
  }

  getMeta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value
  }

  setMeta(key: string, value: string): void {
    this.sql.exec(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      key,
      value,
    )
  }

  hasBatch(hash: string): boolean {
    return this.sql.exec('SELECT 1 FROM batches WHERE hash = ?', hash).toArray().length > 0
  }

  /**
   * Stores a batch's streams under `hash`; returns the lines stored (0 for a repeated hash).
   * Three statements for the whole batch (entries, their FTS rows, their field rows), each
   * reading its rows from one JSON array, instead of a statement per line: rowids of one
   * INSERT … SELECT are consecutive after the current maximum, so the field rows know theirs.
   */
  ingest(hash: string, streams: Stream[], now: number): number {
    if (this.hasBatch(hash)) return 0
    const rows: Array<[number, number, number, string, string | null]> = []
    const entries: Entry[] = []
    for (const stream of streams) {
      const streamId = this.streamId(stream.labels)
      for (const entry of stream.entries) {
        const metadata = entry.metadata && Object.keys(entry.metadata).length > 0 ? entry.metadata : undefined
        rows.push([streamId, entry.ms, entry.ns, entry.line, metadata ? JSON.stringify(metadata) : null])
        entries.push({ ...entry, metadata })
      }
    }
    const before = this.maxEntryId()
    this.sql.exec(
      `INSERT INTO entries (stream_id, ms, ns, line, metadata)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) ORDER BY key`,
      JSON.stringify(rows),
    )
    this.sql.exec('INSERT INTO lines (rowid, line) SELECT id, line FROM entries WHERE id > ?', before)
    const fields: Array<[string, string, number]> = []
    entries.forEach((entry, i) => {
      for (const [name, value] of indexedFields(entry.line, entry.metadata))
        fields.push([name, value, before + 1 + i])
    })
    if (fields.length > 0) {
      this.sql.exec(
        'INSERT OR IGNORE INTO fields (name, value, entry_id) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)',
        JSON.stringify(fields),
      )
    }
    this.sql.exec('INSERT INTO batches (hash, at, lines) VALUES (?, ?, ?)', hash, now, rows.length)
    return rows.length
  }

  private streamId(labels: Record<string, string>): number {
    const key = labelsKey(labels)
    const found = this.sql.exec<{ id: number }>('SELECT id FROM streams WHERE key = ?', key).toArray()[0]
    if (found) return found.id
    const { id } = this.sql
      .exec<{ id: number }>('INSERT INTO streams (key) VALUES (?) RETURNING id', key)
      .one()
    for (const [name, value] of Object.entries(labels)) {
      this.sql.exec('INSERT INTO stream_labels (name, value, stream_id) VALUES (?, ?, ?)', name, value, id)
    }
    return id
  }

  /** Every stream: id → labels. */
  streams(): Map<number, Record<string, string>> {
    const streams = new Map<number, Record<string, string>>()
    for (const row of this.sql.exec<{ id: number; key: string }>('SELECT id, key FROM streams')) {
      streams.set(row.id, labelsFromKey(row.key))
    }
    return streams
  }

  /** Streams having every `name = value` pair (label index); all streams when `pairs` is empty. */
  streamsWith(pairs: Array<[string, string]>): Map<number, Record<string, string>> {
    if (pairs.length === 0) return this.streams()
    const clauses = pairs
      .map(() => 'SELECT stream_id FROM stream_labels WHERE name = ? AND value = ?')
      .join(' INTERSECT ')
    const streams = new Map<number, Record<string, string>>()
    const rows = this.sql.exec<{ id: number; key: string }>(
      `SELECT id, key FROM streams WHERE id IN (${clauses})`,
      ...pairs.flat(),
    )
    for (const row of rows) streams.set(row.id, labelsFromKey(row.key))
    return streams
  }

  /** The SQL and bindings reading the hot rows of a selection (shared by `rows` and `explain`). */
  private selectionSql(selection: RowSelection): { query: string; bindings: unknown[] } {
    const conditions = ['ms BETWEEN ? AND ?']
    const bindings: unknown[] = [selection.fromMs, selection.toMs]
    if (selection.streamIds !== 'all') {
      conditions.push('stream_id IN (SELECT value FROM json_each(?))')
      bindings.push(JSON.stringify(selection.streamIds))
    }
    if (selection.words.length > 0) {
      conditions.push('id IN (SELECT rowid FROM lines WHERE lines MATCH ?)')
      bindings.push(selection.words.map((word) => `"${word.replaceAll('"', '""')}"`).join(' AND '))
    }
    for (const [name, value] of selection.fields) {
      conditions.push('id IN (SELECT entry_id FROM fields WHERE name = ? AND value = ?)')
      bindings.push(name, value)
    }
    const direction = selection.descending ? 'DESC' : 'ASC'
    return {
      query: `SELECT stream_id, ms, ns, line, metadata FROM entries WHERE ${conditions.join(' AND ')}
              ORDER BY ms ${direction}, ns ${direction}, id ${direction}`,
      bindings,
    }
  }

  /** The hot rows of a selection, in time order (a lazy cursor: stop reading when done). */
  *rows(selection: RowSelection): Generator<Row> {
    const { query, bindings } = this.selectionSql(selection)
    type Raw = { stream_id: number; ms: number; ns: number; line: string; metadata: string | null }
    for (const raw of this.sql.exec<Raw>(query, ...bindings)) {
      yield {
        streamId: raw.stream_id,
        ms: raw.ms,
        ns: raw.ns,
        line: raw.line,
        metadata: raw.metadata ? (JSON.parse(raw.metadata) as Record<string, string>) : undefined,
      }
    }
  }

  /** SQLite's plan for a selection: which indexes it uses (the query-plan tests read this). */
  explain(selection: RowSelection): string[] {
    const { query, bindings } = this.selectionSql(selection)
    return this.sql
      .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...bindings)
      .toArray()
      .map((row) => row.detail)
  }

  chunksFor(streamIds: number[] | 'all', fromMs: number, toMs: number): ChunkRef[] {
    const filter = streamIds === 'all' ? '' : 'AND stream_id IN (SELECT value FROM json_each(?))'
    const bindings: unknown[] = [toMs, fromMs]
    if (streamIds !== 'all') bindings.push(JSON.stringify(streamIds))
    return this.sql
      .exec<{
        id: number
        stream_id: number
        key: string
        min_ms: number
        max_ms: number
        lines: number
        raw_bytes: number
        stored_bytes: number
      }>(`SELECT * FROM chunks WHERE min_ms <= ? AND max_ms >= ? ${filter} ORDER BY min_ms`, ...bindings)
      .toArray()
      .map((c) => ({
        id: c.id,
        streamId: c.stream_id,
        key: c.key,
        minMs: c.min_ms,
        maxMs: c.max_ms,
        lines: c.lines,
        rawBytes: c.raw_bytes,
        storedBytes: c.stored_bytes,
      }))
  }

  /** The hot rows up to entry `maxId`, by stream then time: what one compaction moves. */
  rowsToCompact(maxId: number): Map<number, Row[]> {
    const byStream = new Map<number, Row[]>()
    const rows = this.sql.exec<{
      stream_id: number
      ms: number
      ns: number
      line: string
      metadata: string | null
    }>(
      'SELECT stream_id, ms, ns, line, metadata FROM entries WHERE id <= ? ORDER BY stream_id, ms, ns, id',
      maxId,
    )
    for (const raw of rows) {
      const list = byStream.get(raw.stream_id) ?? []
      list.push({
        streamId: raw.stream_id,
        ms: raw.ms,
        ns: raw.ns,
        line: raw.line,
        metadata: raw.metadata ? JSON.parse(raw.metadata) : undefined,
      })
      byStream.set(raw.stream_id, list)
    }
    return byStream
  }

  maxEntryId(): number {
    return this.sql.exec<{ id: number | null }>('SELECT max(id) AS id FROM entries').one().id ?? 0
  }

  /** Replaces the hot rows up to `maxId` with the chunks that now hold them (one transaction). */
  commitCompaction(maxId: number, chunks: Omit<ChunkRef, 'id'>[]): void {
    for (const c of chunks) {
      this.sql.exec(
        'INSERT INTO chunks (stream_id, key, min_ms, max_ms, lines, raw_bytes, stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
        c.streamId,
        c.key,
        c.minMs,
        c.maxMs,
        c.lines,
        c.rawBytes,
        c.storedBytes,
      )
    }
    this.sql.exec(
      `INSERT INTO lines (lines, rowid, line) SELECT 'delete', id, line FROM entries WHERE id <= ?`,
      maxId,
    )
    this.sql.exec('DELETE FROM fields WHERE entry_id <= ?', maxId)
    this.sql.exec('DELETE FROM entries WHERE id <= ?', maxId)
  }

  counts(): ShardCounts {
    const hot = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM entries').one().n
    const streams = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM streams').one().n
    const archive = this.sql
      .exec<{ n: number; lines: number | null; raw: number | null; stored: number | null }>(
        'SELECT count(*) AS n, sum(lines) AS lines, sum(raw_bytes) AS raw, sum(stored_bytes) AS stored FROM chunks',
      )
      .one()
    return {
      lines: hot + (archive.lines ?? 0),
      streams,
      chunks: archive.n,
      archivedLines: archive.lines ?? 0,
      rawBytes: archive.raw ?? 0,
      storedBytes: archive.stored ?? 0,
    }
  }

  /** Deletes everything (retention of the whole shard). */
  wipe(): void {
    for (const table of ['stream_labels', 'streams', 'fields', 'entries', 'batches', 'chunks'])
      this.sql.exec(`DELETE FROM ${table}`)
    this.sql.exec(`INSERT INTO lines (lines) VALUES ('delete-all')`)
  }
}

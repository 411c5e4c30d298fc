/**
 * A persistent cache node's SQLite image: one row per key with its type, its value encoded
 * as text (strings as is, collections as JSON) and its TTL fields. `saveDirty` writes
 * exactly the keys a batch changed (upsert or delete) inside the caller's transaction;
 * `loadAll` rebuilds the keyspace (expired rows dropped) when the object starts again.
 * A value whose encoding is over MAX_ROW_BYTES (a Durable Object's SQLite row limit is
 * 2 MB) stays in memory only: its row is deleted, so a restart never revives an older one.
 */
import { formatDouble, parseDouble } from './commands/args'
import { type Keyspace, utf8Length, type Value } from './keyspace'

export const MAX_ROW_BYTES = 1_900_000

export function createSnapshotTables(sql: SqlStorage): void {
  sql.exec(
    `CREATE TABLE IF NOT EXISTS entries (
       key TEXT PRIMARY KEY,
       type TEXT NOT NULL,
       data TEXT NOT NULL,
       expires_at INTEGER,
       stale_until INTEGER,
       compute_ms INTEGER
     )`,
  )
}

export function encodeValue(value: Value): string {
  switch (value.type) {
    case 'string':
      return value.data
    case 'hash':
      return JSON.stringify([...value.data])
    case 'list':
      return JSON.stringify(value.data)
    case 'set':
      return JSON.stringify([...value.data])
    case 'zset':
      return JSON.stringify([...value.data].map(([member, score]) => [member, formatDouble(score)]))
  }
}

export function decodeValue(type: string, data: string): Value {
  switch (type) {
    case 'hash':
      return { type, data: new Map(JSON.parse(data) as Array<[string, string]>) }
    case 'list':
      return { type, data: JSON.parse(data) as string[] }
    case 'set':
      return { type, data: new Set(JSON.parse(data) as string[]) }
    case 'zset':
      return {
        type,
        data: new Map((JSON.parse(data) as Array<[string, string]>).map(([m, s]) => [m, parseDouble(s)])),
      }
    default:
      return { type: 'string', data }
  }
}

/** Writes the keys changed since the last save; call inside `transactionSync`. */
export function saveDirty(sql: SqlStorage, ks: Keyspace): void {
  for (const key of ks.dirty) {
    const entry = ks.entries.get(key)
    const data = entry ? encodeValue(entry.value) : undefined
    if (!entry || data === undefined || utf8Length(data) + utf8Length(key) > MAX_ROW_BYTES) {
      sql.exec('DELETE FROM entries WHERE key = ?', key)
      continue
    }
    sql.exec(
      `INSERT INTO entries (key, type, data, expires_at, stale_until, compute_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET type = excluded.type, data = excluded.data, expires_at = excluded.expires_at,
         stale_until = excluded.stale_until, compute_ms = excluded.compute_ms`,
      key,
      entry.value.type,
      data,
      entry.expiresAt ?? null,
      entry.staleUntil ?? null,
      entry.computeMs ?? null,
    )
  }
  ks.dirty.clear()
}

interface Row extends Record<string, SqlStorageValue> {
  key: string
  type: string
  data: string
  expires_at: number | null
  stale_until: number | null
  compute_ms: number | null
}

export function loadAll(sql: SqlStorage, ks: Keyspace, now: number): void {
  for (const row of sql.exec<Row>(
    'SELECT key, type, data, expires_at, stale_until, compute_ms FROM entries',
  )) {
    const until = row.stale_until ?? row.expires_at
    if (until !== null && until <= now) {
      sql.exec('DELETE FROM entries WHERE key = ?', row.key)
      continue
    }
    ks.put(row.key, decodeValue(row.type, row.data), row.expires_at ?? undefined, now, {
      staleUntil: row.stale_until ?? undefined,
      computeMs: row.compute_ms ?? undefined,
    })
  }
  ks.dirty.clear()
}

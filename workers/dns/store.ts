/**
 * The zone object's tables: `meta` (origin, owner, serial, DNSSEC key), `rrsets` (one row
 * per RRset, its records as canonical presentation text and its routing policy as JSON)
 * and `health` (the last HTTP check of each failover record and when the next is due).
 * RDATA is re-parsed from the canonical text when the zone loads. Every statement is
 * parameterized; callers wrap changes in one `transactionSync`.
 */

import { parseContent, rrsetKey } from './records'
import type { RoutingPolicy } from './routing-policy'
import type { RRset } from './zone'

interface RRsetRow extends Record<string, SqlStorageValue> {
  name: string
  type: number
  ttl: number
  records: string
  policy: string | null
}

export interface HealthRow extends Record<string, SqlStorageValue> {
  key: string
  content: string
  healthy: number | null
  checked_at: number | null
  next_at: number
}

export class ZoneStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS rrsets (key TEXT PRIMARY KEY, name TEXT NOT NULL, type INTEGER NOT NULL,
        ttl INTEGER NOT NULL, records TEXT NOT NULL, policy TEXT)`,
    )
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS health (key TEXT NOT NULL, content TEXT NOT NULL, healthy INTEGER,
        checked_at INTEGER, next_at INTEGER NOT NULL, PRIMARY KEY (key, content))`,
    )
    this.sql.exec(`CREATE INDEX IF NOT EXISTS health_due ON health (next_at)`)
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

  deleteMeta(key: string): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key)
  }

  loadRRsets(origin: string): Map<string, RRset> {
    const sets = new Map<string, RRset>()
    for (const row of this.sql.exec<RRsetRow>('SELECT name, type, ttl, records, policy FROM rrsets')) {
      const contents = JSON.parse(row.records) as string[]
      const rrset: RRset = {
        name: row.name,
        type: row.type,
        ttl: row.ttl,
        records: contents.map((content) => parseContent(row.type, content, origin, 'stored')),
      }
      if (row.policy) rrset.policy = JSON.parse(row.policy) as RoutingPolicy
      sets.set(rrsetKey(row.name, row.type), rrset)
    }
    return sets
  }

  /** Writes the difference between two states of the zone. */
  saveChanges(before: ReadonlyMap<string, RRset>, after: ReadonlyMap<string, RRset>): void {
    for (const key of before.keys()) {
      if (!after.has(key)) {
        this.sql.exec('DELETE FROM rrsets WHERE key = ?', key)
        this.sql.exec('DELETE FROM health WHERE key = ?', key)
      }
    }
    for (const [key, rrset] of after) {
      if (before.get(key) === rrset) continue
      this.sql.exec(
        `INSERT INTO rrsets (key, name, type, ttl, records, policy) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET name = excluded.name, ttl = excluded.ttl, records = excluded.records,
         policy = excluded.policy`,
        key,
        rrset.name,
        rrset.type,
        rrset.ttl,
        JSON.stringify(rrset.records.map((record) => record.content)),
        rrset.policy ? JSON.stringify(rrset.policy) : null,
      )
      this.syncHealth(key, rrset)
    }
  }

  /** Keeps one health row per checked record of a failover RRset with an HTTP check (not the pooled ones). */
  private syncHealth(key: string, rrset: RRset): void {
    const policy = rrset.policy
    const contents = policy?.healthCheck
      ? rrset.records.filter((_, i) => !policy.attributes[i]?.pool).map((record) => record.content)
      : []
    const existing = this.sql
      .exec<{ content: string }>('SELECT content FROM health WHERE key = ?', key)
      .toArray()
      .map((row) => row.content)
    for (const content of existing) {
      if (!contents.includes(content))
        this.sql.exec('DELETE FROM health WHERE key = ? AND content = ?', key, content)
    }
    for (const content of contents) {
      if (!existing.includes(content))
        this.sql.exec(
          'INSERT INTO health (key, content, healthy, checked_at, next_at) VALUES (?, ?, NULL, NULL, 0)',
          key,
          content,
        )
    }
  }

  healthRows(): HealthRow[] {
    return this.sql.exec<HealthRow>('SELECT key, content, healthy, checked_at, next_at FROM health').toArray()
  }

  dueHealth(now: number): HealthRow[] {
    return this.sql
      .exec<HealthRow>(
        'SELECT key, content, healthy, checked_at, next_at FROM health WHERE next_at <= ?',
        now,
      )
      .toArray()
  }

  recordHealth(key: string, content: string, healthy: boolean, now: number, nextAt: number): void {
    this.sql.exec(
      'UPDATE health SET healthy = ?, checked_at = ?, next_at = ? WHERE key = ? AND content = ?',
      healthy ? 1 : 0,
      now,
      nextAt,
      key,
      content,
    )
  }

  nextHealthDue(): number | undefined {
    const row = this.sql.exec<{ due: number | null }>('SELECT MIN(next_at) AS due FROM health').one()
    return row.due ?? undefined
  }

  wipe(): void {
    this.sql.exec('DELETE FROM rrsets')
    this.sql.exec('DELETE FROM health')
    this.sql.exec('DELETE FROM meta')
  }
}

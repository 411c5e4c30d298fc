/**
 * The tables of a tenant's rules object: rule files and their groups (with each group's
 * next evaluation time), per-rule health, alerts, webhook receivers, silences, and the
 * notification outbox with its dead letters (at-least-once delivery).
 *
 * Every method is one state change the object runs inside `transactionSync`. Cost: rows
 * per alert and per pending notification; group and rule specs are stored as JSON.
 */
import type { ReceiverInput, SilenceMatcher } from '../../../schemas/monitoring-rules'
import type { Alert, Silence } from './alerts'
import type { RuleGroup } from './rule-file'

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, yaml TEXT NOT NULL, updated_at INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS groups (file TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL,
     spec TEXT NOT NULL, next_at INTEGER NOT NULL, last_eval_at INTEGER, last_duration_ms REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (file, name))`,
  `CREATE TABLE IF NOT EXISTS rule_health (file TEXT NOT NULL, grp TEXT NOT NULL, idx INTEGER NOT NULL,
     health TEXT NOT NULL, last_error TEXT NOT NULL, last_eval_at INTEGER NOT NULL, duration_ms REAL NOT NULL,
     PRIMARY KEY (file, grp, idx))`,
  `CREATE TABLE IF NOT EXISTS alerts (file TEXT NOT NULL, grp TEXT NOT NULL, idx INTEGER NOT NULL, key TEXT NOT NULL,
     alert TEXT NOT NULL, PRIMARY KEY (file, grp, idx, key))`,
  `CREATE TABLE IF NOT EXISTS receivers (name TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,
     matchers TEXT NOT NULL, repeat_ms INTEGER NOT NULL, timeout_ms INTEGER NOT NULL, last_error TEXT)`,
  `CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at INTEGER NOT NULL,
     ends_at INTEGER NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL,
     webhook_id TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
     last_error TEXT)`,
  `CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, receiver TEXT NOT NULL, webhook_id TEXT NOT NULL,
     body TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT NOT NULL, failed_at INTEGER NOT NULL)`,
]

export interface GroupRow {
  file: string
  name: string
  group: RuleGroup
  nextAt: number
  lastEvalAt: number | null
  lastDurationMs: number
}

export interface RuleHealth {
  health: 'ok' | 'err' | 'unknown'
  lastError: string
  lastEvalAt: number
  durationMs: number
}

export interface Receiver {
  name: string
  url: string
  secret: string
  matchers: SilenceMatcher[]
  repeatMs: number
  timeoutMs: number
  lastError: string | null
}

export interface OutboxRow {
  id: number
  receiver: string
  webhookId: string
  body: string
  attempts: number
}

export class RulesStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement)
  }

  meta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value
  }
  setMeta(key: string, value: string): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value)
  }

  // ---- rule files and groups

  fileNames(): Array<{ name: string; updatedAt: number }> {
    return this.sql
      .exec<{ name: string; updated_at: number }>('SELECT name, updated_at FROM files ORDER BY name')
      .toArray()
      .map((r) => ({ name: r.name, updatedAt: r.updated_at }))
  }
  file(name: string): { yaml: string; updatedAt: number } | undefined {
    const r = this.sql
      .exec<{ yaml: string; updated_at: number }>('SELECT yaml, updated_at FROM files WHERE name = ?', name)
      .toArray()[0]
    return r && { yaml: r.yaml, updatedAt: r.updated_at }
  }

  /** Replaces a file's groups; alerts and health of groups whose spec changed start afresh. */
  putFile(name: string, yaml: string, groups: RuleGroup[], now: number): void {
    const before = new Map(this.groups(name).map((g) => [g.name, g]))
    this.sql.exec('INSERT OR REPLACE INTO files (name, yaml, updated_at) VALUES (?, ?, ?)', name, yaml, now)
    this.sql.exec('DELETE FROM groups WHERE file = ?', name)
    groups.forEach((group, position) => {
      const old = before.get(group.name)
      const same = old !== undefined && JSON.stringify(old.group) === JSON.stringify(group)
      if (!same) {
        this.sql.exec('DELETE FROM alerts WHERE file = ? AND grp = ?', name, group.name)
        this.sql.exec('DELETE FROM rule_health WHERE file = ? AND grp = ?', name, group.name)
      }
      const nextAt = same && old ? old.nextAt : (Math.floor(now / group.intervalMs) + 1) * group.intervalMs
      this.sql.exec(
        'INSERT INTO groups (file, name, position, spec, next_at, last_eval_at, last_duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
        name,
        group.name,
        position,
        JSON.stringify(group),
        nextAt,
        same && old ? old.lastEvalAt : null,
        same && old ? old.lastDurationMs : 0,
      )
    })
    for (const gone of before.keys()) {
      if (!groups.some((g) => g.name === gone)) this.dropGroupState(name, gone)
    }
  }

  deleteFile(name: string): boolean {
    const existed = this.file(name) !== undefined
    this.sql.exec('DELETE FROM files WHERE name = ?', name)
    this.sql.exec('DELETE FROM groups WHERE file = ?', name)
    this.sql.exec('DELETE FROM alerts WHERE file = ?', name)
    this.sql.exec('DELETE FROM rule_health WHERE file = ?', name)
    return existed
  }

  private dropGroupState(file: string, group: string): void {
    this.sql.exec('DELETE FROM alerts WHERE file = ? AND grp = ?', file, group)
    this.sql.exec('DELETE FROM rule_health WHERE file = ? AND grp = ?', file, group)
  }

  groups(file?: string): GroupRow[] {
    const rows = this.sql
      .exec<{
        file: string
        name: string
        spec: string
        next_at: number
        last_eval_at: number | null
        last_duration_ms: number
      }>(
        `SELECT file, name, spec, next_at, last_eval_at, last_duration_ms FROM groups
         ${file === undefined ? '' : 'WHERE file = ?'} ORDER BY file, position`,
        ...(file === undefined ? [] : [file]),
      )
      .toArray()
    return rows.map((r) => ({
      file: r.file,
      name: r.name,
      group: JSON.parse(r.spec) as RuleGroup,
      nextAt: r.next_at,
      lastEvalAt: r.last_eval_at,
      lastDurationMs: r.last_duration_ms,
    }))
  }

  group(file: string, name: string): GroupRow | undefined {
    return this.groups(file).find((g) => g.name === name)
  }

  finishGroup(file: string, name: string, evalAt: number, durationMs: number, nextAt: number): void {
    this.sql.exec(
      'UPDATE groups SET last_eval_at = ?, last_duration_ms = ?, next_at = ? WHERE file = ? AND name = ?',
      evalAt,
      durationMs,
      nextAt,
      file,
      name,
    )
  }

  health(file: string, group: string, idx: number): RuleHealth | undefined {
    const r = this.sql
      .exec<{ health: string; last_error: string; last_eval_at: number; duration_ms: number }>(
        'SELECT health, last_error, last_eval_at, duration_ms FROM rule_health WHERE file = ? AND grp = ? AND idx = ?',
        file,
        group,
        idx,
      )
      .toArray()[0]
    return (
      r && {
        health: r.health as RuleHealth['health'],
        lastError: r.last_error,
        lastEvalAt: r.last_eval_at,
        durationMs: r.duration_ms,
      }
    )
  }
  setHealth(file: string, group: string, idx: number, h: RuleHealth): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO rule_health (file, grp, idx, health, last_error, last_eval_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      file,
      group,
      idx,
      h.health,
      h.lastError,
      h.lastEvalAt,
      h.durationMs,
    )
  }

  // ---- alerts

  alerts(file: string, group: string, idx: number): Alert[] {
    return this.sql
      .exec<{ alert: string }>(
        'SELECT alert FROM alerts WHERE file = ? AND grp = ? AND idx = ? ORDER BY key',
        file,
        group,
        idx,
      )
      .toArray()
      .map((r) => JSON.parse(r.alert) as Alert)
  }
  setAlerts(file: string, group: string, idx: number, alerts: Alert[]): void {
    this.sql.exec('DELETE FROM alerts WHERE file = ? AND grp = ? AND idx = ?', file, group, idx)
    for (const a of alerts)
      this.sql.exec(
        'INSERT INTO alerts (file, grp, idx, key, alert) VALUES (?, ?, ?, ?, ?)',
        file,
        group,
        idx,
        a.key,
        JSON.stringify(a),
      )
  }

  // ---- receivers

  receivers(): Receiver[] {
    return this.sql
      .exec<{
        name: string
        url: string
        secret: string
        matchers: string
        repeat_ms: number
        timeout_ms: number
        last_error: string | null
      }>('SELECT * FROM receivers ORDER BY name')
      .toArray()
      .map((r) => ({
        name: r.name,
        url: r.url,
        secret: r.secret,
        matchers: JSON.parse(r.matchers) as SilenceMatcher[],
        repeatMs: r.repeat_ms,
        timeoutMs: r.timeout_ms,
        lastError: r.last_error,
      }))
  }
  putReceiver(name: string, input: ReceiverInput, secret: string): void {
    this.sql.exec(
      `INSERT INTO receivers (name, url, secret, matchers, repeat_ms, timeout_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET url = excluded.url, secret = excluded.secret, matchers = excluded.matchers,
         repeat_ms = excluded.repeat_ms, timeout_ms = excluded.timeout_ms`,
      name,
      input.url,
      secret,
      JSON.stringify(input.matchers),
      input.repeatIntervalSeconds * 1000,
      input.timeoutSeconds * 1000,
    )
  }
  deleteReceiver(name: string): boolean {
    const n = this.sql.exec('DELETE FROM receivers WHERE name = ?', name).rowsWritten
    this.sql.exec('DELETE FROM outbox WHERE receiver = ?', name)
    this.sql.exec('DELETE FROM dead_letters WHERE receiver = ?', name)
    return n > 0
  }
  receiverStats(name: string): { pending: number; deadLettered: number } {
    const p = this.sql
      .exec<{ n: number }>('SELECT count(*) AS n FROM outbox WHERE receiver = ?', name)
      .one().n
    const d = this.sql
      .exec<{ n: number }>('SELECT count(*) AS n FROM dead_letters WHERE receiver = ?', name)
      .one().n
    return { pending: p, deadLettered: d }
  }
  deadLetters(receiver: string): Array<{
    id: number
    webhookId: string
    body: string
    attempts: number
    lastError: string
    failedAt: number
  }> {
    return this.sql
      .exec<{
        id: number
        webhook_id: string
        body: string
        attempts: number
        last_error: string
        failed_at: number
      }>(
        'SELECT id, webhook_id, body, attempts, last_error, failed_at FROM dead_letters WHERE receiver = ? ORDER BY id LIMIT 100',
        receiver,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        webhookId: r.webhook_id,
        body: r.body,
        attempts: r.attempts,
        lastError: r.last_error,
        failedAt: r.failed_at,
      }))
  }

  // ---- silences

  silences(): Array<Silence & { createdBy: string; comment: string }> {
    return this.sql
      .exec<{
        id: string
        matchers: string
        starts_at: number
        ends_at: number
        created_by: string
        comment: string
      }>('SELECT * FROM silences ORDER BY starts_at, id')
      .toArray()
      .map((r) => ({
        id: r.id,
        matchers: JSON.parse(r.matchers) as SilenceMatcher[],
        startsAt: r.starts_at,
        endsAt: r.ends_at,
        createdBy: r.created_by,
        comment: r.comment,
      }))
  }
  addSilence(s: Silence & { createdBy: string; comment: string }): void {
    this.sql.exec(
      'INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)',
      s.id,
      JSON.stringify(s.matchers),
      s.startsAt,
      s.endsAt,
      s.createdBy,
      s.comment,
    )
  }
  /** Ends a silence now (Alertmanager expires rather than deletes). */
  expireSilence(id: string, now: number): boolean {
    return (
      this.sql.exec('UPDATE silences SET ends_at = min(ends_at, ?) WHERE id = ?', now, id).rowsWritten > 0
    )
  }
  silenceCount(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM silences').one().n
  }

  // ---- outbox

  enqueue(receiver: string, webhookId: string, body: string, now: number): void {
    this.sql.exec(
      'INSERT INTO outbox (receiver, webhook_id, body, next_at) VALUES (?, ?, ?, ?)',
      receiver,
      webhookId,
      body,
      now,
    )
  }
  due(now: number, limit: number): OutboxRow[] {
    return this.sql
      .exec<{ id: number; receiver: string; webhook_id: string; body: string; attempts: number }>(
        'SELECT id, receiver, webhook_id, body, attempts FROM outbox WHERE next_at <= ? ORDER BY next_at, id LIMIT ?',
        now,
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        receiver: r.receiver,
        webhookId: r.webhook_id,
        body: r.body,
        attempts: r.attempts,
      }))
  }
  delivered(id: number, receiver: string): void {
    this.sql.exec('DELETE FROM outbox WHERE id = ?', id)
    this.sql.exec('UPDATE receivers SET last_error = NULL WHERE name = ?', receiver)
  }
  failed(row: OutboxRow, error: string, now: number, retryAt: number | null): void {
    this.sql.exec('UPDATE receivers SET last_error = ? WHERE name = ?', error, row.receiver)
    if (retryAt === null) {
      this.sql.exec('DELETE FROM outbox WHERE id = ?', row.id)
      this.sql.exec(
        'INSERT INTO dead_letters (id, receiver, webhook_id, body, attempts, last_error, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        row.id,
        row.receiver,
        row.webhookId,
        row.body,
        row.attempts + 1,
        error,
        now,
      )
    } else {
      this.sql.exec(
        'UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?',
        retryAt,
        error,
        row.id,
      )
    }
  }

  /** The earliest time anything is due: a group evaluation or a notification attempt. */
  nextDue(): number | null {
    const g = this.sql.exec<{ t: number | null }>('SELECT min(next_at) AS t FROM groups').one().t
    const o = this.sql.exec<{ t: number | null }>('SELECT min(next_at) AS t FROM outbox').one().t
    if (g === null) return o
    if (o === null) return g
    return Math.min(g, o)
  }
}

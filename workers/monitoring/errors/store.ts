/**
 * The tables of one project's errors object: settings and counters (meta), DSN keys,
 * issues with their users and releases, the latest events of each issue, release files
 * (source maps, stored in 1 MiB chunks under SQLite's row limit), per-minute event counts
 * (rate limit and spike detection) and the alerts waiting to be handed to the rules object.
 *
 * Every method is one statement or one state change the object runs inside
 * `transactionSync`. Cost: a row per issue, per (issue, user), per (issue, release), per kept
 * event (the latest `eventsPerIssue`), per minute of the last hour.
 */
import type { StoredFrame } from './event'

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS keys (public_key TEXT PRIMARY KEY, created_at INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS issues (id INTEGER PRIMARY KEY AUTOINCREMENT, grouping TEXT NOT NULL UNIQUE,
     title TEXT NOT NULL, culprit TEXT NOT NULL, level TEXT NOT NULL, status TEXT NOT NULL,
     count INTEGER NOT NULL, user_count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
     first_release TEXT, last_release TEXT, stacktrace TEXT NOT NULL, resolved_at INTEGER)`,
  'CREATE INDEX IF NOT EXISTS issues_by_last_seen ON issues (last_seen, id)',
  `CREATE TABLE IF NOT EXISTS issue_users (issue_id INTEGER NOT NULL, user TEXT NOT NULL,
     PRIMARY KEY (issue_id, user))`,
  `CREATE TABLE IF NOT EXISTS issue_releases (issue_id INTEGER NOT NULL, release TEXT NOT NULL,
     first_seen INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (issue_id, release))`,
  'CREATE TABLE IF NOT EXISTS releases (name TEXT PRIMARY KEY, first_seen INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id INTEGER NOT NULL,
     event_id TEXT NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS events_by_issue ON events (issue_id, id)',
  `CREATE TABLE IF NOT EXISTS files (release TEXT NOT NULL, name TEXT NOT NULL, chunk INTEGER NOT NULL,
     data BLOB NOT NULL, size INTEGER NOT NULL, uploaded_at INTEGER NOT NULL, PRIMARY KEY (release, name, chunk))`,
  'CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, events INTEGER NOT NULL)',
  'CREATE TABLE IF NOT EXISTS pending_alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)',
]

const CHUNK = 1024 * 1024

export type IssueStatus = 'unresolved' | 'resolved' | 'ignored' | 'regressed'

export interface IssueRow {
  id: number
  title: string
  culprit: string
  level: string
  status: IssueStatus
  count: number
  userCount: number
  firstSeen: number
  lastSeen: number
  firstRelease: string | null
  lastRelease: string | null
  stacktrace: StoredFrame[]
  resolvedAt: number | null
}

const ISSUE_COLUMNS = `id, title, culprit, level, status, count, user_count AS userCount, first_seen AS firstSeen,
  last_seen AS lastSeen, first_release AS firstRelease, last_release AS lastRelease, stacktrace,
  resolved_at AS resolvedAt`

type RawIssue = Omit<IssueRow, 'stacktrace'> & { stacktrace: string }
const toIssue = (r: RawIssue): IssueRow => ({ ...r, stacktrace: JSON.parse(r.stacktrace) as StoredFrame[] })
/** An issue's stored values, in the column order of insertIssue and updateIssue. */
const issueValues = (i: Omit<IssueRow, 'id'>) => [
  i.title,
  i.culprit,
  i.level,
  i.status,
  i.count,
  i.userCount,
  i.firstSeen,
  i.lastSeen,
  i.firstRelease,
  i.lastRelease,
  JSON.stringify(i.stacktrace),
  i.resolvedAt,
]

export class ErrorStore {
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
  bump(counter: string, by: number): void {
    if (by === 0) return
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)`,
      `stat:${counter}`,
      String(by),
      by,
    )
  }
  stat(counter: string): number {
    return Number(this.meta(`stat:${counter}`) ?? 0)
  }

  keys(): Array<{ publicKey: string; createdAt: number }> {
    return this.sql
      .exec<{ publicKey: string; createdAt: number }>(
        'SELECT public_key AS publicKey, created_at AS createdAt FROM keys ORDER BY created_at, public_key',
      )
      .toArray()
  }
  hasKey(key: string): boolean {
    return this.sql.exec('SELECT 1 FROM keys WHERE public_key = ?', key).toArray().length > 0
  }
  addKey(key: string, now: number): void {
    this.sql.exec('INSERT INTO keys (public_key, created_at) VALUES (?, ?)', key, now)
  }
  deleteKey(key: string): boolean {
    return this.sql.exec('DELETE FROM keys WHERE public_key = ?', key).rowsWritten > 0
  }

  // ---- rate and spikes

  minuteCount(minute: number): number {
    return (
      this.sql.exec<{ n: number }>('SELECT events AS n FROM minutes WHERE minute = ?', minute).toArray()[0]
        ?.n ?? 0
    )
  }
  addToMinute(minute: number, events: number): void {
    this.sql.exec(
      `INSERT INTO minutes (minute, events) VALUES (?, ?)
       ON CONFLICT (minute) DO UPDATE SET events = events + excluded.events`,
      minute,
      events,
    )
    this.sql.exec('DELETE FROM minutes WHERE minute < ?', minute - 60)
  }
  /** Events per minute over the 60 minutes before `minute` (missing minutes count as 0). */
  hourMean(minute: number): number {
    const sum = this.sql
      .exec<{ s: number | null }>(
        'SELECT sum(events) AS s FROM minutes WHERE minute >= ? AND minute < ?',
        minute - 60,
        minute,
      )
      .one().s
    return (sum ?? 0) / 60
  }

  // ---- issues

  issueByGrouping(grouping: string): IssueRow | undefined {
    const row = this.sql
      .exec<RawIssue>(`SELECT ${ISSUE_COLUMNS} FROM issues WHERE grouping = ?`, grouping)
      .toArray()[0]
    return row && toIssue(row)
  }
  issue(id: number): IssueRow | undefined {
    const row = this.sql.exec<RawIssue>(`SELECT ${ISSUE_COLUMNS} FROM issues WHERE id = ?`, id).toArray()[0]
    return row && toIssue(row)
  }
  insertIssue(grouping: string, i: Omit<IssueRow, 'id'>): number {
    return this.sql
      .exec<{ id: number }>(
        `INSERT INTO issues (grouping, title, culprit, level, status, count, user_count, first_seen, last_seen,
           first_release, last_release, stacktrace, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        grouping,
        ...issueValues(i),
      )
      .one().id
  }
  updateIssue(i: IssueRow): void {
    this.sql.exec(
      `UPDATE issues SET title = ?, culprit = ?, level = ?, status = ?, count = ?, user_count = ?, first_seen = ?,
         last_seen = ?, first_release = ?, last_release = ?, stacktrace = ?, resolved_at = ? WHERE id = ?`,
      ...issueValues(i),
      i.id,
    )
  }
  /** Records the user; true when the issue had not seen them. */
  addUser(issueId: number, user: string): boolean {
    return (
      this.sql.exec('INSERT OR IGNORE INTO issue_users (issue_id, user) VALUES (?, ?)', issueId, user)
        .rowsWritten > 0
    )
  }
  /** Records the release's first sighting in the project; returns when it was first seen. */
  seeRelease(release: string, now: number): number {
    this.sql.exec('INSERT OR IGNORE INTO releases (name, first_seen) VALUES (?, ?)', release, now)
    return this.sql.exec<{ t: number }>('SELECT first_seen AS t FROM releases WHERE name = ?', release).one()
      .t
  }
  addIssueRelease(issueId: number, release: string, now: number): void {
    this.sql.exec(
      `INSERT INTO issue_releases (issue_id, release, first_seen, count) VALUES (?, ?, ?, 1)
       ON CONFLICT (issue_id, release) DO UPDATE SET count = count + 1`,
      issueId,
      release,
      now,
    )
  }
  issueReleases(issueId: number): Array<{ release: string; firstSeen: number; count: number }> {
    return this.sql
      .exec<{ release: string; firstSeen: number; count: number }>(
        'SELECT release, first_seen AS firstSeen, count FROM issue_releases WHERE issue_id = ? ORDER BY first_seen, release',
        issueId,
      )
      .toArray()
  }
  issueCount(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM issues').one().n
  }
  /** Issues by last seen, newest first, after the cursor position `(lastSeen, id)`. */
  listIssues(limit: number, after: { lastSeen: number; id: number } | null, status?: string): IssueRow[] {
    const where: string[] = []
    const args: Array<string | number> = []
    if (after) {
      where.push('(last_seen < ? OR (last_seen = ? AND id < ?))')
      args.push(after.lastSeen, after.lastSeen, after.id)
    }
    if (status) {
      where.push('status = ?')
      args.push(status)
    }
    return this.sql
      .exec<RawIssue>(
        `SELECT ${ISSUE_COLUMNS} FROM issues ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY last_seen DESC, id DESC LIMIT ?`,
        ...args,
        limit,
      )
      .toArray()
      .map(toIssue)
  }

  addEvent(issueId: number, eventId: string, now: number, body: string, keep: number): void {
    this.sql.exec(
      'INSERT INTO events (issue_id, event_id, received_at, body) VALUES (?, ?, ?, ?)',
      issueId,
      eventId,
      now,
      body,
    )
    this.sql.exec(
      `DELETE FROM events WHERE issue_id = ? AND id <= (SELECT id FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      issueId,
      issueId,
      keep,
    )
  }
  latestEvent(issueId: number): string | undefined {
    return this.sql
      .exec<{ body: string }>('SELECT body FROM events WHERE issue_id = ? ORDER BY id DESC LIMIT 1', issueId)
      .toArray()[0]?.body
  }

  // ---- release files

  putFile(release: string, name: string, bytes: Uint8Array, now: number): void {
    this.sql.exec('DELETE FROM files WHERE release = ? AND name = ?', release, name)
    for (let at = 0, chunk = 0; at < bytes.length || chunk === 0; at += CHUNK, chunk++)
      this.sql.exec(
        'INSERT INTO files (release, name, chunk, data, size, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)',
        release,
        name,
        chunk,
        bytes.subarray(at, at + CHUNK),
        bytes.length,
        now,
      )
  }
  file(release: string, name: string): Uint8Array | undefined {
    const rows = this.sql
      .exec<{ data: ArrayBuffer }>(
        'SELECT data FROM files WHERE release = ? AND name = ? ORDER BY chunk',
        release,
        name,
      )
      .toArray()
    if (rows.length === 0) return undefined
    const parts = rows.map((r) => new Uint8Array(r.data))
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
  files(release: string): Array<{ name: string; size: number; uploadedAt: number }> {
    return this.sql
      .exec<{ name: string; size: number; uploadedAt: number }>(
        'SELECT name, size, uploaded_at AS uploadedAt FROM files WHERE release = ? AND chunk = 0 ORDER BY name',
        release,
      )
      .toArray()
  }
  deleteFile(release: string, name: string): boolean {
    return this.sql.exec('DELETE FROM files WHERE release = ? AND name = ?', release, name).rowsWritten > 0
  }

  // ---- alerts waiting for the rules object

  queueAlert(body: string): void {
    this.sql.exec('INSERT INTO pending_alerts (body) VALUES (?)', body)
  }
  pendingAlerts(): Array<{ id: number; body: string }> {
    return this.sql
      .exec<{ id: number; body: string }>('SELECT id, body FROM pending_alerts ORDER BY id LIMIT 50')
      .toArray()
  }
  alertSent(id: number): void {
    this.sql.exec('DELETE FROM pending_alerts WHERE id = ?', id)
  }
}

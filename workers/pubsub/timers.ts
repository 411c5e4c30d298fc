/**
 * The due times of one topic object — `retention` (the next trim) and one per
 * subscription (its next push attempt or dead-letter move) — in its SQLite, and the one
 * alarm armed for the earliest of them. Each subscription has its own due time, so a late
 * one never hides an early one and a failing subscription is never in another's way.
 *
 * Guarantees: `schedule…` only moves a due time earlier; `set…` replaces it (null removes
 * it); after `arm()` the alarm is set for the earliest due time, or deleted when none.
 * Cost: one indexed statement per call; `arm()` writes the alarm only when it changes.
 */
const RETENTION = 'retention'
const SUBSCRIPTION = 'subscription:'

export type DueWork = { kind: 'retention' } | { kind: 'subscription'; name: string }

export class Timers {
  /** The alarm time last set; undefined when unknown (after a restart or a fired alarm). */
  private armedFor: number | null | undefined

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  createTables(): void {
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL) WITHOUT ROWID',
    )
    this.sql.exec('CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_at)')
  }

  scheduleRetention(dueAt: number): void {
    this.schedule(RETENTION, dueAt)
  }

  setRetention(dueAt: number | null): void {
    this.set(RETENTION, dueAt)
  }

  scheduleSubscription(name: string, dueAt: number): void {
    this.schedule(SUBSCRIPTION + name, dueAt)
  }

  setSubscription(name: string, dueAt: number | null): void {
    this.set(SUBSCRIPTION + name, dueAt)
  }

  due(now: number): DueWork[] {
    return this.sql
      .exec<{ name: string }>('SELECT name FROM timers WHERE due_at <= ? ORDER BY due_at', now)
      .toArray()
      .map(({ name }) =>
        name === RETENTION
          ? { kind: 'retention' }
          : { kind: 'subscription', name: name.slice(SUBSCRIPTION.length) },
      )
  }

  /** Arms the alarm for the earliest due time (or deletes it). */
  async arm(): Promise<void> {
    const next = this.sql.exec<{ at: number | null }>('SELECT min(due_at) AS at FROM timers').one().at
    if (next === this.armedFor) return
    this.armedFor = next
    if (next === null) await this.storage.deleteAlarm()
    else await this.storage.setAlarm(next)
  }

  /** The alarm fired (the runtime cleared it) or storage was wiped: re-arm on the next `arm()`. */
  forgetArmed(): void {
    this.armedFor = undefined
  }

  /** Due at `dueAt` unless already due earlier. */
  private schedule(name: string, dueAt: number): void {
    this.sql.exec(
      `INSERT INTO timers (name, due_at) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET due_at = min(due_at, excluded.due_at)`,
      name,
      dueAt,
    )
  }

  private set(name: string, dueAt: number | null): void {
    if (dueAt === null) this.sql.exec('DELETE FROM timers WHERE name = ?', name)
    else
      this.sql.exec(
        'INSERT INTO timers (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due_at = excluded.due_at',
        name,
        dueAt,
      )
  }
}

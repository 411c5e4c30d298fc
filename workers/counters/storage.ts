/**
 * Storage pieces both counter objects share, each owning its tables in the object's SQLite:
 * - `Meta`: small named values (schema version, last push or broadcast time…).
 * - `Timers`: named due times and the one alarm, armed for the earliest of them.
 * - `Identity`: the counter (tenant, name, incarnation) the object serves, and the
 *   incarnation check every request passes (see `admitIncarnation` in counter.ts).
 * Methods are synchronous: call them inside the caller's `transactionSync`.
 */
import { AppError } from '../platform/errors'
import { admitIncarnation } from './counter'

export class Meta {
  constructor(private readonly sql: SqlStorage) {}

  createTable(): void {
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID')
  }

  get(key: string): string | undefined {
    return this.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value
  }

  getNumber(key: string): number | undefined {
    const value = this.get(key)
    return value === undefined ? undefined : Number(value)
  }

  set(key: string, value: string | number): void {
    this.sql.exec(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      key,
      String(value),
    )
  }

  delete(key: string): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key)
  }
}

/** Named due times; the object's single alarm is armed for the earliest one. */
export class Timers {
  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: Meta,
  ) {}

  createTable(): void {
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL) WITHOUT ROWID',
    )
  }

  /**
   * Keeps the earlier of the existing and the new due time of `name`. Returns the time the
   * alarm must be set to when it has to move earlier (the caller sets it), else undefined.
   */
  schedule(name: string, dueAt: number): number | undefined {
    this.sql.exec(
      `INSERT INTO timers (name, due_at) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)`,
      name,
      dueAt,
    )
    const armedAt = this.meta.getNumber('alarm_at')
    if (armedAt !== undefined && armedAt <= dueAt) return undefined
    this.meta.set('alarm_at', dueAt)
    return dueAt
  }

  has(name: string): boolean {
    return this.sql.exec('SELECT 1 FROM timers WHERE name = ?', name).toArray().length > 0
  }

  /** At the start of `alarm()`: the alarm is no longer armed; removes and returns the due timers. */
  takeDue(now: number): Set<string> {
    this.meta.delete('alarm_at')
    const due = this.sql
      .exec<{ name: string }>('SELECT name FROM timers WHERE due_at <= ?', now)
      .toArray()
      .map((row) => row.name)
    this.sql.exec('DELETE FROM timers WHERE due_at <= ?', now)
    return new Set(due)
  }

  /** At the end of `alarm()`: the time to arm the alarm for, if any timer remains. */
  rearm(): number | undefined {
    const next = this.sql.exec<{ due: number | null }>('SELECT MIN(due_at) AS due FROM timers').one().due
    if (next === null) return undefined
    this.meta.set('alarm_at', next)
    return next
  }

  clear(): void {
    this.sql.exec('DELETE FROM timers')
  }
}

export interface CounterIdentity {
  tenant: string
  name: string
  /** Grows each time a counter of this name is created again after a delete. */
  incarnation: number
}

/** The problem `reason` of a request that reached an object with a deleted or replaced counter. */
export const STALE_COUNTER = 'stale_counter'

export class Identity {
  constructor(private readonly sql: SqlStorage) {}

  createTable(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS identity (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      tenant TEXT NOT NULL,
      name TEXT NOT NULL,
      incarnation INTEGER NOT NULL,
      retired INTEGER NOT NULL
    )`)
  }

  read(): (CounterIdentity & { retired: boolean }) | undefined {
    const row = this.sql
      .exec<{ tenant: string; name: string; incarnation: number; retired: number }>(
        'SELECT tenant, name, incarnation, retired FROM identity WHERE id = 1',
      )
      .toArray()[0]
    return (
      row && { tenant: row.tenant, name: row.name, incarnation: row.incarnation, retired: row.retired === 1 }
    )
  }

  /**
   * Lets a request for `given` in, or throws a 404 problem (reason `stale_counter`) when the
   * counter it names was deleted or replaced. `forget` runs when the object adopts a newer
   * incarnation: it must drop the data of the older one.
   */
  admit(given: CounterIdentity, forget: () => void): void {
    const decision = admitIncarnation(this.read(), given.incarnation)
    if (decision === 'current') return
    if (decision === 'adopt') {
      forget()
      this.write(given, false)
      return
    }
    throw staleCounter(given, decision)
  }

  /**
   * For reads, which must not write: true when the object serves `given`, false when it holds
   * no data of `given` yet (it would adopt it: the state of `given` here is empty); throws
   * like `admit` for a deleted or replaced counter.
   */
  admitRead(given: CounterIdentity): boolean {
    const decision = admitIncarnation(this.read(), given.incarnation)
    if (decision === 'current') return true
    if (decision === 'adopt') return false
    throw staleCounter(given, decision)
  }

  /** Marks `given` deleted; `forget` drops its data. A newer incarnation is left alone. */
  retire(given: CounterIdentity, forget: () => void): void {
    const decision = admitIncarnation(this.read(), given.incarnation)
    if (decision === 'stale') return
    forget()
    this.write(given, true)
  }

  private write(identity: CounterIdentity, retired: boolean): void {
    this.sql.exec(
      `INSERT INTO identity (id, tenant, name, incarnation, retired) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, name = excluded.name,
         incarnation = excluded.incarnation, retired = excluded.retired`,
      identity.tenant,
      identity.name,
      identity.incarnation,
      retired ? 1 : 0,
    )
  }
}

function staleCounter(given: CounterIdentity, decision: 'retired' | 'stale'): AppError {
  return new AppError(
    'not_found',
    decision === 'retired'
      ? `The counter "${given.name}" was deleted.`
      : `The counter "${given.name}" was deleted or replaced.`,
    { extensions: { reason: STALE_COUNTER } },
  )
}

/** The earlier of two optional alarm times. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}

/**
 * The subscriptions of one topic: name, settings and `cursor` (the last log seq a pull or
 * push subscription has taken into its delivery state), in the topic object's SQLite.
 * Guarantees: names are unique per topic; ids are never reused (AUTOINCREMENT), so state
 * left by a deleted subscription can never be mistaken for a new one's.
 * Cost: one primary-key statement per call; the records are read once when the object starts.
 */
import type { AttributeFilter, DeliveryFormat } from '../../schemas/pubsub-subscriptions'

export type SubscriptionType = 'pull' | 'push' | 'streaming'

export interface PushConfig {
  endpoint: string
  secret: string
  timeoutSeconds: number
  retry: { baseDelaySeconds: number; maxDelaySeconds: number }
}

export interface SubscriptionConfig {
  type: SubscriptionType
  format: DeliveryFormat
  filter: AttributeFilter | null
  ackDeadlineSeconds: number
  deadLetter: { topic: string; maxDeliveries: number } | null
  push: PushConfig | null
}

export interface SubscriptionRecord {
  id: number
  name: string
  config: SubscriptionConfig
  createdAt: number
}

export class SubscriptionTable {
  /** Every subscription by name, loaded once and kept in step with the table. */
  private byName = new Map<string, SubscriptionRecord>()

  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS subscriptions (
      id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
      cursor INTEGER NOT NULL, created_at INTEGER NOT NULL)`)
    const rows = this.sql
      .exec<{ id: number; name: string; config: string; created_at: number }>(
        'SELECT id, name, config, created_at FROM subscriptions',
      )
      .toArray()
    this.byName = new Map(
      rows.map((row) => [
        row.name,
        {
          id: row.id,
          name: row.name,
          config: JSON.parse(row.config) as SubscriptionConfig,
          createdAt: row.created_at,
        },
      ]),
    )
  }

  get(name: string): SubscriptionRecord | undefined {
    return this.byName.get(name)
  }

  records(): SubscriptionRecord[] {
    return [...this.byName.values()]
  }

  get size(): number {
    return this.byName.size
  }

  /** False once the subscription was deleted (or deleted and created again). */
  isCurrent(subscription: SubscriptionRecord): boolean {
    return this.byName.get(subscription.name) === subscription
  }

  create(name: string, config: SubscriptionConfig, cursor: number, now: number): SubscriptionRecord {
    const row = this.sql
      .exec<{ id: number }>(
        'INSERT INTO subscriptions (name, config, cursor, created_at) VALUES (?, ?, ?, ?) RETURNING id',
        name,
        JSON.stringify(config),
        cursor,
        now,
      )
      .one()
    const record = { id: row.id, name, config, createdAt: now }
    this.byName.set(name, record)
    return record
  }

  remove(subscription: SubscriptionRecord): void {
    this.sql.exec('DELETE FROM subscriptions WHERE id = ?', subscription.id)
    this.byName.delete(subscription.name)
  }

  /** Storage was wiped: nothing is current any more. */
  forget(): void {
    this.byName.clear()
  }

  cursor(subscription: SubscriptionRecord): number {
    return this.sql
      .exec<{ cursor: number }>('SELECT cursor FROM subscriptions WHERE id = ?', subscription.id)
      .one().cursor
  }

  setCursor(subscription: SubscriptionRecord, cursor: number): void {
    this.sql.exec('UPDATE subscriptions SET cursor = ? WHERE id = ?', cursor, subscription.id)
  }
}

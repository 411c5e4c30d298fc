/**
 * A tenant's series ledger, kept by its shard 0: how many series each shard holds, so the
 * tenant's series limit holds over all shards together rather than as an even share of each.
 * A shard asks for room before it creates new series, reporting what it holds; the ledger
 * grants what is left under the limit and records it as held.
 *
 * Guarantees: the grants never take the recorded total past the limit, so a tenant never
 * holds more series than its limit while its shards ask one request at a time each (they
 * do: a shard serialises its requests for room); a shard's report replaces its recorded
 * count, so room granted and not used (a write that failed) returns at its next report.
 * Cost: one row per shard, one transaction per request.
 */

const SCHEMA = `CREATE TABLE IF NOT EXISTS series_ledger (shard INTEGER PRIMARY KEY, series INTEGER NOT NULL)`

export class SeriesLedger {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(SCHEMA)
  }

  /** Records that `shard` holds `held` series and grants it up to `wanted` more under `limit`. */
  reserve(shard: number, held: number, wanted: number, limit: number): number {
    this.record(shard, held)
    const granted = Math.max(0, Math.min(wanted, limit - this.total()))
    if (granted > 0) this.record(shard, held + granted)
    return granted
  }

  /** Records what `shard` holds after a write (returns unused room). */
  record(shard: number, held: number): void {
    this.sql.exec(
      'INSERT INTO series_ledger (shard, series) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET series = excluded.series',
      shard,
      held,
    )
  }

  total(): number {
    return this.sql.exec<{ n: number | null }>('SELECT sum(series) AS n FROM series_ledger').one().n ?? 0
  }
}

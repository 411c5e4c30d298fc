/**
 * Rollup and retention tables of a metrics shard, beside `MetricStore`'s in the same SQLite.
 *
 * `rollups` holds complete buckets (see rollups.ts); `rollup_marks` says, per series and
 * resolution, up to which bucket end everything is stored. A bucket is complete once its end
 * is older than the series' newest sample minus the out-of-order window, because no sample
 * older than that can be stored any more. Retention deletes raw samples (sealed chunks and
 * head rows) and each resolution's buckets older than the tenant's settings.
 *
 * Cost: rolling a series reads its raw samples since its mark once per resolution; a bucket
 * is one row.
 */
import { type Bucket, bucketize, RESOLUTIONS } from './rollups'

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS rollups (series_id INTEGER NOT NULL, res INTEGER NOT NULL, end_t INTEGER NOT NULL,
     min REAL, max REAL, sum REAL, count INTEGER NOT NULL, last REAL, last_t INTEGER NOT NULL,
     PRIMARY KEY (series_id, res, end_t)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS rollup_marks (series_id INTEGER NOT NULL, res INTEGER NOT NULL, until INTEGER NOT NULL,
     PRIMARY KEY (series_id, res)) WITHOUT ROWID`,
  'CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
]

export interface Retention {
  rawMs: number
  minuteMs: number
  hourMs: number
}

export const DEFAULT_RETENTION: Retention = {
  rawMs: 15 * 86_400_000,
  minuteMs: 90 * 86_400_000,
  hourMs: 730 * 86_400_000,
}

type Samples = (seriesId: number, from: number, to: number) => { times: number[]; values: number[] }

// SQLite stores NaN as NULL; keep it a NaN on the way back.
const num = (v: number | null) => (v === null ? Number.NaN : v)

export class RollupStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement)
  }

  /** Ids of the series with a bucket overlapping [from, to] (buckets outlive raw samples). */
  seriesWithBuckets(from: number, to: number): Set<number> {
    const rows = this.sql.exec<{ id: number }>(
      'SELECT DISTINCT series_id AS id FROM rollups WHERE end_t >= ? AND end_t - res <= ?',
      from,
      to,
    )
    return new Set(rows.toArray().map((r) => r.id))
  }

  retention(): Retention {
    const row = this.sql
      .exec<{ value: string }>("SELECT value FROM settings WHERE key = 'retention'")
      .toArray()[0]
    return row ? (JSON.parse(row.value) as Retention) : DEFAULT_RETENTION
  }
  setRetention(r: Retention): void {
    this.sql.exec("INSERT OR REPLACE INTO settings (key, value) VALUES ('retention', ?)", JSON.stringify(r))
  }

  mark(seriesId: number, res: number): number | undefined {
    return this.sql
      .exec<{ until: number }>(
        'SELECT until FROM rollup_marks WHERE series_id = ? AND res = ?',
        seriesId,
        res,
      )
      .toArray()[0]?.until
  }

  /**
   * Stores every complete bucket of one series ending before `final` not stored yet (the
   * caller passes the newest sample minus the out-of-order window, or the raw retention
   * boundary when that is later); returns the buckets written.
   */
  roll(seriesId: number, final: number, samples: Samples): number {
    let written = 0
    for (const res of RESOLUTIONS) {
      const until = Math.floor((final - 1) / res) * res
      const mark = this.mark(seriesId, res)
      if (mark !== undefined && until <= mark) continue
      const { times, values } = samples(
        seriesId,
        mark === undefined ? Number.MIN_SAFE_INTEGER : mark + 1,
        until,
      )
      for (const b of bucketize(times, values, res)) {
        this.sql.exec(
          `INSERT OR REPLACE INTO rollups (series_id, res, end_t, min, max, sum, count, last, last_t)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          seriesId,
          res,
          b.end,
          b.min,
          b.max,
          b.sum,
          b.count,
          b.last,
          b.lastT,
        )
        written++
      }
      this.sql.exec(
        'INSERT OR REPLACE INTO rollup_marks (series_id, res, until) VALUES (?, ?, ?)',
        seriesId,
        res,
        until,
      )
    }
    return written
  }

  /**
   * Buckets of one series ending in (from, to]: stored ones up to the mark, the rest computed
   * from raw samples (so a range reaching into recent time is complete).
   */
  buckets(seriesId: number, res: number, from: number, to: number, samples: Samples): Bucket[] {
    const mark = this.mark(seriesId, res) ?? Number.MIN_SAFE_INTEGER
    const stored = this.sql
      .exec<{
        end_t: number
        min: number | null
        max: number | null
        sum: number | null
        count: number
        last: number | null
        last_t: number
      }>(
        'SELECT end_t, min, max, sum, count, last, last_t FROM rollups WHERE series_id = ? AND res = ? AND end_t > ? AND end_t <= ? ORDER BY end_t',
        seriesId,
        res,
        from,
        Math.min(to, mark),
      )
      .toArray()
      .map((r) => ({
        end: r.end_t,
        min: num(r.min),
        max: num(r.max),
        sum: num(r.sum),
        count: r.count,
        last: num(r.last),
        lastT: r.last_t,
      }))
    if (to <= mark) return stored
    const tail = samples(seriesId, Math.max(from, mark) + 1, to)
    return [...stored, ...bucketize(tail.times, tail.values, res)]
  }

  /** Deletes what is older than the retention of its resolution; returns rows deleted. */
  expire(now: number): number {
    const r = this.retention()
    let n = 0
    n += this.sql.exec('DELETE FROM chunks WHERE max_t < ?', now - r.rawMs).rowsWritten
    n += this.sql.exec('DELETE FROM head WHERE t < ?', now - r.rawMs).rowsWritten
    n += this.sql.exec('DELETE FROM stale WHERE t < ?', now - r.rawMs).rowsWritten
    n += this.sql.exec(
      'DELETE FROM rollups WHERE res = ? AND end_t < ?',
      60_000,
      now - r.minuteMs,
    ).rowsWritten
    n += this.sql.exec(
      'DELETE FROM rollups WHERE res = ? AND end_t < ?',
      3_600_000,
      now - r.hourMs,
    ).rowsWritten
    return n
  }

  stats(): { minuteBuckets: number; hourBuckets: number } {
    const rows = this.sql
      .exec<{ res: number; n: number }>('SELECT res, count(*) AS n FROM rollups GROUP BY res')
      .toArray()
    return {
      minuteBuckets: rows.find((r) => r.res === 60_000)?.n ?? 0,
      hourBuckets: rows.find((r) => r.res === 3_600_000)?.n ?? 0,
    }
  }
}

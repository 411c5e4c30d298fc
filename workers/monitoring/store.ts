/**
 * The tables of one metrics shard (one tenant, one slice of its series by series hash) in
 * its Durable Object's SQLite. The object calls each write inside one `transactionSync`.
 *
 * Tables: `series` (canonical key, labels, newest timestamp), `head` (recent samples, one row
 * each, value as its 8 IEEE-754 bytes), `chunks` (sealed Gorilla chunks, see gorilla.ts) and
 * `stale` (the times a series went stale, Prometheus's staleness markers; a sample at the same
 * time wins over a marker).
 *
 * Guarantees: a sample older than the series' newest minus the out-of-order window is
 * refused (counted, not stored); a sample at an existing timestamp replaces the head value
 * (a retried batch stores nothing twice); samples leave the head only once they are older
 * than the window, so sealed chunks never overlap later samples; a new series beyond the
 * shard's series limit is refused; increments (OTLP delta sums) are stored as a running total
 * and one at or before the series' newest sample is refused, so a retried batch of
 * increments is not counted twice. Cost: one head row per sample until sealed; a sealed
 * chunk of 120 samples costs ~1.3 bytes per sample on regular scrapes.
 */
import { decodeChunk, encodeChunk } from './gorilla'
import type { Labels, Series } from './series'
import { seriesKey } from './series'

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, labels TEXT NOT NULL,
     max_t INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS head (series_id INTEGER NOT NULL, t INTEGER NOT NULL, v BLOB NOT NULL,
     PRIMARY KEY (series_id, t)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS chunks (series_id INTEGER NOT NULL, min_t INTEGER NOT NULL, max_t INTEGER NOT NULL,
     samples INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, min_t)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS stale (series_id INTEGER NOT NULL, t INTEGER NOT NULL,
     PRIMARY KEY (series_id, t)) WITHOUT ROWID`,
]

/** Samples per sealed chunk (Prometheus uses 120). */
export const CHUNK_SAMPLES = 120

export interface WriteLimits {
  /** Series this shard may hold (new ones past it are refused). */
  maxSeries: number
  outOfOrderMs: number
}

export interface WriteOutcome {
  samples: number
  outOfOrder: number
  /** Series refused by the series limit. */
  limited: number
}

export interface StoredSeries extends StoredSamples {
  labels: Labels
}

export interface StoredSamples {
  times: number[]
  values: number[]
  /** Staleness markers in the range (times without a value; see `Series.stale`). */
  stale: number[]
}

const view = new DataView(new ArrayBuffer(8))
function valueBytes(v: number): Uint8Array {
  view.setFloat64(0, v)
  return new Uint8Array(view.buffer.slice(0))
}
function bytesValue(b: ArrayBuffer): number {
  return new DataView(b).getFloat64(0)
}

export class MetricStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    for (const statement of SCHEMA) this.sql.exec(statement)
  }

  seriesCount(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM series').one().n
  }

  /** How many of the batch's series are not stored here yet (a staleness marker alone makes none). */
  newSeries(batch: Series[]): number {
    const known = (s: Series) =>
      this.sql.exec('SELECT 1 FROM series WHERE key = ?', seriesKey(s.labels)).toArray().length > 0
    return batch.filter((s) => s.times.length > 0 && !known(s)).length
  }

  write(batch: Series[], limits: WriteLimits): WriteOutcome {
    const outcome: WriteOutcome = { samples: 0, outOfOrder: 0, limited: 0 }
    let count = this.seriesCount()
    for (const s of batch) {
      const key = seriesKey(s.labels)
      let row = this.sql
        .exec<{ id: number; max_t: number }>('SELECT id, max_t FROM series WHERE key = ?', key)
        .toArray()[0]
      if (!row) {
        // A marker alone does not make a series: there is nothing that went stale.
        if (s.times.length === 0) continue
        if (count >= limits.maxSeries) {
          outcome.limited++
          continue
        }
        count++
        const id = this.sql
          .exec<{ id: number }>(
            'INSERT INTO series (key, labels, max_t) VALUES (?, ?, ?) RETURNING id',
            key,
            JSON.stringify(s.labels),
            Number.MIN_SAFE_INTEGER,
          )
          .one().id
        row = { id, max_t: Number.MIN_SAFE_INTEGER }
      }
      let maxT = row.max_t
      if (s.delta) maxT = this.accumulate(row.id, maxT, s, outcome)
      else
        s.times.forEach((t, i) => {
          if (t < maxT - limits.outOfOrderMs) {
            outcome.outOfOrder++
            return
          }
          this.sql.exec(
            'INSERT OR REPLACE INTO head (series_id, t, v) VALUES (?, ?, ?)',
            row.id,
            t,
            valueBytes(s.values[i] as number),
          )
          maxT = Math.max(maxT, t)
          outcome.samples++
        })
      // A running total (increments) has no staleness: its next increment adds to its newest value.
      for (const t of s.delta ? [] : (s.stale ?? [])) {
        if (t < maxT - limits.outOfOrderMs) {
          outcome.outOfOrder++
          continue
        }
        this.sql.exec('INSERT OR IGNORE INTO stale (series_id, t) VALUES (?, ?)', row.id, t)
        maxT = Math.max(maxT, t)
        outcome.samples++
      }
      if (maxT !== row.max_t) this.sql.exec('UPDATE series SET max_t = ? WHERE id = ?', maxT, row.id)
      this.seal(row.id, maxT - limits.outOfOrderMs)
    }
    return outcome
  }

  /**
   * Stores increments as a running total: each sample is the series' newest value plus the
   * increment. An increment at or before the newest sample is refused (counted out of order):
   * adding it would change every later total. Returns the new newest timestamp.
   */
  private accumulate(seriesId: number, maxT: number, s: Series, outcome: WriteOutcome): number {
    const last = this.sql
      .exec<{ v: ArrayBuffer }>('SELECT v FROM head WHERE series_id = ? AND t = ?', seriesId, maxT)
      .toArray()[0]
    let total = last ? bytesValue(last.v) : 0
    let newest = maxT
    const order = s.times.map((t, i) => [t, s.values[i] as number] as const).sort((a, b) => a[0] - b[0])
    for (const [t, increment] of order) {
      if (t <= newest) {
        outcome.outOfOrder++
        continue
      }
      total += increment
      this.sql.exec('INSERT INTO head (series_id, t, v) VALUES (?, ?, ?)', seriesId, t, valueBytes(total))
      newest = t
      outcome.samples++
    }
    return newest
  }

  /** Moves head samples older than `before` into chunks, CHUNK_SAMPLES at a time. */
  private seal(seriesId: number, before: number): void {
    const { n } = this.sql
      .exec<{ n: number }>('SELECT count(*) AS n FROM head WHERE series_id = ? AND t < ?', seriesId, before)
      .one()
    if (n < CHUNK_SAMPLES) return
    const rows = this.sql
      .exec<{ t: number; v: ArrayBuffer }>(
        'SELECT t, v FROM head WHERE series_id = ? AND t < ? ORDER BY t LIMIT ?',
        seriesId,
        before,
        n - (n % CHUNK_SAMPLES),
      )
      .toArray()
    for (let i = 0; i < rows.length; i += CHUNK_SAMPLES) {
      const part = rows.slice(i, i + CHUNK_SAMPLES)
      const times = part.map((r) => r.t)
      const data = encodeChunk(
        times,
        part.map((r) => bytesValue(r.v)),
      )
      const minT = times[0] as number
      const maxT = times[times.length - 1] as number
      this.sql.exec(
        'INSERT INTO chunks (series_id, min_t, max_t, samples, data) VALUES (?, ?, ?, ?, ?)',
        seriesId,
        minT,
        maxT,
        part.length,
        data,
      )
      this.sql.exec('DELETE FROM head WHERE series_id = ? AND t >= ? AND t <= ?', seriesId, minT, maxT)
    }
  }

  /** Every series' id and newest sample time. */
  seriesBounds(): Array<{ id: number; maxT: number }> {
    return this.sql
      .exec<{ id: number; max_t: number }>('SELECT id, max_t FROM series')
      .toArray()
      .map((r) => ({ id: r.id, maxT: r.max_t }))
  }

  /** Ids of the series with raw samples in [from, to] (a sealed chunk counts when it overlaps). */
  seriesWithSamples(from: number, to: number): Set<number> {
    const rows = this.sql.exec<{ id: number }>(
      `SELECT series_id AS id FROM head WHERE t BETWEEN ? AND ?
       UNION SELECT series_id AS id FROM chunks WHERE max_t >= ? AND min_t <= ?`,
      from,
      to,
      from,
      to,
    )
    return new Set(rows.toArray().map((r) => r.id))
  }

  /** Every series (labels only), for matching. */
  allSeries(): Array<{ id: number; labels: Labels }> {
    return this.sql
      .exec<{ id: number; labels: string }>('SELECT id, labels FROM series')
      .toArray()
      .map((r) => ({ id: r.id, labels: JSON.parse(r.labels) as Labels }))
  }

  /** The samples of one series in [from, to], ascending, with its staleness markers there. */
  samples(seriesId: number, from: number, to: number): StoredSamples {
    const times: number[] = []
    const values: number[] = []
    const chunks = this.sql
      .exec<{ data: ArrayBuffer }>(
        'SELECT data FROM chunks WHERE series_id = ? AND max_t >= ? AND min_t <= ? ORDER BY min_t',
        seriesId,
        from,
        to,
      )
      .toArray()
    for (const c of chunks) {
      const decoded = decodeChunk(new Uint8Array(c.data))
      decoded.times.forEach((t, i) => {
        if (t >= from && t <= to) {
          times.push(t)
          values.push(decoded.values[i] as number)
        }
      })
    }
    for (const r of this.sql.exec<{ t: number; v: ArrayBuffer }>(
      'SELECT t, v FROM head WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t',
      seriesId,
      from,
      to,
    )) {
      times.push(r.t)
      values.push(bytesValue(r.v))
    }
    const stale = this.sql
      .exec<{ t: number }>(
        'SELECT t FROM stale WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t',
        seriesId,
        from,
        to,
      )
      .toArray()
      .map((r) => r.t)
    return { times, values, stale }
  }

  /** Stored bytes and samples (head rows count 16 bytes: timestamp and value). */
  stats(): { series: number; chunkSamples: number; chunkBytes: number; headSamples: number } {
    const c = this.sql
      .exec<{ s: number | null; b: number | null }>(
        'SELECT sum(samples) AS s, sum(length(data)) AS b FROM chunks',
      )
      .one()
    const h = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM head').one()
    return { series: this.seriesCount(), chunkSamples: c.s ?? 0, chunkBytes: c.b ?? 0, headSamples: h.n }
  }
}

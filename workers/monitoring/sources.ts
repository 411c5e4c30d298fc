/**
 * The series each source wrote last (a scrape target, a pushgateway group), so the series a
 * source stops writing go stale, as Prometheus marks the series gone from a scrape: a query
 * no longer finds them from that moment instead of for the five minutes of the lookback.
 *
 * Guarantees: `replace` returns exactly the label sets the source had and no longer has, and
 * records the new ones (with `onlyNames`, only series of those metric names are replaced, the
 * others stay, as a pushgateway POST does); `remove` returns all of a source's series and
 * forgets it. Cost: one read of the source's rows and one write per series that came or went.
 */
import { type Labels, type Series, seriesKey } from './series'

const SCHEMA = `CREATE TABLE IF NOT EXISTS source_series (source TEXT NOT NULL, key TEXT NOT NULL,
  labels TEXT NOT NULL, PRIMARY KEY (source, key)) WITHOUT ROWID`

/** A scrape target's source name. */
export const scrapeSource = (job: string, url: string) => JSON.stringify(['scrape', job, url])
/** A pushgateway group's source name (its grouping labels). */
export const pushSource = (grouping: Labels) => JSON.stringify(['push', seriesKey(grouping)])

/** Staleness markers at `t` for each label set. */
export function staleMarkers(gone: Labels[], t: number): Series[] {
  return gone.map((labels) => ({ labels, times: [], values: [], stale: [t] }))
}

export class SeriesSources {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(SCHEMA)
  }

  /** Records `current` as the source's series; returns the label sets that went away. */
  replace(source: string, current: Labels[], onlyNames?: ReadonlySet<string>): Labels[] {
    const now = new Map(current.map((labels) => [seriesKey(labels), labels]))
    const gone: Labels[] = []
    for (const row of this.rows(source)) {
      if (now.delete(row.key)) continue
      const labels = JSON.parse(row.labels) as Labels
      if (onlyNames && !onlyNames.has(labels.__name__ ?? '')) continue
      this.sql.exec('DELETE FROM source_series WHERE source = ? AND key = ?', source, row.key)
      gone.push(labels)
    }
    for (const [key, labels] of now)
      this.sql.exec(
        'INSERT INTO source_series (source, key, labels) VALUES (?, ?, ?)',
        source,
        key,
        JSON.stringify(labels),
      )
    return gone
  }

  /** Forgets a source; returns the series it had. */
  remove(source: string): Labels[] {
    const gone = this.rows(source).map((row) => JSON.parse(row.labels) as Labels)
    this.sql.exec('DELETE FROM source_series WHERE source = ?', source)
    return gone
  }

  private rows(source: string) {
    return this.sql
      .exec<{ key: string; labels: string }>('SELECT key, labels FROM source_series WHERE source = ?', source)
      .toArray()
  }
}

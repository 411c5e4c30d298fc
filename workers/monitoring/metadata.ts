/**
 * Metric metadata (type, help, unit per metric family) for Prometheus's `/api/v1/metadata`,
 * which query editors use for hints: from the `# HELP`/`# TYPE`/`# UNIT` lines of scrapes and
 * pushes, from remote-write's `MetricMetadata`, and from OTLP metric descriptions. Kept per
 * tenant in its scrape object, next to the series each source wrote.
 *
 * Guarantees: each distinct (metric, type, help, unit) is one entry, newest first; at most
 * MAX_ENTRIES per tenant, the least recently seen dropped first. Cost: one upsert per entry
 * recorded; a read scans the tenant's entries.
 */

export const METRIC_TYPES = [
  'unknown',
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
] as const
export type MetricType = (typeof METRIC_TYPES)[number]

export interface MetricMetadata {
  metric: string
  type: MetricType
  help: string
  unit: string
}

/** Entries kept per tenant. */
export const MAX_ENTRIES = 10_000
const MAX_HELP = 1024

const SCHEMA = `CREATE TABLE IF NOT EXISTS metadata (metric TEXT NOT NULL, type TEXT NOT NULL, help TEXT NOT NULL,
  unit TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (metric, type, help, unit))`

const isType = (text: string | undefined): text is MetricType => METRIC_TYPES.includes(text as MetricType)

/** The metadata of a text-format body: its `# HELP`, `# TYPE` and `# UNIT` lines per family. */
export function expositionMetadata(body: string): MetricMetadata[] {
  const families = new Map<string, MetricMetadata>()
  for (const raw of body.split('\n')) {
    const match = /^#\s+(HELP|TYPE|UNIT)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s(.*))?$/.exec(raw.trim())
    if (!match) continue
    const [, kind, metric = '', rest = ''] = match
    const entry = families.get(metric) ?? { metric, type: 'unknown', help: '', unit: '' }
    if (kind === 'HELP') entry.help = rest.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
    else if (kind === 'TYPE') entry.type = isType(rest.trim()) ? (rest.trim() as MetricType) : 'unknown'
    else entry.unit = rest.trim()
    families.set(metric, entry)
  }
  return [...families.values()]
}

export class MetadataStore {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(SCHEMA)
  }

  record(entries: MetricMetadata[], now: number): void {
    for (const e of entries) {
      this.sql.exec(
        `INSERT INTO metadata (metric, type, help, unit, seen_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (metric, type, help, unit) DO UPDATE SET seen_at = excluded.seen_at`,
        e.metric,
        e.type,
        e.help.slice(0, MAX_HELP),
        e.unit,
        now,
      )
    }
    const { n } = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM metadata').one()
    if (n > MAX_ENTRIES)
      this.sql.exec(
        'DELETE FROM metadata WHERE rowid IN (SELECT rowid FROM metadata ORDER BY seen_at LIMIT ?)',
        n - MAX_ENTRIES,
      )
  }

  /**
   * Metric → its entries, newest first (Prometheus's `/api/v1/metadata`): only `metric` when
   * given, at most `limit` metrics and `limitPerMetric` entries each (negative: no limit).
   */
  query(metric: string | undefined, limit: number, limitPerMetric: number) {
    const rows = this.sql
      .exec<{ metric: string; type: MetricType; help: string; unit: string }>(
        `SELECT metric, type, help, unit FROM metadata ${metric === undefined ? '' : 'WHERE metric = ?'}
         ORDER BY metric, seen_at DESC`,
        ...(metric === undefined ? [] : [metric]),
      )
      .toArray()
    const out: Record<string, Array<{ type: MetricType; help: string; unit: string }>> = {}
    let metrics = 0
    for (const { metric: name, ...entry } of rows) {
      const list = out[name]
      if (!list) {
        if (limit >= 0 && metrics >= limit) break
        metrics++
        out[name] = [entry]
      } else if (limitPerMetric < 0 || list.length < limitPerMetric) list.push(entry)
    }
    return out
  }
}

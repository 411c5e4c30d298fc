/**
 * Series identity and sample validation shared by every ingest wire: a series is its sorted
 * label set (`__name__` included); its key is the canonical `name{a="1",b="2"}` text, and its
 * shard is a hash of that key. Cost: O(labels log labels) per series.
 */
import { shardFor } from '../platform/hashing'

export type Labels = Record<string, string>

export interface Series {
  labels: Labels
  times: number[]
  values: number[]
  /** The values are increments (OTLP delta temporality): the shard adds each to the series' newest. */
  delta?: boolean
  /**
   * Times at which the series went stale (Prometheus's staleness markers: it has no value from
   * there until its next sample). Kept apart from `values`: a JavaScript NaN cannot carry the
   * marker's payload, and a plain NaN is a value like any other.
   */
  stale?: number[]
}

/** The bits of Prometheus's staleness marker, a NaN with its own payload (`value.StaleNaN`). */
export const STALE_MARKER_BITS = 0x7ff0000000000002n

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

export class SampleError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message)
    this.name = 'SampleError'
  }
}

/** The canonical text of a label set: `name{k="v",…}` with labels sorted by name. */
export function seriesKey(labels: Labels): string {
  const names = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
  const body = names.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')
  return `${labels.__name__ ?? ''}{${body}}`
}

export function shardOfSeries(labels: Labels, shards: number): number {
  return shardFor(seriesKey(labels), shards)
}

/** Checks names and values of one series; throws `SampleError` (a 400 on every wire). */
export function validateSeries(series: Series, maxLabels: number, maxValueLength: number): void {
  const names = Object.keys(series.labels)
  const name = series.labels.__name__
  if (name === undefined || !METRIC_NAME.test(name)) {
    throw new SampleError(`invalid metric name ${JSON.stringify(name ?? '')}`)
  }
  if (names.length > maxLabels) throw new SampleError(`series ${name} has more than ${maxLabels} labels`)
  for (const label of names) {
    if (label !== '__name__' && !LABEL_NAME.test(label)) {
      throw new SampleError(`invalid label name ${JSON.stringify(label)}`)
    }
    const value = series.labels[label] as string
    if (value.length > maxValueLength)
      throw new SampleError(`label ${label} is longer than ${maxValueLength}`)
  }
  for (const t of [...series.times, ...(series.stale ?? [])]) {
    if (!Number.isSafeInteger(t)) throw new SampleError(`invalid timestamp ${t} in series ${name}`)
  }
}

/** A label with an empty value is no label, as in Prometheus (`{a=""}` matches series without `a`). */
function withoutEmpty(labels: Labels): Labels {
  if (!Object.values(labels).includes('')) return labels
  return Object.fromEntries(Object.entries(labels).filter(([, value]) => value !== ''))
}

/** Merges series with the same label set (a batch may repeat one), dropping empty labels. */
export function mergeSeries(list: Series[]): Series[] {
  const byKey = new Map<string, Series>()
  for (const raw of list) {
    const s = { ...raw, labels: withoutEmpty(raw.labels) }
    const key = seriesKey(s.labels)
    const seen = byKey.get(key)
    if (!seen)
      byKey.set(key, {
        labels: s.labels,
        times: [...s.times],
        values: [...s.values],
        ...(s.delta ? { delta: true } : {}),
        ...(s.stale?.length ? { stale: [...s.stale] } : {}),
      })
    else {
      seen.times.push(...s.times)
      seen.values.push(...s.values)
      if (s.stale?.length) seen.stale = [...(seen.stale ?? []), ...s.stale]
    }
  }
  return [...byKey.values()]
}

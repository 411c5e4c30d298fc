/**
 * Listing a bucket's keys in UTF-8 binary order (SQLite's BINARY collation, as S3 sorts),
 * for ListObjectsV2, ListObjects (v1) and ListObjectVersions.
 *
 * Guarantees: keys under `prefix` only; with a delimiter, keys sharing the part up to the
 * first delimiter after the prefix are rolled into one common prefix, counted once against
 * `maxKeys`; a page ends after exactly `maxKeys` entries with `truncated` set when more
 * exist; resuming from the returned position neither repeats nor skips an entry (a common
 * prefix resumes past every key under it). Versions list newest first within a key.
 * Costs: indexed range scans in batches; one extra seek per common prefix.
 */
import { type ObjectVersion, type Sql, toVersion } from './tables'

/** Exclusive resume position: past `key` (and, for versions, past the version `seq` of it). */
export interface Position {
  key: string
  seq?: number
}

/** Greater than any key that starts with the text before it (U+10FFFF sorts last in UTF-8). */
export const PAST_PREFIX = '\u{10FFFF}'

export interface ListRequest {
  prefix: string
  delimiter?: string | undefined
  after?: Position | undefined
  maxKeys: number
  versions: boolean
}

export interface ListPage {
  entries: ObjectVersion[]
  commonPrefixes: string[]
  truncated: boolean
  /** Where the next page starts (the last entry or common prefix returned). */
  next?: Position
  /** The last entry or common prefix returned, as a key. */
  lastReturned?: string
}

const BATCH = 256

function batch(sql: Sql, request: ListRequest, position: Position | undefined): ObjectVersion[] {
  const floor = request.prefix
  if (request.versions) {
    const key = position?.key ?? ''
    const seq = position?.seq
    const rows =
      position === undefined
        ? sql.exec('SELECT * FROM objects WHERE key >= ? ORDER BY key, seq DESC LIMIT ?', floor, BATCH)
        : seq === undefined
          ? sql.exec(
              'SELECT * FROM objects WHERE key > ? AND key >= ? ORDER BY key, seq DESC LIMIT ?',
              key,
              floor,
              BATCH,
            )
          : sql.exec(
              'SELECT * FROM objects WHERE ((key = ? AND seq < ?) OR key > ?) AND key >= ? ORDER BY key, seq DESC LIMIT ?',
              key,
              seq,
              key,
              floor,
              BATCH,
            )
    return rows.toArray().map((row) => toVersion(row as never))
  }
  const rows = sql.exec(
    'SELECT * FROM objects WHERE latest = 1 AND delete_marker = 0 AND key > ? AND key >= ? ORDER BY key LIMIT ?',
    position?.key ?? '',
    floor,
    BATCH,
  )
  return rows.toArray().map((row) => toVersion(row as never))
}

export function commonPrefixOf(
  key: string,
  prefix: string,
  delimiter: string | undefined,
): string | undefined {
  if (!delimiter) return undefined
  const at = key.indexOf(delimiter, prefix.length)
  return at < 0 ? undefined : key.slice(0, at + delimiter.length)
}

export function listKeys(sql: Sql, request: ListRequest): ListPage {
  const page: ListPage = { entries: [], commonPrefixes: [], truncated: false }
  let position = request.after
  scan: for (;;) {
    const rows = batch(sql, request, position)
    for (const row of rows) {
      if (!row.key.startsWith(request.prefix)) break scan
      const common = commonPrefixOf(row.key, request.prefix, request.delimiter)
      if (page.entries.length + page.commonPrefixes.length >= request.maxKeys) {
        page.truncated = true
        break scan
      }
      if (common !== undefined) {
        page.commonPrefixes.push(common)
        position = { key: common + PAST_PREFIX }
        page.next = position
        page.lastReturned = common
        continue scan
      }
      page.entries.push(row)
      position = request.versions ? { key: row.key, seq: row.seq } : { key: row.key }
      page.next = position
      page.lastReturned = row.key
    }
    if (rows.length < BATCH) break
  }
  if (!page.truncated) delete page.next
  return page
}

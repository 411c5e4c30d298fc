/**
 * A search shard's storage in its Durable Object's SQLite: the documents, and a
 * purpose-built inverted index — postings (term, document, field → term frequency and
 * word positions), document frequencies per term, and total token counts per field (for
 * BM25 length normalization).
 *
 * Why not FTS5: its `bm25()` uses one table's own statistics, so scores from different
 * shards would not be comparable, and its vocabulary and positions are awkward to reach for
 * typo expansion and proximity. Here every statistic is a plain row the coordinator can sum.
 *
 * Costs: a document write is one row per (term, field); the document frequencies and field
 * totals of a batch are summed in memory and written once at its end (`putAll`), before
 * any removal reads them; a delete re-tokenizes the stored body to find its postings. All
 * statements are parameterized; the caller wraps each batch in one `transactionSync` and
 * calls `forget()` if it fails.
 *
 * Read caches (memory only, SQLite stays the truth): the decoded postings of recently used
 * terms (least recently used dropped past `MAX_CACHED_POSTINGS`), and every document's id
 * and field lengths. A write updates or drops exactly the entries it touches, so a search
 * right after a write sees it, and a hot term is read from SQLite once, not per query.
 */

import type { Document } from '../logic/fields'
import type { Posting } from '../logic/rank'
import { analyze, chunks, MAX_PARAMETERS } from './analyze'

export interface StoredDocument {
  rid: number
  id: string
  body: Document
}

/** Postings kept decoded in memory, over all cached terms. */
export const MAX_CACHED_POSTINGS = 400_000

export class ShardStore {
  private readonly termCache = new Map<string, Posting[]>()
  private cachedPostings = 0
  private meta: Map<number, { id: string; lens: Record<string, number> }> | undefined
  /** Document-frequency and field-total changes of the batch being stored (see `flush`). */
  private readonly pendingTerms = new Map<string, number>()
  private readonly pendingFields = new Map<string, number>()

  constructor(private readonly sql: SqlStorage) {}

  /** Drops every cached read (after a failed transaction, or when the storage was wiped). */
  forget(): void {
    this.pendingTerms.clear()
    this.pendingFields.clear()
    this.termCache.clear()
    this.cachedPostings = 0
    this.meta = undefined
  }

  private dropTerm(term: string): void {
    const cached = this.termCache.get(term)
    if (!cached) return
    this.cachedPostings -= cached.length
    this.termCache.delete(term)
  }

  private cacheTerm(term: string, postings: Posting[]): void {
    this.termCache.set(term, postings)
    this.cachedPostings += postings.length
    for (const [oldest, list] of this.termCache) {
      if (this.cachedPostings <= MAX_CACHED_POSTINGS || oldest === term) break
      this.cachedPostings -= list.length
      this.termCache.delete(oldest)
    }
  }

  migrate(): void {
    this.forget()
    this.sql.exec(`CREATE TABLE IF NOT EXISTS docs (
      rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, lens TEXT NOT NULL)`)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS postings (
      term TEXT NOT NULL, rid INTEGER NOT NULL, field TEXT NOT NULL, tf INTEGER NOT NULL, pos TEXT NOT NULL,
      PRIMARY KEY (term, rid, field)) WITHOUT ROWID`)
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID',
    )
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS fields (field TEXT PRIMARY KEY, total INTEGER NOT NULL) WITHOUT ROWID',
    )
  }

  find(id: string): StoredDocument | undefined {
    const row = this.sql
      .exec<{ rid: number; body: string }>('SELECT rid, body FROM docs WHERE id = ?', id)
      .toArray()[0]
    return row ? { rid: row.rid, id, body: JSON.parse(row.body) as Document } : undefined
  }

  count(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM docs').one().n
  }

  /** Stores documents in order (each replacing one with the same id) and indexes them. */
  putAll(documents: Iterable<{ id: string; body: Document }>): void {
    for (const { id, body } of documents) this.put(id, body)
    this.flush()
  }

  /** Writes the batch's summed document frequencies and field totals. */
  private flush(): void {
    for (const chunk of chunks([...this.pendingTerms], Math.floor(MAX_PARAMETERS / 2))) {
      this.sql.exec(
        `INSERT INTO terms (term, df) VALUES ${chunk.map(() => '(?, ?)').join(', ')} ON CONFLICT (term) DO UPDATE SET df = df + excluded.df`,
        ...chunk.flat(),
      )
    }
    for (const [field, length] of this.pendingFields) {
      this.sql.exec(
        'INSERT INTO fields (field, total) VALUES (?, ?) ON CONFLICT (field) DO UPDATE SET total = total + excluded.total',
        field,
        length,
      )
    }
    this.pendingTerms.clear()
    this.pendingFields.clear()
  }

  private put(id: string, body: Document): void {
    const existing = this.find(id)
    if (existing) this.remove(existing)
    const { postings, lengths } = analyze(body)
    const rid = this.sql
      .exec<{ rid: number }>(
        'INSERT INTO docs (id, body, lens) VALUES (?, ?, ?) RETURNING rid',
        id,
        JSON.stringify(body),
        JSON.stringify(lengths),
      )
      .one().rid
    this.meta?.set(rid, { id, lens: lengths })
    for (const term of postings.keys()) this.dropTerm(term)
    const rows: Array<[string, number, string, number, string]> = []
    for (const [term, byField] of postings) {
      for (const [field, positions] of byField)
        rows.push([term, rid, field, positions.length, positions.join(',')])
    }
    for (const chunk of chunks(rows, Math.floor(MAX_PARAMETERS / 5))) {
      this.sql.exec(
        `INSERT INTO postings (term, rid, field, tf, pos) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        ...chunk.flat(),
      )
    }
    for (const term of postings.keys()) this.pendingTerms.set(term, (this.pendingTerms.get(term) ?? 0) + 1)
    for (const [field, length] of Object.entries(lengths))
      this.pendingFields.set(field, (this.pendingFields.get(field) ?? 0) + length)
  }

  /** Removes a stored document and its postings. */
  remove(document: StoredDocument): void {
    this.flush()
    const { postings, lengths } = analyze(document.body)
    this.meta?.delete(document.rid)
    for (const term of postings.keys()) this.dropTerm(term)
    for (const chunk of chunks([...postings.keys()], MAX_PARAMETERS - 1)) {
      const marks = chunk.map(() => '?').join(', ')
      this.sql.exec(`DELETE FROM postings WHERE rid = ? AND term IN (${marks})`, document.rid, ...chunk)
      this.sql.exec(`UPDATE terms SET df = df - 1 WHERE term IN (${marks})`, ...chunk)
      this.sql.exec(`DELETE FROM terms WHERE df <= 0 AND term IN (${marks})`, ...chunk)
    }
    for (const [field, length] of Object.entries(lengths)) {
      this.sql.exec('UPDATE fields SET total = total - ? WHERE field = ?', length, field)
    }
    this.sql.exec('DELETE FROM docs WHERE rid = ?', document.rid)
  }

  clear(): number {
    const removed = this.count()
    this.sql.exec('DELETE FROM docs')
    this.sql.exec('DELETE FROM postings')
    this.sql.exec('DELETE FROM terms')
    this.sql.exec('DELETE FROM fields')
    this.forget()
    return removed
  }

  vocabulary(): Map<string, number> {
    const out = new Map<string, number>()
    for (const row of this.sql.exec<{ term: string; df: number }>('SELECT term, df FROM terms'))
      out.set(row.term, row.df)
    return out
  }

  fieldTotals(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const row of this.sql.exec<{ field: string; total: number }>(
      'SELECT field, total FROM fields WHERE total > 0',
    )) {
      out[row.field] = row.total
    }
    return out
  }

  /** The postings of some terms (from the cache, the missing terms in one query per 100). */
  *postings(terms: readonly string[]): Generator<Posting> {
    const missing: string[] = []
    for (const term of terms) {
      const cached = this.termCache.get(term)
      if (!cached) {
        missing.push(term)
        continue
      }
      // Most recently used last: the eviction order.
      this.termCache.delete(term)
      this.termCache.set(term, cached)
      yield* cached
    }
    for (const chunk of chunks(missing, MAX_PARAMETERS)) {
      const loaded = new Map<string, Posting[]>(chunk.map((term) => [term, []]))
      const rows = this.sql.exec<{ term: string; rid: number; field: string; tf: number; pos: string }>(
        `SELECT term, rid, field, tf, pos FROM postings WHERE term IN (${chunk.map(() => '?').join(',')})`,
        ...chunk,
      )
      for (const row of rows) {
        loaded.get(row.term)?.push({
          term: row.term,
          rid: row.rid,
          field: row.field,
          tf: row.tf,
          positions: row.pos.split(',').map(Number),
        })
      }
      for (const [term, list] of loaded) {
        this.cacheTerm(term, list)
        yield* list
      }
    }
  }

  /** Every document's id and field lengths, by rid (loaded once, then kept up to date). */
  private documentMeta(): Map<number, { id: string; lens: Record<string, number> }> {
    if (!this.meta) {
      const meta = new Map<number, { id: string; lens: Record<string, number> }>()
      for (const row of this.sql.exec<{ rid: number; id: string; lens: string }>(
        'SELECT rid, id, lens FROM docs',
      ))
        meta.set(row.rid, { id: row.id, lens: JSON.parse(row.lens) as Record<string, number> })
      this.meta = meta
    }
    return this.meta
  }

  /** Ids and field lengths of every document, by rid (read-only: the store's own cache). */
  lengths(): ReadonlyMap<number, { id: string; lens: Record<string, number> }> {
    return this.documentMeta()
  }

  /** Documents by rid (all of them when `rids` is undefined). */
  *documents(rids?: readonly number[]): Generator<StoredDocument> {
    if (!rids) {
      for (const row of this.sql.exec<{ rid: number; id: string; body: string }>(
        'SELECT rid, id, body FROM docs',
      )) {
        yield { rid: row.rid, id: row.id, body: JSON.parse(row.body) as Document }
      }
      return
    }
    for (const chunk of chunks([...rids], MAX_PARAMETERS)) {
      const rows = this.sql.exec<{ rid: number; id: string; body: string }>(
        `SELECT rid, id, body FROM docs WHERE rid IN (${chunk.map(() => '?').join(',')})`,
        ...chunk,
      )
      for (const row of rows) yield { rid: row.rid, id: row.id, body: JSON.parse(row.body) as Document }
    }
  }

  /** Up to `limit` documents stored after `rid`, in rid order. */
  after(rid: number, limit: number): StoredDocument[] {
    return this.sql
      .exec<{ rid: number; id: string; body: string }>(
        'SELECT rid, id, body FROM docs WHERE rid > ? ORDER BY rid LIMIT ?',
        rid,
        limit,
      )
      .toArray()
      .map((row) => ({ rid: row.rid, id: row.id, body: JSON.parse(row.body) as Document }))
  }

  /** Every id with its rid. */
  ids(): Array<{ rid: number; id: string }> {
    return [...this.documentMeta()].map(([rid, entry]) => ({ rid, id: entry.id }))
  }
}

/**
 * `SearchShard`: one shard of a search index, `<tenant>:search:<index>#<shard>`. A thin
 * host over `ShardStore` (documents + inverted index in SQLite) and the search logic:
 * each write batch is one `transactionSync`; the vocabulary used for typo and prefix
 * expansion is cached in memory and dropped on every write, so a search after a write's
 * response always sees it (read-your-write).
 */

import type { Env } from '../../platform/env'
import { HostedObject } from '../../platform/hosted-object'
import { Vocabulary } from '../logic/expand'
import type { Document } from '../logic/fields'
import { matchesFilter } from '../logic/filter-eval'
import type { FilterNode } from '../logic/filter-parse'
import { compareIds } from '../logic/order'
import { buildPlan } from '../logic/plan'
import type { ParsedQuery } from '../logic/query'
import type { MatchingStrategy } from '../logic/rank'
import type { Settings } from '../logic/settings'
import { type ExpandResult, expandInShard, type ShardQuery, type ShardResult, searchShard } from './search'
import { ShardStore } from './store'

declare global {
  namespace Cloudflare {
    interface Env {
      SEARCH_SHARDS: DurableObjectNamespace<SearchShard>
    }
  }
}

export interface WriteBatch {
  mode: 'replace' | 'update'
  documents: Array<{ id: string; body: Document }>
}

export class SearchShard extends HostedObject<Env> {
  private readonly store: ShardStore
  private vocabularyCache: Vocabulary | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ShardStore(ctx.storage.sql)
    ctx.blockConcurrencyWhile(async () => this.store.migrate())
  }

  private vocabulary(): Vocabulary {
    this.vocabularyCache ??= new Vocabulary(this.store.vocabulary())
    return this.vocabularyCache
  }

  private changed<T>(result: T): T {
    this.vocabularyCache = undefined
    return result
  }

  /** One write as one transaction; a failed one rolls back and leaves no cached read behind. */
  private mutate<T>(body: () => T): T {
    try {
      return this.ctx.storage.transactionSync(body)
    } catch (error) {
      this.store.forget()
      this.vocabularyCache = undefined
      throw error
    }
  }

  async write(batch: WriteBatch): Promise<{ indexed: number }> {
    this.mutate(() => {
      for (const { id, body } of batch.documents) {
        const existing = batch.mode === 'update' ? this.store.find(id) : undefined
        this.store.put(id, existing ? { ...existing.body, ...body } : body)
      }
    })
    return this.changed({ indexed: batch.documents.length })
  }

  async deleteIds(ids: string[]): Promise<{ deleted: number }> {
    let deleted = 0
    this.mutate(() => {
      for (const id of ids) {
        const existing = this.store.find(id)
        if (!existing) continue
        this.store.remove(existing)
        deleted++
      }
    })
    return this.changed({ deleted })
  }

  async deleteWhere(filter: FilterNode | undefined): Promise<{ deleted: number }> {
    let deleted = 0
    this.mutate(() => {
      const doomed = [...this.store.documents()].filter((document) => matchesFilter(filter, document.body))
      for (const document of doomed) this.store.remove(document)
      deleted = doomed.length
    })
    return this.changed({ deleted })
  }

  async clear(): Promise<{ deleted: number }> {
    const deleted = this.mutate(() => this.store.clear())
    return this.changed({ deleted })
  }

  async destroy(): Promise<void> {
    this.vocabularyCache = undefined
    await this.ctx.storage.deleteAll()
    this.store.migrate()
  }

  async get(id: string): Promise<Document | null> {
    return this.store.find(id)?.body ?? null
  }

  /** The first `limit` documents in id order that pass the filter, and how many pass. */
  async list(
    limit: number,
    filter: FilterNode | undefined,
  ): Promise<{ documents: Array<{ id: string; body: Document }>; total: number }> {
    const passing = [...this.store.documents()].filter((document) => matchesFilter(filter, document.body))
    passing.sort((a, b) => compareIds(a.id, b.id))
    return { documents: passing.slice(0, limit).map(({ id, body }) => ({ id, body })), total: passing.length }
  }

  async stats(): Promise<{ numberOfDocuments: number; fieldDistribution: Record<string, number> }> {
    const fieldDistribution: Record<string, number> = {}
    for (const { body } of this.store.documents()) {
      for (const field of Object.keys(body)) fieldDistribution[field] = (fieldDistribution[field] ?? 0) + 1
    }
    return { numberOfDocuments: this.store.count(), fieldDistribution }
  }

  /** Phase 1: this shard's candidates for the query words and its statistics. */
  async expand(parsed: ParsedQuery, settings: Settings): Promise<ExpandResult> {
    return expandInShard(this.store, this.vocabulary(), parsed.words, settings)
  }

  /** Phase 2: rank with the coordinator's plan and global statistics. */
  async search(query: ShardQuery): Promise<ShardResult> {
    return searchShard(this.store, query)
  }

  /** Both phases in one call, for an index with a single shard. */
  async searchAlone(
    parsed: ParsedQuery,
    strategy: MatchingStrategy,
    query: Omit<ShardQuery, 'plan' | 'stats'>,
  ): Promise<ShardResult & { expansion: ExpandResult }> {
    const expansion = expandInShard(this.store, this.vocabulary(), parsed.words, query.settings)
    const plan = buildPlan(parsed, [expansion.candidates], strategy)
    return { ...searchShard(this.store, { ...query, plan, stats: expansion.stats }), expansion }
  }
}

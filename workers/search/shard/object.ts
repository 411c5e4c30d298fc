/**
 * `SearchShard`: one shard of a search index, `<tenant>:search:<index>#<shard>`. A thin
 * host over `ShardStore` (documents + inverted index in SQLite) and the search logic:
 * each write batch is one `transactionSync`; the vocabulary used for typo and prefix
 * expansion is cached in memory and dropped on every write, so a search after a write's
 * response always sees it (read-your-write). Writes carry the shard count they were routed
 * with and are refused (with the layout to use) once this shard has split (`split.ts`);
 * reads report the layout so the caller can also ask the shard's new sibling.
 */

import type { Env } from '../../platform/env'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
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
import { ShardLayout, type SplitArgs, type SplitBatch } from './split'
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
  /** The shard count the writer routed with. */
  count: number
  documents: Array<{ id: string; body: Document }>
}

export class SearchShard extends HostedObject<Env> {
  private readonly store: ShardStore
  private readonly layout: ShardLayout
  private vocabularyCache: Vocabulary | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ShardStore(ctx.storage.sql)
    this.layout = new ShardLayout(ctx.storage.sql, this.store)
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      this.layout.migrate()
    })
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
      this.layout.forget()
      this.vocabularyCache = undefined
      throw error
    }
  }

  /** The shard count this shard was placed with (null before its first write). */
  private placed(): number | null {
    return this.layout.current().count
  }

  /** `stale` is the shard count to re-route with when this shard has split since. */
  async write(batch: WriteBatch): Promise<{ indexed: number; documents: number; stale?: number }> {
    const stale = this.layout.route(batch.count)
    if (stale !== null) return { indexed: 0, documents: 0, stale }
    const store = this.store
    this.mutate(() =>
      // Lazily, so an update merges into the version an earlier document of the batch stored.
      store.putAll(
        (function* merged() {
          for (const { id, body } of batch.documents) {
            const existing = batch.mode === 'update' ? store.find(id) : undefined
            yield { id, body: existing ? { ...existing.body, ...body } : body }
          }
        })(),
      ),
    )
    return this.changed({ indexed: batch.documents.length, documents: this.store.count() })
  }

  async deleteIds(ids: string[], count: number): Promise<{ deleted: number; stale?: number }> {
    const stale = this.layout.route(count)
    if (stale !== null) return { deleted: 0, stale }
    let deleted = 0
    this.mutate(() => {
      for (const id of ids) {
        const existing = this.store.find(id)
        if (!existing) continue
        this.store.remove(existing)
        deleted++
      }
      this.layout.deleted(ids)
    })
    return this.changed({ deleted })
  }

  async deleteWhere(filter: FilterNode | undefined): Promise<{ deleted: number; layout: number | null }> {
    let deleted = 0
    this.mutate(() => {
      const doomed = [...this.store.documents()].filter((document) => matchesFilter(filter, document.body))
      for (const document of doomed) this.store.remove(document)
      this.layout.deleted(doomed.map((document) => document.id))
      deleted = doomed.length
    })
    return this.changed({ deleted, layout: this.placed() })
  }

  async clear(): Promise<{ deleted: number; layout: number | null }> {
    const deleted = this.mutate(() => {
      this.layout.deleted(this.store.ids().map((entry) => entry.id))
      return this.store.clear()
    })
    return this.changed({ deleted, layout: this.placed() })
  }

  async destroy(): Promise<void> {
    this.vocabularyCache = undefined
    await this.ctx.storage.deleteAll()
    this.store.migrate()
    this.layout.migrate()
  }

  async get(id: string): Promise<{ document: Document | null; layout: number | null }> {
    return { document: this.store.find(id)?.body ?? null, layout: this.placed() }
  }

  /** The first `limit` documents in id order that pass the filter, and how many pass. */
  async list(
    limit: number,
    filter: FilterNode | undefined,
  ): Promise<{ documents: Array<{ id: string; body: Document }>; total: number; layout: number | null }> {
    const passing = [...this.store.documents()].filter((document) => matchesFilter(filter, document.body))
    passing.sort((a, b) => compareIds(a.id, b.id))
    return {
      documents: passing.slice(0, limit).map(({ id, body }) => ({ id, body })),
      total: passing.length,
      layout: this.placed(),
    }
  }

  async stats(): Promise<{
    numberOfDocuments: number
    fieldDistribution: Record<string, number>
    layout: number | null
  }> {
    const fieldDistribution: Record<string, number> = {}
    for (const { body } of this.store.documents()) {
      for (const field of Object.keys(body)) fieldDistribution[field] = (fieldDistribution[field] ?? 0) + 1
    }
    return { numberOfDocuments: this.store.count(), fieldDistribution, layout: this.placed() }
  }

  /** Phase 1: this shard's candidates for the query words and its statistics. */
  async expand(parsed: ParsedQuery, settings: Settings): Promise<ExpandResult & { layout: number | null }> {
    return { ...expandInShard(this.store, this.vocabulary(), parsed.words, settings), layout: this.placed() }
  }

  /** Phase 2: rank with the coordinator's plan and global statistics. */
  async search(query: ShardQuery): Promise<ShardResult & { layout: number | null }> {
    return { ...searchShard(this.store, query), layout: this.placed() }
  }

  /** Both phases in one call, for an index with a single shard. */
  async searchAlone(
    parsed: ParsedQuery,
    strategy: MatchingStrategy,
    query: Omit<ShardQuery, 'plan' | 'stats'>,
  ): Promise<ShardResult & { expansion: ExpandResult; layout: number | null }> {
    const expansion = expandInShard(this.store, this.vocabulary(), parsed.words, query.settings)
    const plan = buildPlan(parsed, [expansion.candidates], strategy)
    const result = searchShard(this.store, { ...query, plan, stats: expansion.stats })
    return { ...result, expansion, layout: this.placed() }
  }

  /** One step of splitting this shard into itself and shard `shard + from` (see split.ts). */
  async splitStep(
    args: SplitArgs & { tenant: string; uid: string },
  ): Promise<{ sealed: boolean; moved: number }> {
    const target = objectStub(this.env.SEARCH_SHARDS, args.tenant, 'search', args.uid, args.shard + args.from)
    const result = await this.layout.step(args, {
      transaction: (body) => this.mutate(body),
      exclusive: (body) => this.ctx.blockConcurrencyWhile(body),
      resetTarget: () => target.destroy(),
      ship: (batch) => target.absorb(batch),
    })
    return this.changed(result)
  }

  /** The receiving side of a split step. */
  async absorb(batch: SplitBatch): Promise<void> {
    this.layout.absorb(batch, (body) => this.mutate(body))
    this.vocabularyCache = undefined
  }
}

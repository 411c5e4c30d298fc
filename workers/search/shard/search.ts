/**
 * One shard's part of a search: expansion of the query words over the shard's vocabulary
 * (phase 1, with the shard's statistics), then ranking with the global statistics the
 * coordinator merged (phase 2): postings → features → filter → facets → the shard's
 * top `limit` by ranking key, with the total number of matches.
 *
 * Cost: reads the postings of the expanded terms (cached per term by the store); reads
 * document bodies only when a filter, a sort or facets need them (for every match), else
 * only for the top `limit`; picks the top with a bounded heap, computing proximity only
 * for the documents that may reach it (`selectTop`).
 */

import { type DistinctGroup, distinctGroup, keepDistinct } from '../logic/distinct'
import { type Candidate, expandWords, type Vocabulary } from '../logic/expand'
import { countFacets, emptyFacets, type FacetCounts } from '../logic/facets'
import { type Document, distinctValue } from '../logic/fields'
import { matchesFilter } from '../logic/filter-eval'
import type { FilterNode } from '../logic/filter-parse'
import {
  compareHits,
  compareIds,
  type KeyPart,
  keyDirections,
  rankingKey,
  type SortSpec,
  sortSpecsInKey,
  sortValue,
} from '../logic/order'
import type { QueryWord } from '../logic/query'
import { type Features, fieldResolver, type GlobalStats, type RankPlan, rankDocuments } from '../logic/rank'
import { type Settings, searchConfig } from '../logic/settings'
import { BoundedHeap, selectTop } from '../logic/topk'
import type { ShardStore } from './store'

export interface ExpandResult {
  candidates: Candidate[][]
  stats: GlobalStats
}

export function expandInShard(
  store: ShardStore,
  vocabulary: Vocabulary,
  words: QueryWord[],
  settings: Settings,
): ExpandResult {
  return {
    candidates: expandWords(words, vocabulary, searchConfig(settings)),
    stats: { docs: store.count(), fieldTotals: store.fieldTotals() },
  }
}

export interface ShardQuery {
  settings: Settings
  /** null for a placeholder search (no words, no phrases). */
  plan: RankPlan | null
  stats: GlobalStats
  filter?: FilterNode | undefined
  sort: SortSpec[]
  facets: string[]
  /** How many of the best hits to return (offset + limit, within maxTotalHits). */
  limit: number
  /** One hit per value of this attribute (documents without it all stay). */
  distinct?: string | null | undefined
  /**
   * With `distinct` over several shards: report each kept value as a group (see
   * logic/distinct.ts); `total` and `facets` then cover only the documents without a value.
   */
  distinctGroups?: boolean | undefined
}

export interface ShardHit {
  id: string
  key: KeyPart[]
  features: Features
  document: Document
}

export interface ShardResult {
  hits: ShardHit[]
  total: number
  facets: FacetCounts
  groups?: DistinctGroup[]
}

const NO_FEATURES: Omit<Features, 'rid'> = {
  words: 0,
  typos: 0,
  proximity: 0,
  attribute: 0,
  position: 0,
  exactness: 0,
  bm25: 0,
}

interface Entry {
  features: Features
  id: string
  values: KeyPart[]
  document: Document | undefined
}

export function searchShard(store: ShardStore, query: ShardQuery): ShardResult {
  const config = searchConfig(query.settings)
  const rules = config.rankingRules
  const keySorts = sortSpecsInKey(rules, query.sort)
  const directions = keyDirections(rules, query.sort)
  const distinct = query.distinct ?? null
  const needBodies =
    query.filter !== undefined || keySorts.length > 0 || query.facets.length > 0 || distinct !== null
  const facets = emptyFacets()

  let features: Features[]
  let complete: (features: Features) => void = () => {}
  const ids = new Map<number, string>()
  if (query.plan && query.plan.queryWords.length === 0) {
    // Only negations: every document but those holding a negated word or phrase.
    const plan = query.plan
    const searchable = fieldResolver(config)
    const excluded = new Set(
      [...store.postings(plan.negatedWords)].filter((p) => searchable(p.field)).map((p) => p.rid),
    )
    for (const phrase of plan.negatedPhrases) {
      const holders = rankDocuments(
        { ...plan, phrases: [phrase], negatedWords: [], negatedPhrases: [] },
        config,
        query.stats,
        store.postings(phrase),
        () => ({}),
      )
      for (const holder of holders.features) excluded.add(holder.rid)
    }
    features = []
    for (const { rid, id } of store.ids()) {
      if (excluded.has(rid)) continue
      features.push({ rid, ...NO_FEATURES })
      ids.set(rid, id)
    }
  } else if (query.plan) {
    const terms = new Set<string>([
      ...query.plan.candidates.flat().map((c) => c.term),
      ...query.plan.negatedWords,
      ...query.plan.negatedPhrases.flat(),
    ])
    const lengths = store.lengths()
    const ranked = rankDocuments(
      query.plan,
      config,
      query.stats,
      store.postings([...terms]),
      (rid) => lengths.get(rid)?.lens ?? {},
    )
    features = ranked.features
    complete = ranked.completeProximity
    for (const f of features) ids.set(f.rid, lengths.get(f.rid)?.id ?? '')
  } else if (needBodies) {
    features = store.ids().map(({ rid, id }) => {
      ids.set(rid, id)
      return { rid, ...NO_FEATURES }
    })
  } else {
    // Placeholder search without filter, sort or facets: documents in id order.
    const all = store.ids()
    const top = new BoundedHeap<{ rid: number; id: string }>(query.limit, (a, b) => compareIds(a.id, b.id))
    for (const entry of all) top.offer(entry)
    const chosen = top.sorted()
    const bodies = new Map([...store.documents(chosen.map((t) => t.rid))].map((d) => [d.rid, d]))
    return {
      hits: chosen.map(({ rid, id }) => ({
        id,
        key: rankingKey(rules, { rid, ...NO_FEATURES }, [], 0),
        features: { rid, ...NO_FEATURES },
        document: bodies.get(rid)?.body ?? {},
      })),
      total: all.length,
      facets,
    }
  }

  let entries: Entry[]
  if (needBodies) {
    const byRid = new Map(features.map((f) => [f.rid, f]))
    entries = []
    for (const stored of store.documents(features.map((f) => f.rid))) {
      if (!matchesFilter(query.filter, stored.body)) continue
      entries.push({
        features: byRid.get(stored.rid) as Features,
        id: stored.id,
        values: keySorts.map((spec) => sortValue(stored.body, spec)),
        document: stored.body,
      })
    }
  } else {
    entries = features.map((f) => ({
      features: f,
      id: ids.get(f.rid) ?? '',
      values: [],
      document: undefined,
    }))
  }
  const sortCount = query.sort.length
  const keyOf = (entry: Entry) => ({
    id: entry.id,
    key: rankingKey(rules, entry.features, entry.values, sortCount),
  })
  let groups: DistinctGroup[] | undefined
  let loose = entries
  if (distinct !== null) {
    entries = keepDistinct(entries, distinct, (a, b) => {
      complete(a.features)
      complete(b.features)
      return compareHits(keyOf(a), keyOf(b), directions)
    })
    if (query.distinctGroups) {
      groups = []
      loose = []
      for (const entry of entries) {
        const value = entry.document ? distinctValue(entry.document, distinct) : undefined
        if (value === undefined || !entry.document) loose.push(entry)
        else {
          complete(entry.features)
          groups.push(distinctGroup(value, keyOf(entry), entry.document, query.facets))
        }
      }
    } else loose = entries
  }
  for (const entry of loose) if (entry.document) countFacets(facets, entry.document, query.facets)
  const top = selectTop(
    entries,
    query.limit,
    (a, b) => compareHits(a, b, directions),
    keyOf,
    (entry) => {
      complete(entry.features)
      return keyOf(entry)
    },
  )
  const missing = top.filter(({ item }) => item.document === undefined).map(({ item }) => item.features.rid)
  const bodies = new Map([...store.documents(missing)].map((d) => [d.rid, d.body]))
  return {
    hits: top.map(({ item, key }) => ({
      id: item.id,
      key: key.key,
      features: item.features,
      document: item.document ?? bodies.get(item.features.rid) ?? {},
    })),
    total: loose.length,
    facets,
    ...(groups ? { groups } : {}),
  }
}

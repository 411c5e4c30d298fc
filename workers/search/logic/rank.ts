/**
 * Ranking features of the documents that match a query, from their postings: the
 * Meilisearch rules' measures (words matched, typos, proximity, attribute, exactness) and
 * a BM25F score (field-weighted, length-normalized term frequencies; the best-matching
 * term of each query word counts, scaled down for typos and prefix completions).
 *
 * Guarantees: features depend only on the document, the query plan and the global
 * statistics passed in (document count, total field lengths, merged document
 * frequencies), never on which shard holds the document: a sharded index ranks exactly
 * like a single shard. Cost: linear in the postings read (no copying: postings are only
 * referenced); proximity, the one costly measure (a merge of position lists per pair of
 * consecutive query words), is left at its lower bound (one per pair) and computed by
 * `RankedDocuments.completeProximity` only for the documents that may reach the top.
 */
import type { Candidate } from './expand'
import { hasPhrase, pairProximity } from './positions'
import type { QueryWord } from './query'
import { attributeMatches, type SearchConfig } from './settings'

export const K1 = 1.2
export const B = 0.75
const TYPO_FACTOR = [1, 0.4, 0.2]
const PREFIX_FACTOR = 0.6

export type MatchingStrategy = 'last' | 'all' | 'frequency' | 'any'

export interface Posting {
  term: string
  rid: number
  field: string
  tf: number
  positions: number[]
}

export interface GlobalStats {
  docs: number
  /** Sum of the token counts of each field over all documents. */
  fieldTotals: Record<string, number>
}

export interface RankPlan {
  queryWords: QueryWord[]
  /** Merged candidates per query word, with global document frequencies. */
  candidates: Candidate[][]
  phrases: string[][]
  negatedWords: string[]
  negatedPhrases: string[][]
  strategy: MatchingStrategy
}

export interface Features {
  rid: number
  words: number
  typos: number
  proximity: number
  attribute: number
  position: number
  exactness: number
  bm25: number
}

interface DocState {
  matched: boolean[]
  typos: number[]
  exact: boolean[]
  rank: number
  position: number
  /** candidate id → length-normalized weighted tf */
  tfw: Map<number, number>
  /** The postings of query words (for proximity), each with its word. */
  hits: Array<{ word: number; posting: Posting }>
  /** `${term}\n${field}` → positions, for phrases */
  termPositions: Map<string, number[]> | undefined
}

export interface RankedDocuments {
  /** Features of every matching document; `proximity` is its lower bound until completed. */
  features: Features[]
  /** Sets `features.proximity` to its exact value (idempotent). */
  completeProximity(features: Features): void
}

interface ResolvedField {
  rank: number
  weight: number
  /** `typoTolerance.disableOnAttributes` covers it: only exact and prefix terms match here. */
  noTypos: boolean
}

/** Rank and weight of a field for this configuration, or undefined when it is not searchable. */
export function fieldResolver(config: SearchConfig) {
  const cache = new Map<string, ResolvedField | undefined>()
  const noTypos = [...config.typoDisabledFields]
  return (field: string) => {
    if (cache.has(field)) return cache.get(field)
    let found: ResolvedField | undefined
    const typoFree = attributeMatches(noTypos, field)
    if (config.fields === null) found = { rank: 0, weight: 1, noTypos: typoFree }
    else {
      const index = config.fields.findIndex((f) => attributeMatches([f.field], field))
      const entry = config.fields[index]
      if (entry) found = { rank: index, weight: entry.weight, noTypos: typoFree }
    }
    cache.set(field, found)
    return found
  }
}

export function idf(df: number, docs: number): number {
  return Math.log(1 + (docs - df + 0.5) / (df + 0.5))
}

function wordCount(matched: boolean[], plan: RankPlan, order: number[]): number {
  const total = matched.length
  const hits = matched.filter(Boolean).length
  if (plan.strategy === 'any') return hits
  if (plan.strategy === 'all') return hits === total ? total : 0
  if (plan.strategy === 'last') {
    let k = 0
    while (k < total && matched[k]) k++
    return k
  }
  // frequency: drop the most frequent words first until the rest all match.
  const remaining = new Set(order)
  for (const word of order) {
    if ([...remaining].every((w) => matched[w])) return remaining.size
    remaining.delete(word)
  }
  return 0
}

/** word → field → sorted positions, from a document's query-word postings. */
function wordPositions(state: DocState, words: number): Array<Map<string, number[]>> {
  const out = Array.from({ length: words }, () => new Map<string, number[]>())
  for (const { word, posting } of state.hits) {
    const byField = out[word] as Map<string, number[]>
    const list = byField.get(posting.field)
    if (list) list.push(...posting.positions)
    else byField.set(posting.field, [...posting.positions])
  }
  for (const byField of out) for (const list of byField.values()) list.sort((a, b) => a - b)
  return out
}

export function rankDocuments(
  plan: RankPlan,
  config: SearchConfig,
  stats: GlobalStats,
  postings: Iterable<Posting>,
  lengths: (rid: number) => Record<string, number>,
): RankedDocuments {
  const resolve = fieldResolver(config)
  const wordCountTotal = plan.queryWords.length
  // Each (word, candidate) pair gets an id: tf accumulators are keyed by it.
  const byTerm = new Map<string, Array<{ word: number; candidate: Candidate; id: number; exact: boolean }>>()
  const ids: number[][] = []
  let nextId = 0
  plan.candidates.forEach((list, word) => {
    const query = plan.queryWords[word] as QueryWord
    ids.push(
      list.map((candidate) => {
        const id = nextId++
        const entry = byTerm.get(candidate.term) ?? []
        entry.push({
          word,
          candidate,
          id,
          exact: candidate.typos === 0 && !candidate.prefix && candidate.term === query.term,
        })
        byTerm.set(candidate.term, entry)
        return id
      }),
    )
  })
  const negated = new Set(plan.negatedWords)
  const phraseTerms = new Set([...plan.phrases.flat(), ...plan.negatedPhrases.flat()])
  const excluded = new Set<number>()
  const docs = new Map<number, DocState>()
  const averages: Record<string, number> = {}
  for (const [field, total] of Object.entries(stats.fieldTotals))
    averages[field] = total / Math.max(1, stats.docs)

  for (const posting of postings) {
    const field = resolve(posting.field)
    if (!field) continue
    if (negated.has(posting.term)) excluded.add(posting.rid)
    let state = docs.get(posting.rid)
    if (!state) {
      state = {
        matched: new Array(wordCountTotal).fill(false),
        typos: new Array(wordCountTotal).fill(0),
        exact: new Array(wordCountTotal).fill(false),
        rank: Number.POSITIVE_INFINITY,
        position: Number.POSITIVE_INFINITY,
        tfw: new Map(),
        hits: [],
        termPositions: undefined,
      }
      docs.set(posting.rid, state)
    }
    if (phraseTerms.has(posting.term)) {
      state.termPositions ??= new Map()
      state.termPositions.set(`${posting.term}\n${posting.field}`, posting.positions)
    }
    const all = byTerm.get(posting.term)
    const uses = field.noTypos ? all?.filter((use) => use.candidate.typos === 0) : all
    if (!uses || uses.length === 0) continue
    const length = lengths(posting.rid)[posting.field] ?? 0
    const average = averages[posting.field] || 1
    const normalized = (field.weight * posting.tf) / (1 - B + (B * length) / average)
    const first = posting.positions[0] ?? 0
    if (field.rank < state.rank || (field.rank === state.rank && first < state.position)) {
      state.rank = field.rank
      state.position = first
    }
    for (const { word, candidate, id, exact } of uses) {
      if (!state.matched[word] || candidate.typos < (state.typos[word] as number))
        state.typos[word] = candidate.typos
      state.matched[word] = true
      if (exact) state.exact[word] = true
      state.hits.push({ word, posting })
      state.tfw.set(id, (state.tfw.get(id) ?? 0) + normalized)
    }
  }

  const frequencyOrder = plan.candidates
    .map((list, word) => ({ word, df: list.reduce((sum, c) => sum + c.df, 0) }))
    .sort((a, b) => b.df - a.df || b.word - a.word)
    .map((entry) => entry.word)
  const idfs = plan.candidates.map((list) => list.map((candidate) => idf(candidate.df, stats.docs)))
  const out: Features[] = []
  const states = new Map<number, DocState>()
  for (const [rid, state] of docs) {
    if (excluded.has(rid)) continue
    const positions = state.termPositions ?? new Map<string, number[]>()
    if (!plan.phrases.every((phrase) => hasPhrase(positions, phrase))) continue
    if (plan.negatedPhrases.some((phrase) => hasPhrase(positions, phrase))) continue
    const words = wordCount(state.matched, plan, frequencyOrder)
    if (words === 0 && wordCountTotal > 0) continue
    let typos = 0
    let exactness = 0
    let matched = 0
    for (let w = 0; w < wordCountTotal; w++) {
      if (!state.matched[w]) continue
      matched++
      typos += state.typos[w] as number
      if (state.exact[w]) exactness++
    }
    let bm25 = 0
    plan.candidates.forEach((list, word) => {
      // Terms sharing the word's stem count as one term (summed frequencies, pooled df),
      // like a stemmed index; any other variant counts on its own; the best one wins.
      let best = 0
      let stemTf = 0
      let stemDf = 0
      const wordIds = ids[word] as number[]
      list.forEach((candidate, i) => {
        const tfw = state.tfw.get(wordIds[i] as number)
        if (candidate.stem) {
          stemDf += candidate.df
          stemTf += tfw ?? 0
          return
        }
        if (!tfw) return
        const factor = (TYPO_FACTOR[candidate.typos] ?? 0.1) * (candidate.prefix ? PREFIX_FACTOR : 1)
        const score = (idfs[word]?.[i] ?? 0) * factor * ((tfw * (K1 + 1)) / (tfw + K1))
        if (score > best) best = score
      })
      if (stemTf > 0) {
        const score = idf(Math.min(stemDf, stats.docs), stats.docs) * ((stemTf * (K1 + 1)) / (stemTf + K1))
        if (score > best) best = score
      }
      bm25 += best
    })
    states.set(rid, state)
    out.push({
      rid,
      words,
      typos,
      // The lower bound: every pair of consecutive matched words at distance 1.
      proximity: Math.max(0, matched - 1),
      attribute: state.rank,
      position: state.position,
      exactness,
      bm25,
    })
  }
  const completed = new Set<number>()
  return {
    features: out,
    completeProximity(features) {
      if (completed.has(features.rid)) return
      completed.add(features.rid)
      const state = states.get(features.rid)
      if (!state) return
      const positions = wordPositions(state, wordCountTotal)
      let proximity = 0
      let previous = -1
      for (let w = 0; w < wordCountTotal; w++) {
        if (!state.matched[w]) continue
        if (previous >= 0)
          proximity += pairProximity(
            positions[previous] as Map<string, number[]>,
            positions[w] as Map<string, number[]>,
          )
        previous = w
      }
      features.proximity = proximity
    },
  }
}

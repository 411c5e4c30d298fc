/**
 * Query-word expansion over an index's vocabulary: each query word becomes the indexed
 * terms it may match — itself, its synonyms, the terms within its allowed typos
 * (Damerau-Levenshtein), and for the word being typed the terms it is a prefix of.
 * Shards expand against their own vocabularies; the coordinator unions the expansions and
 * sums document frequencies (`mergeExpansions`), so every shard then ranks with the same
 * terms and the same global statistics.
 *
 * Cost: the typo scan visits only terms whose length is within the allowed typos of the
 * word (vocabulary bucketed by length); the prefix scan is a binary search plus at most
 * `MAX_PREFIX_TERMS` terms.
 */
import { stemmer } from 'stemmer'
import type { QueryWord } from './query'
import type { SearchConfig } from './settings'
import { allowedTypos, boundedDistance } from './typo'

export const MAX_PREFIX_TERMS = 50

export interface Candidate {
  term: string
  /** 0 for the word itself, a synonym or a prefix completion. */
  typos: number
  /** Matched as a completion of the word being typed. */
  prefix: boolean
  /** Documents holding the term (in one shard, or summed over all after merging). */
  df: number
  /** Shares the word's stem (stemming on): BM25 counts such terms together, as one term. */
  stem: boolean
}

/** A shard's vocabulary: terms sorted, and bucketed by length for the typo scan. */
export class Vocabulary {
  private readonly sorted: string[]
  private readonly byLength = new Map<number, string[]>()
  private byStem: Map<string, string[]> | undefined

  constructor(private readonly df: ReadonlyMap<string, number>) {
    this.sorted = [...df.keys()].sort()
    for (const term of this.sorted) {
      const bucket = this.byLength.get(term.length)
      if (bucket) bucket.push(term)
      else this.byLength.set(term.length, [term])
    }
  }

  frequency(term: string): number {
    return this.df.get(term) ?? 0
  }

  /** Terms with this English (Porter) stem; the stem table is built on first use. */
  withStem(stem: string): string[] {
    if (!this.byStem) {
      this.byStem = new Map()
      for (const term of this.sorted) {
        const key = stemmer(term)
        const bucket = this.byStem.get(key)
        if (bucket) bucket.push(term)
        else this.byStem.set(key, [term])
      }
    }
    return this.byStem.get(stem) ?? []
  }

  withPrefix(prefix: string, limit: number): string[] {
    let low = 0
    let high = this.sorted.length
    while (low < high) {
      const mid = (low + high) >> 1
      if ((this.sorted[mid] as string) < prefix) low = mid + 1
      else high = mid
    }
    const out: string[] = []
    for (let i = low; i < this.sorted.length && out.length < limit; i++) {
      const term = this.sorted[i] as string
      if (!term.startsWith(prefix)) break
      out.push(term)
    }
    return out
  }

  withinTypos(word: string, max: number): Array<{ term: string; typos: number }> {
    const out: Array<{ term: string; typos: number }> = []
    for (let length = word.length - max; length <= word.length + max; length++) {
      for (const term of this.byLength.get(length) ?? []) {
        const typos = boundedDistance(word, term, max)
        if (typos > 0 && typos <= max) out.push({ term, typos })
      }
    }
    return out
  }
}

/** The candidates of each query word in one vocabulary (in query-word order). */
export function expandWords(words: QueryWord[], vocabulary: Vocabulary, config: SearchConfig): Candidate[][] {
  return words.map((word) => {
    const found = new Map<string, Candidate>()
    const add = (term: string, typos: number, prefix: boolean, stem = false) => {
      const df = vocabulary.frequency(term)
      if (df === 0) return
      const existing = found.get(term)
      if (!existing || typos < existing.typos || (typos === existing.typos && !prefix && existing.prefix)) {
        found.set(term, { term, typos, prefix, df, stem: stem || (existing?.stem ?? false) })
      } else if (stem) existing.stem = true
    }
    const stemming = config.stemming && !word.inPhrase
    add(word.term, 0, false, stemming)
    if (stemming) for (const term of vocabulary.withStem(stemmer(word.term))) add(term, 0, false, true)
    if (!word.inPhrase) {
      for (const synonym of config.synonyms.get(word.term) ?? [])
        if (!synonym.includes(' ')) add(synonym, 0, false)
      const max = allowedTypos(word.term, config.typo)
      if (max > 0)
        for (const { term, typos } of vocabulary.withinTypos(word.term, max)) add(term, typos, false)
      if (word.prefix)
        for (const term of vocabulary.withPrefix(word.term, MAX_PREFIX_TERMS)) add(term, 0, true)
    }
    return [...found.values()].sort((a, b) => (a.term < b.term ? -1 : a.term > b.term ? 1 : 0))
  })
}

/** Unions shard expansions word by word, summing document frequencies. */
export function mergeExpansions(perShard: Candidate[][][], wordCount: number): Candidate[][] {
  return Array.from({ length: wordCount }, (_, i) => {
    const merged = new Map<string, Candidate>()
    for (const shard of perShard) {
      for (const candidate of shard[i] ?? []) {
        const existing = merged.get(candidate.term)
        if (!existing) merged.set(candidate.term, { ...candidate })
        else {
          existing.df += candidate.df
          if (candidate.typos < existing.typos) existing.typos = candidate.typos
          existing.prefix &&= candidate.prefix
          existing.stem ||= candidate.stem
        }
      }
    }
    // Each shard sent its first completions in term order, so the first ones of the union
    // are the first ones of the whole index: cap them the same way a single shard would.
    let completions = 0
    return [...merged.values()]
      .sort((a, b) => (a.term < b.term ? -1 : a.term > b.term ? 1 : 0))
      .filter((candidate) => !candidate.prefix || ++completions <= MAX_PREFIX_TERMS)
  })
}

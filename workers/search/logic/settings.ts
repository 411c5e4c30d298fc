/**
 * Index settings: the Meilisearch settings object with its defaults, the merge of a
 * partial update (`null` resets a setting), and the derived search configuration
 * (searchable fields with weights, typo rules, stop words, synonyms).
 *
 * Settings apply at query time: the shards index every string field of a document, so a
 * settings change needs no reindexing and takes effect on the next search.
 */
import { normalizeTerm, terms } from './tokenize'
import type { TypoSettings } from './typo'

export const DEFAULT_RANKING_RULES = ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness']
export const BUILTIN_RULES = new Set([...DEFAULT_RANKING_RULES, 'bm25'])

export interface Settings {
  displayedAttributes: string[]
  searchableAttributes: string[]
  filterableAttributes: string[]
  sortableAttributes: string[]
  rankingRules: string[]
  stopWords: string[]
  synonyms: Record<string, string[]>
  distinctAttribute: string | null
  typoTolerance: {
    enabled: boolean
    minWordSizeForTypos: { oneTypo: number; twoTypos: number }
    disableOnWords: string[]
    disableOnAttributes: string[]
    disableOnNumbers: boolean
  }
  pagination: { maxTotalHits: number }
  faceting: { maxValuesPerFacet: number }
  /** Extension: BM25 weight per searchable attribute (default: by order, see `defaultWeight`). */
  attributeWeights: Record<string, number>
  /** Extension: `english` matches words sharing a Porter stem ("models" finds "model"). */
  stemming: 'none' | 'english'
}

export function defaultSettings(): Settings {
  return {
    displayedAttributes: ['*'],
    searchableAttributes: ['*'],
    filterableAttributes: [],
    sortableAttributes: [],
    rankingRules: [...DEFAULT_RANKING_RULES],
    stopWords: [],
    synonyms: {},
    distinctAttribute: null,
    typoTolerance: {
      enabled: true,
      minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
      disableOnWords: [],
      disableOnAttributes: [],
      disableOnNumbers: false,
    },
    pagination: { maxTotalHits: 1000 },
    faceting: { maxValuesPerFacet: 100 },
    attributeWeights: {},
    stemming: 'none',
  }
}

/** A partial settings update as received (already schema-checked); `null` resets. */
export type SettingsPatch = { [K in keyof Settings]?: Partial<Settings[K]> | Settings[K] | null }

/** Applies a patch to settings; nested objects (typo tolerance, pagination, faceting) merge. */
export function applySettings(current: Settings, patch: SettingsPatch): Settings {
  const defaults = defaultSettings()
  const next: Settings = structuredClone(current)
  for (const key of Object.keys(patch) as Array<keyof Settings>) {
    const value = patch[key]
    if (value === undefined) continue
    if (value === null) {
      ;(next as unknown as Record<string, unknown>)[key] = structuredClone(defaults[key])
      continue
    }
    if (key === 'typoTolerance') {
      const typo = value as Partial<Settings['typoTolerance']>
      next.typoTolerance = {
        ...next.typoTolerance,
        ...typo,
        minWordSizeForTypos: { ...next.typoTolerance.minWordSizeForTypos, ...typo.minWordSizeForTypos },
      }
    } else if (key === 'pagination' || key === 'faceting') {
      ;(next as unknown as Record<string, unknown>)[key] = { ...next[key], ...(value as object) }
    } else {
      ;(next as unknown as Record<string, unknown>)[key] = structuredClone(value)
    }
  }
  return next
}

/** What a query needs from the settings, derived once per search. */
export interface SearchConfig {
  /** Searchable fields in rank order with BM25 weights; `null` = every field, weight 1. */
  fields: Array<{ field: string; weight: number }> | null
  stopWords: ReadonlySet<string>
  /** Normalized word → normalized single-word alternatives. */
  synonyms: ReadonlyMap<string, string[]>
  typo: TypoSettings
  typoDisabledFields: ReadonlySet<string>
  rankingRules: string[]
  stemming: boolean
}

/** Default BM25F weights by rank: from 3 for the first searchable attribute down to 1 for the last. */
export function defaultWeight(rank: number, count: number): number {
  return count <= 1 ? 1 : 1 + (2 * (count - 1 - rank)) / (count - 1)
}

export function searchConfig(settings: Settings): SearchConfig {
  const searchable = settings.searchableAttributes
  const fields = searchable.includes('*')
    ? null
    : searchable.map((field, rank) => ({
        field,
        weight: settings.attributeWeights[field] ?? defaultWeight(rank, searchable.length),
      }))
  const synonyms = new Map<string, string[]>()
  for (const [word, alternatives] of Object.entries(settings.synonyms)) {
    const key = terms(word).join(' ')
    const list = synonyms.get(key) ?? []
    for (const alternative of alternatives) {
      const normalized = terms(alternative).join(' ')
      if (normalized && normalized !== key && !list.includes(normalized)) list.push(normalized)
    }
    synonyms.set(key, list)
  }
  return {
    fields,
    stopWords: new Set(settings.stopWords.map(normalizeTerm)),
    synonyms,
    typo: {
      enabled: settings.typoTolerance.enabled,
      oneTypo: settings.typoTolerance.minWordSizeForTypos.oneTypo,
      twoTypos: settings.typoTolerance.minWordSizeForTypos.twoTypos,
      disableOnWords: new Set(settings.typoTolerance.disableOnWords.map(normalizeTerm)),
      disableOnNumbers: settings.typoTolerance.disableOnNumbers,
    },
    typoDisabledFields: new Set(settings.typoTolerance.disableOnAttributes),
    rankingRules: settings.rankingRules,
    stemming: settings.stemming === 'english',
  }
}

/** Whether a document field (dotted path) is covered by a list of attribute patterns. */
export function attributeMatches(patterns: readonly string[], field: string): boolean {
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === field) return true
    if (field.startsWith(`${pattern}.`)) return true
  }
  return false
}

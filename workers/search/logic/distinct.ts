/**
 * `distinct` over several shards. Like Meilisearch, a search with a distinct attribute keeps
 * one document per value (the best ranked) plus every document without one, and its total
 * and facet distribution count those kept documents only. Two shards may each keep a
 * document of the same value, so each shard reports, per value it kept, that document's
 * ranking key and facet values; the coordinator keeps the best per value (the same
 * comparator a single shard uses), so total and facet counts equal a single shard's.
 *
 * Cost: one small record per distinct value among a shard's matches.
 */
import { countFacets, emptyFacets, type FacetCounts } from './facets'
import { type Document, distinctValue } from './fields'
import { compareHits, type Directions, type KeyPart } from './order'

export interface DistinctGroup {
  value: string
  hit: { id: string; key: KeyPart[] }
  /** Facet values of the kept document alone. */
  facets: FacetCounts
}

/** The best entry of each distinct value, and every entry without one. */
export function keepDistinct<E extends { document: Document | undefined }>(
  entries: E[],
  attribute: string,
  compare: (a: E, b: E) => number,
): E[] {
  const best = new Map<string, E>()
  const out: E[] = []
  for (const entry of entries) {
    const value = entry.document ? distinctValue(entry.document, attribute) : undefined
    if (value === undefined) {
      out.push(entry)
      continue
    }
    const kept = best.get(value)
    if (!kept || compare(entry, kept) < 0) best.set(value, entry)
  }
  return [...out, ...best.values()]
}

export function distinctGroup(
  value: string,
  hit: { id: string; key: KeyPart[] },
  document: Document,
  facets: readonly string[],
): DistinctGroup {
  const counts = emptyFacets()
  countFacets(counts, document, facets)
  return { value, hit, facets: counts }
}

/**
 * Total and facet parts over all shards: `loose` are each shard's documents without a
 * value (total and facets), `groups` each shard's kept document per value.
 */
export function mergeDistinct(
  parts: Array<{ loose: number; facets: FacetCounts; groups: DistinctGroup[] }>,
  directions: Directions,
): { total: number; facets: FacetCounts[] } {
  const best = new Map<string, DistinctGroup>()
  for (const part of parts) {
    for (const group of part.groups) {
      const kept = best.get(group.value)
      if (!kept || compareHits(group.hit, kept.hit, directions) < 0) best.set(group.value, group)
    }
  }
  return {
    total: parts.reduce((sum, part) => sum + part.loose, 0) + best.size,
    facets: [...parts.map((part) => part.facets), ...[...best.values()].map((group) => group.facets)],
  }
}

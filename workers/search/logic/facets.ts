/**
 * Facets: for each requested attribute, how many matching documents hold each value
 * (a document counts once per value), and the min/max of its numeric values. Shards count
 * their own documents; `mergeFacets` sums the counts, so the totals are exact; the
 * per-facet value cap (`maxValuesPerFacet`, values in alphabetical order) is applied after
 * the merge, never per shard.
 */
import { type Document, valuesAt } from './fields'

export interface FacetCounts {
  distribution: Record<string, Record<string, number>>
  stats: Record<string, { min: number; max: number }>
}

export function emptyFacets(): FacetCounts {
  return { distribution: {}, stats: {} }
}

export function countFacets(counts: FacetCounts, document: Document, attributes: readonly string[]): void {
  for (const attribute of attributes) {
    const values = valuesAt(document, attribute).values
    const distribution = counts.distribution[attribute] ?? {}
    counts.distribution[attribute] = distribution
    const seen = new Set<string>()
    for (const value of values) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue
      const key = String(value)
      if (seen.has(key)) continue
      seen.add(key)
      distribution[key] = (distribution[key] ?? 0) + 1
      if (typeof value === 'number') {
        const stats = counts.stats[attribute]
        if (!stats) counts.stats[attribute] = { min: value, max: value }
        else {
          stats.min = Math.min(stats.min, value)
          stats.max = Math.max(stats.max, value)
        }
      }
    }
  }
}

export function mergeFacets(
  parts: FacetCounts[],
  attributes: readonly string[],
  maxValues: number,
): FacetCounts {
  const out = emptyFacets()
  for (const attribute of attributes) {
    const merged: Record<string, number> = {}
    for (const part of parts) {
      for (const [value, count] of Object.entries(part.distribution[attribute] ?? {})) {
        merged[value] = (merged[value] ?? 0) + count
      }
      const stats = part.stats[attribute]
      if (stats) {
        const current = out.stats[attribute]
        out.stats[attribute] = current
          ? { min: Math.min(current.min, stats.min), max: Math.max(current.max, stats.max) }
          : { ...stats }
      }
    }
    const keys = Object.keys(merged)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, maxValues)
    out.distribution[attribute] = Object.fromEntries(keys.map((key) => [key, merged[key] as number]))
  }
  return out
}

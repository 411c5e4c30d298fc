import { describe, expect, it } from 'vitest'
import { distinctGroup, keepDistinct, mergeDistinct } from '../../workers/search/logic/distinct'
import { emptyFacets } from '../../workers/search/logic/facets'
import type { Document } from '../../workers/search/logic/fields'

const doc = (id: string, product: string | undefined, color: string): Document =>
  product === undefined ? { id, color } : { id, product, color }
const groupOf = (document: Document, key: number) =>
  distinctGroup(JSON.stringify(document.product), { id: String(document.id), key: [key] }, document, [
    'color',
  ])

describe('distinct over shards', () => {
  it('keeps the best entry per value and every entry without one', () => {
    const entries = [
      doc('1', 'a', 'red'),
      doc('2', 'a', 'blue'),
      doc('3', undefined, 'red'),
      doc('4', 'b', 'red'),
    ].map((document, i) => ({ document, rank: [3, 1, 2, 0][i] as number }))
    const kept = keepDistinct(entries, 'product', (x, y) => x.rank - y.rank)
    expect(kept.map((entry) => entry.document.id).sort()).toEqual(['2', '3', '4'])
  })

  it('merges groups by the best key: totals and facets count one document per value', () => {
    // Shard A kept a/red (key 5) and b/red (key 1); shard B kept a/blue (key 2); one loose each.
    const a = {
      loose: 1,
      facets: emptyFacets(),
      groups: [groupOf(doc('1', 'a', 'red'), 5), groupOf(doc('4', 'b', 'red'), 1)],
    }
    a.facets.distribution.color = { green: 1 }
    const b = { loose: 1, facets: emptyFacets(), groups: [groupOf(doc('2', 'a', 'blue'), 2)] }
    b.facets.distribution.color = { green: 1 }
    const merged = mergeDistinct([a, b], [1])
    expect(merged.total).toBe(4)
    const counts: Record<string, number> = {}
    for (const part of merged.facets)
      for (const [value, n] of Object.entries(part.distribution.color ?? {}))
        counts[value] = (counts[value] ?? 0) + n
    expect(counts).toEqual({ green: 2, blue: 1, red: 1 })
  })
})

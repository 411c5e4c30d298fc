/** Facet counts and totals with `distinct` on sharded indexes equal a single shard's, as Meilisearch counts them. */
import { describe, expect, it } from 'vitest'
import { ids, newTenant, type SearchResult, search, seedIndex } from './support'

const settings = {
  filterableAttributes: ['product', 'color', 'size'],
  sortableAttributes: ['color', 'size'],
}
const COLORS = ['red', 'blue', 'black', 'green', 'white']

describe('distinct with facets over shards', () => {
  it('counts the kept document of each value, and every document without one', async () => {
    const who = await newTenant()
    const variants = [
      { id: 1, product: 'shirt', color: 'red', name: 'cotton shirt' },
      { id: 2, product: 'shirt', color: 'blue', name: 'cotton shirt deluxe' },
      { id: 3, product: 'shoe', color: 'red', name: 'leather shoe' },
      { id: 4, product: 'shoe', color: 'black', name: 'leather shoe' },
      { id: 5, color: 'red', name: 'loose sock' },
    ]
    await seedIndex(who, 'v1', variants, settings)
    await seedIndex(who, 'v4', variants, settings, 4)
    for (const uid of ['v1', 'v4']) {
      const byId = await search(who, uid, { q: '', distinct: 'product', facets: ['color', 'product'] })
      expect(ids(byId.body as SearchResult), uid).toEqual([1, 3, 5])
      expect(byId.body.estimatedTotalHits, uid).toBe(3)
      expect(byId.body.facetDistribution, uid).toEqual({
        color: { red: 3 },
        product: { shirt: 1, shoe: 1 },
      })
      const byColor = await search(who, uid, {
        q: '',
        distinct: 'product',
        sort: ['color:asc'],
        facets: ['color'],
        limit: 1,
      })
      expect(ids(byColor.body as SearchResult), uid).toEqual([4])
      expect(byColor.body.estimatedTotalHits, uid).toBe(3)
      expect(byColor.body.facetDistribution, uid).toEqual({ color: { black: 1, blue: 1, red: 1 } })
    }
  })

  it('answers like a single shard for words, filters, sorts and pages', async () => {
    const who = await newTenant()
    const documents = Array.from({ length: 80 }, (_, i) => ({
      id: i + 1,
      ...(i % 10 === 0 ? {} : { product: `p${i % 9}` }),
      color: COLORS[(i * 7) % 5],
      size: 30 + ((i * 11) % 17),
      name: `${['linen', 'wool', 'silk'][i % 3]} ${['coat', 'scarf', 'glove', 'hat'][i % 4]} ${i % 6 === 0 ? 'sale' : ''}`,
    }))
    await seedIndex(who, 'one', documents, settings)
    await seedIndex(who, 'five', documents, settings, 5)
    const queries = [
      { q: '', distinct: 'product', facets: ['color', 'size', 'product'] },
      { q: 'wool', distinct: 'product', facets: ['color'] },
      { q: 'silk sale', distinct: 'color', facets: ['product', 'size'], showRankingScore: true },
      { q: 'coat', distinct: 'product', filter: 'size > 35', facets: ['color'], limit: 3 },
      { q: '', distinct: 'product', sort: ['size:desc'], facets: ['color', 'size'], page: 2, hitsPerPage: 3 },
      { q: 'hat', distinct: 'color', sort: ['color:asc'], facets: ['product'], offset: 1, limit: 2 },
    ]
    for (const query of queries) {
      const [a, b] = await Promise.all([search(who, 'one', query), search(who, 'five', query)])
      expect(b.status).toBe(200)
      const { processingTimeMs: _a, ...single } = a.body as unknown as Record<string, unknown>
      const { processingTimeMs: _b, ...sharded } = b.body as unknown as Record<string, unknown>
      expect(sharded, JSON.stringify(query)).toEqual(single)
    }
  })
})

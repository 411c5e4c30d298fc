/** GET search with query parameters, `distinct` (setting and parameter) and geo search, sharded and not. */
import { describe, expect, it } from 'vitest'
import { ids, meili, newTenant, type SearchResult, search, seedIndex } from './support'

const places = [
  { id: 1, name: 'Louvre museum', city: 'paris', kind: 'museum', _geo: { lat: 48.8606, lng: 2.3376 } },
  { id: 2, name: 'Orsay museum', city: 'paris', kind: 'museum', _geo: { lat: 48.86, lng: 2.3266 } },
  { id: 3, name: 'Eiffel tower', city: 'paris', kind: 'tower', _geo: { lat: 48.8584, lng: 2.2945 } },
  { id: 4, name: 'British museum', city: 'london', kind: 'museum', _geo: { lat: 51.5194, lng: -0.127 } },
  { id: 5, name: 'Tower of London', city: 'london', kind: 'tower', _geo: { lat: 51.5081, lng: -0.0759 } },
  { id: 6, name: 'Prado museum', city: 'madrid', kind: 'museum', _geo: { lat: '40.4138', lng: '-3.6921' } },
  { id: 7, name: 'Nowhere museum', city: 'unknown', kind: 'museum' },
]
const settings = { filterableAttributes: ['_geo', 'city', 'kind'], sortableAttributes: ['_geo'] }

describe('GET search, distinct and geo', () => {
  it('answers GET with query parameters like POST, with Meilisearch errors', async () => {
    const who = await newTenant()
    await seedIndex(who, 'places', places, settings)
    const post = await search(who, 'places', { q: 'museum', filter: 'city = paris', limit: 1, offset: 1 })
    const get = await meili<SearchResult>(
      who,
      '/indexes/places/search?q=museum&filter=city%20%3D%20paris&limit=1&offset=1',
    )
    expect(get.status).toBe(200)
    expect(ids(get.body)).toEqual(ids(post.body as SearchResult))
    expect(ids(get.body)).toEqual([2])
    const listed = await meili<SearchResult>(
      who,
      `/indexes/places/search?q=museum&facets=city,kind&attributesToRetrieve=id,name&sort=${encodeURIComponent('_geoPoint(48.8566,2.3522):asc')}&showRankingScore=true&hitsPerPage=2&page=1`,
    )
    expect(listed.status).toBe(200)
    expect(ids(listed.body)).toEqual([1, 2])
    expect(listed.body.facetDistribution).toEqual({
      city: { london: 1, madrid: 1, paris: 2, unknown: 1 },
      kind: { museum: 5 },
    })
    expect(listed.body.hits[0]).toMatchObject({ id: 1, name: 'Louvre museum', _geoDistance: 1157 })
    expect(listed.body.hits[0]?._rankingScore).toEqual(expect.any(Number))
    for (const [query, code] of [
      ['limit=abc', 'invalid_search_limit'],
      ['showRankingScore=yes', 'invalid_search_show_ranking_score'],
      ['matchingStrategy=most', 'invalid_search_matching_strategy'],
      ['filter=nope%20%3D%201', 'invalid_search_filter'],
    ] as const) {
      const bad = await meili(who, `/indexes/places/search?${query}`)
      expect(bad.status, query).toBe(400)
      expect(bad.body.code, query).toBe(code)
    }
    expect((await meili(who, '/indexes/missing/search?q=x')).body.code).toBe('index_not_found')
  })

  it('keeps one hit per distinct value, by setting or parameter, sharded like single', async () => {
    const who = await newTenant()
    await seedIndex(who, 'one', places, settings)
    await seedIndex(who, 'four', places, settings, 4)
    for (const uid of ['one', 'four']) {
      const byParam = await search(who, uid, { q: 'museum', distinct: 'city' })
      expect(byParam.status).toBe(200)
      expect(ids(byParam.body as SearchResult), uid).toEqual([1, 4, 6, 7])
      expect((byParam.body as SearchResult).estimatedTotalHits).toBe(4)
      const all = await search(who, uid, { q: '', distinct: 'kind', facets: ['kind'] })
      expect(ids(all.body as SearchResult), uid).toEqual([1, 3])
      // Facet counts with distinct count the one kept document per value, sharded or not.
      expect((all.body as SearchResult).facetDistribution, uid).toEqual({ kind: { museum: 1, tower: 1 } })
      expect((all.body as SearchResult).estimatedTotalHits, uid).toBe(2)
    }
    const set = await meili(who, '/indexes/four/settings', {
      method: 'PATCH',
      body: { distinctAttribute: 'kind' },
    })
    expect(set.body.status).toBe('succeeded')
    expect(ids((await search(who, 'four', { q: 'tower' })).body as SearchResult)).toEqual([3])
    const bad = await search(who, 'four', { q: 'x', distinct: 'name' })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ code: 'invalid_search_distinct', type: 'invalid_request' })
  })

  it('filters by radius and bounding box, sorts by distance with _geoDistance, sharded like single', async () => {
    const who = await newTenant()
    await seedIndex(who, 'g1', places, settings)
    await seedIndex(who, 'g3', places, settings, 3)
    for (const uid of ['g1', 'g3']) {
      const near = await search(who, uid, { filter: '_geoRadius(48.8566, 2.3522, 3000)' })
      expect(ids(near.body as SearchResult).sort(), uid).toEqual([1, 2])
      const wide = await search(who, uid, { filter: '_geoRadius(48.8566, 2.3522, 5000) AND kind = tower' })
      expect(ids(wide.body as SearchResult), uid).toEqual([3])
      const box = await search(who, uid, { filter: '_geoBoundingBox([52, 0], [51, -1])' })
      expect(ids(box.body as SearchResult).sort(), uid).toEqual([4, 5])
      const sorted = await search(who, uid, { q: 'museum', sort: ['_geoPoint(51.5, -0.12):asc'] })
      const hits = (sorted.body as SearchResult).hits
      expect(
        hits.map((hit) => hit.id),
        uid,
      ).toEqual([4, 2, 1, 6, 7])
      expect(
        hits.map((hit) => hit._geoDistance),
        uid,
      ).toEqual([2211, 341312, 341654, 1262877, undefined])
      const far = await search(who, uid, { q: 'museum', sort: ['_geoPoint(51.5, -0.12):desc'] })
      expect(ids(far.body as SearchResult), uid).toEqual([6, 1, 2, 4, 7])
    }
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ filter: '_geoRadius(48.8, 2.3)' }, 'invalid_search_filter', 'expects three arguments'],
      [{ filter: '_geoRadius(91, 2.3, 10)' }, 'invalid_search_filter', 'Bad latitude `91`'],
      [{ filter: '_geoBoundingBox([1, 2])' }, 'invalid_search_filter', 'expects two pairs'],
      [{ filter: '_geo = 1' }, 'invalid_search_filter', 'reserved keyword'],
      [{ sort: ['_geo:asc'] }, 'invalid_search_sort', 'reserved keyword'],
      [{ sort: ['_geoPoint(0, 200):asc'] }, 'invalid_search_sort', 'Bad longitude `200`'],
    ]
    for (const [params, code, message] of cases) {
      const bad = await meili(who, '/indexes/g1/search', { body: params })
      expect(bad.status, JSON.stringify(params)).toBe(400)
      expect(bad.body.code).toBe(code)
      expect(String(bad.body.message)).toContain(message)
    }
    await seedIndex(who, 'plain', places)
    const unfilterable = await meili(who, '/indexes/plain/search', {
      body: { filter: '_geoRadius(48.8, 2.3, 10)' },
    })
    expect(unfilterable.body).toMatchObject({ code: 'invalid_search_filter' })
    expect(String(unfilterable.body.message)).toContain('Attribute `_geo` is not filterable')
    const unsortable = await meili(who, '/indexes/plain/search', { body: { sort: ['_geoPoint(0, 0):asc'] } })
    expect(String(unsortable.body.message)).toContain('Attribute `_geo` is not sortable')
  })
})

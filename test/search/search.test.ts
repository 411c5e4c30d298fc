import { describe, expect, it } from 'vitest'
import { ids, meili, newTenant, search, seedIndex } from './support'

const movies = [
  {
    id: 1,
    title: 'The Matrix',
    overview: 'A hacker learns the truth about reality',
    genre: 'scifi',
    year: 1999,
    rating: 8.7,
  },
  {
    id: 2,
    title: 'The Matrix Reloaded',
    overview: 'Neo and the rebels fight the machines',
    genre: 'scifi',
    year: 2003,
    rating: 7.2,
  },
  {
    id: 3,
    title: 'Amelie',
    overview: 'A shy waitress in Paris changes lives',
    genre: 'romance',
    year: 2001,
    rating: 8.3,
  },
  {
    id: 4,
    title: 'Reality Bites',
    overview: 'Graduates face the matrix of adult life',
    genre: 'drama',
    year: 1994,
    rating: 6.6,
  },
  {
    id: 5,
    title: 'Paris, Texas',
    overview: 'A drifter walks out of the desert',
    genre: 'drama',
    year: 1984,
    rating: 8.1,
  },
]
const settings = {
  searchableAttributes: ['title', 'overview'],
  filterableAttributes: ['genre', 'year', 'rating'],
  sortableAttributes: ['year', 'rating', 'title'],
}

describe('search', () => {
  it('ranks by words, typo, proximity, attribute (title before overview) and exactness', async () => {
    const who = await newTenant()
    await seedIndex(who, 'movies', movies, settings)
    const result = await search(who, 'movies', { q: 'matrix' })
    expect(result.status).toBe(200)
    // Both titles hold "matrix"; "The Matrix" is shorter-positioned equally, then by id; overview last.
    expect(ids(result.body)).toEqual([1, 2, 4])
    expect(result.body.estimatedTotalHits).toBe(3)
    expect(ids((await search(who, 'movies', { q: 'matrix reloaded' })).body)).toEqual([2, 1, 4])
  })

  it('reads its own writes: a document is searchable in the next request', async () => {
    const who = await newTenant()
    await seedIndex(who, 'rw', movies, settings)
    const added = await meili(who, '/indexes/rw/documents', {
      body: [{ id: 9, title: 'Zardoz', overview: 'Sean Connery' }],
    })
    expect(added.status).toBe(202)
    expect(ids((await search(who, 'rw', { q: 'zardoz' })).body)).toEqual([9])
    await meili(who, '/indexes/rw/documents/9', { method: 'DELETE' })
    expect(ids((await search(who, 'rw', { q: 'zardoz' })).body)).toEqual([])
  })

  it('typos: 1 from 5 letters, 2 from 9, none below; prefix on the last word', async () => {
    const who = await newTenant()
    await seedIndex(who, 'typo', [
      { id: 1, title: 'hackers' },
      { id: 2, title: 'desert' },
      { id: 3, title: 'waitress' },
      { id: 4, title: 'cat' },
      { id: 5, title: 'graduates' },
    ])
    expect(ids((await search(who, 'typo', { q: 'hakcers ' })).body)).toEqual([1])
    expect(ids((await search(who, 'typo', { q: 'dessert ' })).body)).toEqual([2])
    expect(ids((await search(who, 'typo', { q: 'cot ' })).body)).toEqual([])
    expect(ids((await search(who, 'typo', { q: 'gradautez ' })).body)).toEqual([5])
    // Eight letters allow one typo only: two edits from "graduates" find nothing.
    expect(ids((await search(who, 'typo', { q: 'gradaute ' })).body)).toEqual([])
    expect(ids((await search(who, 'typo', { q: 'graduate ' })).body)).toEqual([5])
    expect(ids((await search(who, 'typo', { q: 'waitres ' })).body)).toEqual([3])
    expect(ids((await search(who, 'typo', { q: 'wai' })).body)).toEqual([3])
    expect(ids((await search(who, 'typo', { q: 'wai ' })).body)).toEqual([])
    await meili(who, '/indexes/typo/settings/typo-tolerance', { method: 'PATCH', body: { enabled: false } })
    expect(ids((await search(who, 'typo', { q: 'hakcers ' })).body)).toEqual([])
  })

  it('phrases, negation, stop words and synonyms', async () => {
    const who = await newTenant()
    await seedIndex(who, 'q', movies, {
      ...settings,
      stopWords: ['the', 'a'],
      synonyms: { film: ['matrix'] },
    })
    expect(ids((await search(who, 'q', { q: '"matrix reloaded"' })).body)).toEqual([2])
    expect(ids((await search(who, 'q', { q: 'matrix -reloaded' })).body)).toEqual([1, 4])
    expect(ids((await search(who, 'q', { q: 'matrix -"adult life"' })).body)).toEqual([1, 2])
    expect(ids((await search(who, 'q', { q: 'the matrix ' })).body)).toEqual([1, 2, 4])
    expect(ids((await search(who, 'q', { q: 'film ' })).body)).toEqual([1, 2, 4])
    expect(ids((await search(who, 'q', { q: '-drama -matrix' })).body)).toEqual([3, 5])
  })

  it('filters, sort, facets with counts and stats', async () => {
    const who = await newTenant()
    await seedIndex(who, 'f', movies, settings)
    const filtered = await search(who, 'f', {
      q: '',
      filter: 'genre = drama OR rating > 8.5',
      sort: ['year:desc'],
    })
    expect(ids(filtered.body)).toEqual([1, 4, 5])
    const sorted = await search(who, 'f', { filter: ['year 1990 TO 2002'], sort: ['rating:asc'] })
    expect(ids(sorted.body)).toEqual([4, 3, 1])
    const faceted = await search(who, 'f', { q: 'matrix', facets: ['genre', 'rating'] })
    expect(faceted.body.facetDistribution).toEqual({
      genre: { drama: 1, scifi: 2 },
      rating: { '6.6': 1, '7.2': 1, '8.7': 1 },
    })
    expect(faceted.body.facetStats).toEqual({ rating: { min: 6.6, max: 8.7 } })
    expect(ids((await search(who, 'f', { sort: ['title:asc'], limit: 2 })).body)).toEqual([3, 5])
  })

  it('pagination: offset/limit and page/hitsPerPage within maxTotalHits', async () => {
    const who = await newTenant()
    await seedIndex(who, 'p', movies, { pagination: { maxTotalHits: 4 } })
    const page = await search(who, 'p', { offset: 1, limit: 2 })
    expect(ids(page.body)).toEqual([2, 3])
    expect(page.body).toMatchObject({ offset: 1, limit: 2, estimatedTotalHits: 4 })
    const numbered = await search(who, 'p', { page: 2, hitsPerPage: 3 })
    expect(ids(numbered.body)).toEqual([4])
    expect(numbered.body).toMatchObject({ page: 2, hitsPerPage: 3, totalHits: 4, totalPages: 2 })
  })

  it('highlights, crops and reports match positions with exact offsets; ranking scores', async () => {
    const who = await newTenant()
    await seedIndex(who, 'h', movies, settings)
    const result = await search(who, 'h', {
      q: 'paris',
      attributesToHighlight: ['title'],
      attributesToCrop: ['overview:3'],
      showMatchesPosition: true,
      showRankingScore: true,
      attributesToRetrieve: ['title', 'overview'],
    })
    expect(result.body.hits).toEqual([
      {
        title: 'Paris, Texas',
        overview: 'A drifter walks out of the desert',
        _formatted: { title: '<em>Paris</em>, Texas', overview: 'A drifter walks…' },
        _matchesPosition: { title: [{ start: 0, length: 5 }] },
        _rankingScore: expect.any(Number),
      },
      {
        title: 'Amelie',
        overview: 'A shy waitress in Paris changes lives',
        _formatted: { title: 'Amelie', overview: '…in Paris changes…' },
        _matchesPosition: { overview: [{ start: 18, length: 5 }] },
        _rankingScore: expect.any(Number),
      },
    ])
    const [first, second] = result.body.hits.map((hit) => hit._rankingScore as number)
    expect(first).toBeGreaterThan(second as number)
  })

  it('multi-search across indexes', async () => {
    const who = await newTenant()
    await seedIndex(who, 'a', movies, settings)
    await seedIndex(who, 'b', [{ id: 'x', name: 'matrix algebra' }])
    const result = await meili<{ results: Array<{ indexUid: string; hits: unknown[] }> }>(
      who,
      '/multi-search',
      {
        body: {
          queries: [
            { indexUid: 'a', q: 'matrix', limit: 1 },
            { indexUid: 'b', q: 'matrix' },
          ],
        },
      },
    )
    expect(result.status).toBe(200)
    expect(result.body.results.map((r) => [r.indexUid, r.hits.length])).toEqual([
      ['a', 1],
      ['b', 1],
    ])
  })
})

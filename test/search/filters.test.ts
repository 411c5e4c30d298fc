/** Every filter operator through the search route, on one shard and on three, against hand-built answers. */
import { describe, expect, it } from 'vitest'
import { ids, newTenant, search, seedIndex } from './support'

const books = [
  { id: 1, title: 'Dune', genre: 'scifi', year: 1965, rating: 8.1, tags: ['desert', 'classic'], note: null },
  { id: 2, title: 'Emma', genre: 'romance', year: 1815, rating: 7.4, tags: ['classic'] },
  { id: 3, title: 'Neuromancer', genre: 'scifi', year: 1984, rating: 7.9, tags: ['cyberpunk'], note: 'x' },
  { id: 4, title: 'Rebecca', genre: 'gothic', year: 1938, tags: [], note: '' },
  { id: 5, title: 'Hyperion', genre: 'scifi', year: 1989, rating: 8.0, tags: ['pilgrims'] },
]
const settings = {
  filterableAttributes: ['genre', 'year', 'rating', 'tags', 'note'],
  sortableAttributes: ['year', 'rating', 'title', 'genre'],
}

const CASES: Array<[string | Array<string | string[]>, number[]]> = [
  ['genre = scifi', [1, 3, 5]],
  ['genre != scifi', [2, 4]],
  ['year > 1965', [3, 5]],
  ['year >= 1965', [1, 3, 5]],
  ['year < 1938', [2]],
  ['year <= 1938', [2, 4]],
  ['rating 7.9 TO 8.0', [3, 5]],
  ['year 1900 TO 1970', [1, 4]],
  ['genre IN [romance, gothic]', [2, 4]],
  ['tags IN [cyberpunk, desert]', [1, 3]],
  ['genre NOT IN [scifi]', [2, 4]],
  ['rating EXISTS', [1, 2, 3, 5]],
  ['rating NOT EXISTS', [4]],
  ['note IS NULL', [1]],
  ['note IS NOT NULL', [2, 3, 4, 5]],
  ['tags IS EMPTY', [4]],
  ['note IS EMPTY', [4]],
  ['genre = scifi AND year > 1980', [3, 5]],
  ['genre = romance OR rating > 8', [1, 2]],
  ['NOT genre = scifi', [2, 4]],
  ['genre = scifi AND (year < 1970 OR rating < 8)', [1, 3]],
  ['(genre = gothic OR genre = romance) AND NOT year < 1900', [4]],
  ['NOT (tags = classic OR rating EXISTS)', [4]],
  [
    ['genre = scifi', ['year = 1965', 'year = 1989']],
    [1, 5],
  ],
]

describe('filters through the search route', () => {
  it('every operator answers as expected, sharded or not', async () => {
    const who = await newTenant()
    await seedIndex(who, 'one', books, settings)
    await seedIndex(who, 'three', books, settings, 3)
    for (const uid of ['one', 'three'])
      for (const [filter, expected] of CASES) {
        const result = await search(who, uid, { filter, sort: ['year:asc'] })
        expect(result.status, `${uid}: ${JSON.stringify(filter)}`).toBe(200)
        const want = [...expected].sort(
          (a, b) => (books[a - 1]?.year as number) - (books[b - 1]?.year as number),
        )
        expect(ids(result.body), `${uid}: ${JSON.stringify(filter)}`).toEqual(want)
      }
  })

  it('sorts by several keys and by strings; facets count the filtered hits', async () => {
    const who = await newTenant()
    await seedIndex(who, 's', books, settings, 3)
    expect(ids((await search(who, 's', { sort: ['title:desc'] })).body)).toEqual([4, 3, 5, 2, 1])
    expect(ids((await search(who, 's', { sort: ['genre:asc', 'year:desc'] })).body)).toEqual([4, 2, 5, 3, 1])
    // Missing ratings sort last either way, as in Meilisearch.
    expect(ids((await search(who, 's', { sort: ['rating:desc'] })).body)).toEqual([1, 5, 3, 2, 4])
    expect(ids((await search(who, 's', { sort: ['rating:asc'] })).body)).toEqual([2, 3, 5, 1, 4])
    const faceted = await search(who, 's', { filter: 'year > 1900', facets: ['genre', 'tags'] })
    expect(faceted.body.facetDistribution).toEqual({
      genre: { gothic: 1, scifi: 3 },
      tags: { classic: 1, cyberpunk: 1, desert: 1, pilgrims: 1 },
    })
  })
})

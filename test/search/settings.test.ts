/** Each index setting changes what a search answers, through the Meilisearch routes. */
import { describe, expect, it } from 'vitest'
import { ids, meili, newTenant, search, seedIndex } from './support'

const articles = [
  { id: 1, title: 'Volcano notes', body: 'granite and basalt', author: 'ash', year: 2001, secret: 's1' },
  { id: 2, title: 'Granite walls', body: 'volcano slopes', author: 'bea', year: 1998, secret: 's2' },
  { id: 3, title: 'Harbour', body: 'boats and cranes', author: 'volcano', year: 2010, secret: 's3' },
]

describe('settings', () => {
  it('searchableAttributes: only those fields match, in their order; attributeWeights move BM25', async () => {
    const who = await newTenant()
    await seedIndex(who, 'order', articles, { searchableAttributes: ['title', 'body'] })
    // `author` is not searchable: document 3 is not found by its author.
    expect(ids((await search(who, 'order', { q: 'volcano ' })).body)).toEqual([1, 2])
    await meili(who, '/indexes/order/settings/searchable-attributes', {
      method: 'PUT',
      body: ['body', 'title', 'author'],
    })
    expect(ids((await search(who, 'order', { q: 'volcano ' })).body)).toEqual([2, 1, 3])
    // With BM25 alone, the weights decide: title × 5 puts the title match first again.
    await meili(who, '/indexes/order/settings', {
      method: 'PATCH',
      body: { rankingRules: ['bm25'], attributeWeights: { title: 5, body: 1, author: 1 } },
    })
    expect(ids((await search(who, 'order', { q: 'granite ' })).body)).toEqual([2, 1])
    await meili(who, '/indexes/order/settings/attribute-weights', {
      method: 'PUT',
      body: { title: 1, body: 5, author: 1 },
    })
    expect(ids((await search(who, 'order', { q: 'granite ' })).body)).toEqual([1, 2])
  })

  it('displayedAttributes hide fields from hits and from documents', async () => {
    const who = await newTenant()
    await seedIndex(who, 'shown', articles, { displayedAttributes: ['id', 'title'] })
    const result = await search(who, 'shown', { q: 'harbour' })
    expect(result.body.hits).toEqual([{ id: 3, title: 'Harbour' }])
    expect((await meili(who, '/indexes/shown/documents/3')).body).toEqual({ id: 3, title: 'Harbour' })
    // Hidden fields stay searchable (as in Meilisearch): `secret` is searchable by default.
    expect(ids((await search(who, 'shown', { q: 's2' })).body)).toEqual([2])
  })

  it('typo tolerance: minimum word sizes, words and attributes without typos', async () => {
    const who = await newTenant()
    await seedIndex(who, 'typos', [
      { id: 1, name: 'cat' },
      { id: 2, name: 'kitten', code: 'abcdef' },
      { id: 3, name: 'caravans' },
    ])
    expect(ids((await search(who, 'typos', { q: 'cot ' })).body)).toEqual([])
    expect(ids((await search(who, 'typos', { q: 'katxen ' })).body)).toEqual([])
    await meili(who, '/indexes/typos/settings/typo-tolerance', {
      method: 'PATCH',
      body: { minWordSizeForTypos: { oneTypo: 3, twoTypos: 6 } },
    })
    expect(ids((await search(who, 'typos', { q: 'cot ' })).body)).toEqual([1])
    expect(ids((await search(who, 'typos', { q: 'katxen ' })).body)).toEqual([2])
    expect(ids((await search(who, 'typos', { q: 'cravan ' })).body)).toEqual([3])
    expect(ids((await search(who, 'typos', { q: 'abcdxf ' })).body)).toEqual([2])
    await meili(who, '/indexes/typos/settings/typo-tolerance', {
      method: 'PATCH',
      body: { disableOnWords: ['cot'], disableOnAttributes: ['code'] },
    })
    expect(ids((await search(who, 'typos', { q: 'cot ' })).body)).toEqual([])
    expect(ids((await search(who, 'typos', { q: 'abcdxf ' })).body)).toEqual([])
    expect(ids((await search(who, 'typos', { q: 'katxen ' })).body)).toEqual([2])
    expect((await meili(who, '/indexes/typos/settings/typo-tolerance')).body).toMatchObject({
      enabled: true,
      minWordSizeForTypos: { oneTypo: 3, twoTypos: 6 },
    })
  })

  it('ranking rules: a custom attribute rule and the place of `sort`', async () => {
    const who = await newTenant()
    await seedIndex(who, 'rules', articles, {
      searchableAttributes: ['title', 'body', 'author'],
      sortableAttributes: ['year'],
    })
    expect(ids((await search(who, 'rules', { q: 'volcano ' })).body)).toEqual([1, 2, 3])
    await meili(who, '/indexes/rules/settings/ranking-rules', {
      method: 'PUT',
      body: ['year:desc', 'words', 'typo', 'proximity', 'attribute', 'sort', 'exactness'],
    })
    expect(ids((await search(who, 'rules', { q: 'volcano ' })).body)).toEqual([3, 1, 2])
    // `sort` after a relevance rule only breaks its ties; first, it decides.
    await meili(who, '/indexes/rules/settings/ranking-rules', {
      method: 'PUT',
      body: ['words', 'attribute', 'sort'],
    })
    expect(ids((await search(who, 'rules', { q: 'volcano ', sort: ['year:asc'] })).body)).toEqual([1, 2, 3])
    await meili(who, '/indexes/rules/settings/ranking-rules', { method: 'PUT', body: ['words', 'sort'] })
    expect(ids((await search(who, 'rules', { q: 'volcano ', sort: ['year:asc'] })).body)).toEqual([2, 1, 3])
    await meili(who, '/indexes/rules/settings/ranking-rules', { method: 'PUT', body: ['sort', 'words'] })
    expect(ids((await search(who, 'rules', { q: 'volcano ', sort: ['year:asc'] })).body)).toEqual([2, 1, 3])
    expect(ids((await search(who, 'rules', { q: 'volcano ', sort: ['year:desc'] })).body)).toEqual([3, 1, 2])
  })

  it('pagination.maxTotalHits and faceting.maxValuesPerFacet bound the answer', async () => {
    const who = await newTenant()
    const many = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, word: 'same', tag: `t${i % 12}` }))
    await seedIndex(who, 'bounds', many, {
      filterableAttributes: ['tag'],
      pagination: { maxTotalHits: 25 },
      faceting: { maxValuesPerFacet: 5 },
    })
    const result = await search(who, 'bounds', { q: 'same', limit: 100, facets: ['tag'] })
    expect(result.body.hits).toHaveLength(25)
    expect(result.body.estimatedTotalHits).toBe(25)
    expect(Object.keys(result.body.facetDistribution?.tag ?? {})).toHaveLength(5)
    const last = await search(who, 'bounds', { q: 'same', page: 3, hitsPerPage: 10 })
    expect(last.body.hits).toHaveLength(5)
    expect(last.body).toMatchObject({ totalHits: 25, totalPages: 3 })
  })

  it('stop words and synonyms in both directions, reset by DELETE', async () => {
    const who = await newTenant()
    await seedIndex(who, 'words', [
      { id: 1, text: 'the lord of the rings' },
      { id: 2, text: 'a film about rings' },
      { id: 3, text: 'a movie night' },
    ])
    await meili(who, '/indexes/words/settings', {
      method: 'PATCH',
      body: { stopWords: ['the', 'of', 'a'], synonyms: { film: ['movie'], movie: ['film'] } },
    })
    expect(ids((await search(who, 'words', { q: 'the of ' })).body)).toEqual([1, 2, 3])
    expect(ids((await search(who, 'words', { q: 'film ' })).body)).toEqual([2, 3])
    expect(ids((await search(who, 'words', { q: 'movie ' })).body)).toEqual([3, 2])
    await meili(who, '/indexes/words/settings/synonyms', { method: 'DELETE' })
    expect(ids((await search(who, 'words', { q: 'movie ' })).body)).toEqual([3])
    expect((await meili(who, '/indexes/words/settings/stop-words')).body).toEqual(['the', 'of', 'a'])
  })
})

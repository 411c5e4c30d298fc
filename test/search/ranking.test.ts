/** Each Meilisearch ranking rule decides on its own, with hand-built documents where only it differs. */
import { describe, expect, it } from 'vitest'
import { ids, meili, newTenant, search, seedIndex } from './support'

describe('ranking rules one by one', () => {
  it('words: more query words matched first (matchingStrategy last drops words from the end)', async () => {
    const who = await newTenant()
    await seedIndex(who, 'words', [
      { id: 1, text: 'green apple' },
      { id: 2, text: 'green apple pie' },
      { id: 3, text: 'green tea' },
    ])
    expect(ids((await search(who, 'words', { q: 'green apple pie' })).body)).toEqual([2, 1, 3])
    expect(ids((await search(who, 'words', { q: 'green apple pie', matchingStrategy: 'all' })).body)).toEqual(
      [2],
    )
  })

  it('typo: fewer typos first', async () => {
    const who = await newTenant()
    await seedIndex(who, 'typo', [
      { id: 1, text: 'harbour lights' },
      { id: 2, text: 'harbor lights' },
    ])
    expect(ids((await search(who, 'typo', { q: 'harbor ' })).body)).toEqual([2, 1])
    expect(ids((await search(who, 'typo', { q: 'harbour ' })).body)).toEqual([1, 2])
  })

  it('proximity: query words closer together first', async () => {
    const who = await newTenant()
    await seedIndex(who, 'near', [
      { id: 1, text: 'new houses along the river in york' },
      { id: 2, text: 'a trip to new york' },
      { id: 3, text: 'york was new once' },
    ])
    expect(ids((await search(who, 'near', { q: 'new york' })).body)).toEqual([2, 3, 1])
  })

  it('attribute: a match in an earlier searchable attribute first, then an earlier position', async () => {
    const who = await newTenant()
    await seedIndex(
      who,
      'attr',
      [
        { id: 1, title: 'walks', body: 'lighthouse' },
        { id: 2, title: 'the old lighthouse', body: 'walks' },
        { id: 3, title: 'lighthouse keepers', body: 'walks' },
      ],
      { searchableAttributes: ['title', 'body'] },
    )
    expect(ids((await search(who, 'attr', { q: 'lighthouse ' })).body)).toEqual([3, 2, 1])
  })

  it('exactness: the exact word before a prefix completion; rule order is what counts', async () => {
    const who = await newTenant()
    await seedIndex(who, 'exact', [
      { id: 1, text: 'cartography' },
      { id: 2, text: 'cart' },
    ])
    expect(ids((await search(who, 'exact', { q: 'cart' })).body)).toEqual([2, 1])
    // With exactness removed and a custom rule first, the rule decides.
    await meili(who, '/indexes/exact/settings/ranking-rules', { method: 'PUT', body: ['id:asc', 'words'] })
    expect(ids((await search(who, 'exact', { q: 'cart' })).body)).toEqual([1, 2])
  })
})

describe('attributesToSearchOn', () => {
  it('searches only the named fields, ranked in the index order; a field not searchable is an error', async () => {
    const who = await newTenant()
    await seedIndex(
      who,
      'on',
      [
        { id: 1, title: 'lighthouse', body: 'walks', tag: 'harbor' },
        { id: 2, title: 'walks', body: 'lighthouse', tag: 'harbor' },
        { id: 3, title: 'harbor', body: 'quay', tag: 'lighthouse' },
      ],
      { searchableAttributes: ['title', 'body', 'tag'] },
    )
    expect(ids((await search(who, 'on', { q: 'lighthouse ' })).body)).toEqual([1, 2, 3])
    const restricted = await search(who, 'on', { q: 'lighthouse ', attributesToSearchOn: ['body', 'title'] })
    expect(ids(restricted.body)).toEqual([1, 2])
    expect(ids((await search(who, 'on', { q: 'harbor ', attributesToSearchOn: ['tag'] })).body)).toEqual([
      1, 2,
    ])
    await meili(who, '/indexes/on/settings/searchable-attributes', { method: 'PUT', body: ['title', 'body'] })
    const refused = await search(who, 'on', { q: 'harbor', attributesToSearchOn: ['tag'] })
    expect(refused.status).toBe(400)
    expect(refused.body).toMatchObject({
      code: 'invalid_search_attributes_to_search_on',
      message: 'Attribute `tag` is not searchable. Available searchable attributes are: `title`, `body`.',
    })
  })
})

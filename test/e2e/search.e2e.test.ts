import { Meilisearch, MeilisearchApiError } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let client: Meilisearch

beforeAll(async () => {
  platform = await startPlatform()
  client = new Meilisearch({
    host: `${platform.url}/v1/search`,
    apiKey: await platform.token('e2e-search', ['search:read', 'search:write']),
  })
})

afterAll(async () => {
  await platform?.stop()
})

const movies = [
  { id: 1, title: 'The Matrix', genres: ['Action', 'Sci-Fi'], year: 1999 },
  { id: 2, title: 'The Matrix Reloaded', genres: ['Action', 'Sci-Fi'], year: 2003 },
  { id: 3, title: 'Amélie', genres: ['Comedy', 'Romance'], year: 2001 },
  { id: 4, title: 'Spirited Away', genres: ['Animation', 'Fantasy'], year: 2001 },
]

describe('the meilisearch client against /v1/search', () => {
  it('creates an index, configures it, adds documents and searches', async () => {
    const created = await client.createIndex('movies', { primaryKey: 'id' }).waitTask()
    expect(created.status).toBe('succeeded')
    const index = client.index('movies')
    expect(
      (
        await index
          .updateSettings({ filterableAttributes: ['genres', 'year'], sortableAttributes: ['year'] })
          .waitTask()
      ).status,
    ).toBe('succeeded')
    expect((await index.addDocuments(movies).waitTask()).status).toBe('succeeded')
    const result = await index.search('matrx', {
      filter: 'year > 2000',
      facets: ['genres'],
      attributesToHighlight: ['title'],
    })
    expect(result.hits.map((hit) => hit.id)).toEqual([2])
    expect(result.hits[0]?._formatted?.title).toBe('The <em>Matrix</em> Reloaded')
    expect(result.facetDistribution).toEqual({ genres: { Action: 1, 'Sci-Fi': 1 } })
    const sorted = await index.search('', { sort: ['year:desc'], hitsPerPage: 2, page: 1 })
    expect(sorted.hits.map((hit) => hit.id)).toEqual([2, 3])
    expect(sorted.totalHits).toBe(4)
    expect((await index.getDocument(3)).title).toBe('Amélie')
    expect((await index.getDocuments({ limit: 2 })).results.map((doc) => doc.id)).toEqual([1, 2])
    expect((await index.getStats()).numberOfDocuments).toBe(4)
    expect((await index.getSettings()).filterableAttributes).toEqual(['genres', 'year'])
    const multi = await client.multiSearch({
      queries: [
        { indexUid: 'movies', q: 'amelie' },
        { indexUid: 'movies', q: 'spirited' },
      ],
    })
    expect(multi.results.map((r) => r.hits.map((hit) => hit.id))).toEqual([[3], [4]])
  })

  it('updates and deletes documents, lists tasks and indexes', async () => {
    const index = client.index('movies')
    await index.updateDocuments([{ id: 4, title: 'Spirited Away (2001)' }]).waitTask()
    expect((await index.getDocument(4)).genres).toEqual(['Animation', 'Fantasy'])
    expect(
      (await index.deleteDocuments({ filter: 'year = 1999' }).waitTask()).details?.deletedDocuments,
    ).toBe(1)
    expect((await index.deleteDocument(2).waitTask()).status).toBe('succeeded')
    expect((await index.search('matrix')).hits).toEqual([])
    const tasks = await client.tasks.getTasks({ indexUids: ['movies'], limit: 3 })
    expect(tasks.results).toHaveLength(3)
    expect((await client.getIndexes()).results.map((i) => i.uid)).toContain('movies')
    expect((await client.index('movies').delete().waitTask()).status).toBe('succeeded')
  })

  it('reports Meilisearch errors the client understands', async () => {
    await client.createIndex('errors', { primaryKey: 'id' }).waitTask()
    const error = await client
      .index('errors')
      .search('x', { filter: 'missing = 1' })
      .catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(MeilisearchApiError)
    expect((error as MeilisearchApiError).cause).toMatchObject({
      code: 'invalid_search_filter',
      type: 'invalid_request',
    })
    expect((error as MeilisearchApiError).response.status).toBe(400)
    const failed = await client
      .index('errors')
      .addDocuments([{ id: 'not valid!' }])
      .waitTask()
    expect(failed.status).toBe('failed')
    expect(failed.error?.code).toBe('invalid_document_id')
    const unauthorised = new Meilisearch({ host: `${platform.url}/v1/search`, apiKey: 'wrong' })
    const denied = await unauthorised.getIndexes().catch((thrown: unknown) => thrown)
    expect((denied as MeilisearchApiError).cause).toMatchObject({ type: 'auth' })
  })
})

import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { ids, meili, newTenant, search, seedIndex } from './support'

const books = Array.from({ length: 60 }, (_, i) => ({
  id: i + 1,
  title: `${['river', 'mountain', 'forest', 'desert'][i % 4]} story number ${i + 1}`,
  body: `a tale of ${['storms', 'quiet', 'rivers', 'stone'][i % 3]} and ${i % 5 === 0 ? 'river dragons' : 'plain folk'}`,
  shelf: ['a', 'b', 'c'][i % 3],
  pages: 100 + ((i * 37) % 400),
}))
const settings = {
  searchableAttributes: ['title', 'body'],
  filterableAttributes: ['shelf', 'pages'],
  sortableAttributes: ['pages'],
}

async function taskOf(who: Awaited<ReturnType<typeof newTenant>>, uid: unknown) {
  return (await meili(who, `/tasks/${uid}`)).body
}

describe('documents and errors', () => {
  it('sharded results equal single-shard results for every query feature', async () => {
    const who = await newTenant()
    await seedIndex(who, 'one', books, settings, 1)
    await seedIndex(who, 'many', books, settings, 4)
    const stats = await meili(who, '/indexes/many/stats')
    expect(stats.body).toMatchObject({ numberOfDocuments: 60, numberOfShards: 4 })
    const queries = [
      { q: 'river' },
      { q: 'rivr dragons', showRankingScore: true },
      { q: 'stor', limit: 50 },
      { q: 'mountain story', offset: 3, limit: 7 },
      { q: '"plain folk" -desert', facets: ['shelf'] },
      { q: 'river', filter: 'shelf IN [a, c] AND pages > 200', sort: ['pages:desc'] },
      { q: '', sort: ['pages:asc'], page: 2, hitsPerPage: 9 },
      { q: 'tale', matchingStrategy: 'all', facets: ['shelf', 'pages'] },
    ]
    for (const query of queries) {
      const [one, many] = await Promise.all([search(who, 'one', query), search(who, 'many', query)])
      expect(many.status).toBe(200)
      const { processingTimeMs: _a, ...left } = one.body as unknown as Record<string, unknown>
      const { processingTimeMs: _b, ...right } = many.body as unknown as Record<string, unknown>
      expect(right).toEqual(left)
    }
  })

  it('adds NDJSON and CSV, updates partially, deletes by id, filter and all', async () => {
    const who = await newTenant()
    await seedIndex(who, 'd', [], { filterableAttributes: ['kind'] })
    const ndjson = await meili(who, '/indexes/d/documents', {
      body: '{"id":"a","name":"alpha","kind":"x"}\n{"id":"b","name":"beta","kind":"y"}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    })
    expect(ndjson.status).toBe(202)
    const csv = await meili(who, '/indexes/d/documents', {
      body: 'id,name,kind,size:number\nc,"gamma, ray",x,3\nd,delta,z,4\n',
      headers: { 'content-type': 'text/csv' },
    })
    expect((await taskOf(who, csv.body.taskUid)).status).toBe('succeeded')
    expect((await meili(who, '/indexes/d/documents/c')).body).toEqual({
      id: 'c',
      name: 'gamma, ray',
      kind: 'x',
      size: 3,
    })
    await meili(who, '/indexes/d/documents', { method: 'PUT', body: [{ id: 'a', extra: 'partial' }] })
    expect((await meili(who, '/indexes/d/documents/a')).body).toEqual({
      id: 'a',
      name: 'alpha',
      kind: 'x',
      extra: 'partial',
    })
    const byFilter = await meili(who, '/indexes/d/documents/delete', { body: { filter: 'kind = x' } })
    expect((await taskOf(who, byFilter.body.taskUid)).details).toMatchObject({ deletedDocuments: 2 })
    const batch = await meili(who, '/indexes/d/documents/delete-batch', { body: ['b', 'nope'] })
    expect((await taskOf(who, batch.body.taskUid)).details).toMatchObject({
      providedIds: 2,
      deletedDocuments: 1,
    })
    const listed = await meili<{ results: unknown[]; total: number }>(who, '/indexes/d/documents')
    expect(listed.body.results).toEqual([{ id: 'd', name: 'delta', kind: 'z', size: 4 }])
    await meili(who, '/indexes/d/documents', { method: 'DELETE' })
    expect((await meili(who, '/indexes/d/stats')).body.numberOfDocuments).toBe(0)
  })

  it('bad filters, unknown attributes and oversized documents: Meilisearch errors, nothing changed', async () => {
    const who = await newTenant()
    await seedIndex(who, 'e', books.slice(0, 5), settings)
    const bad = await search(who, 'e', { filter: 'shelf = ' })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({
      code: 'invalid_search_filter',
      type: 'invalid_request',
      link: 'https://docs.meilisearch.com/errors#invalid_search_filter',
    })
    const unknown = await search(who, 'e', { filter: 'title = x' })
    expect(unknown.body).toMatchObject({
      code: 'invalid_search_filter',
      message: expect.stringContaining(
        'Attribute `title` is not filterable. Available filterable attribute patterns are: `shelf`, `pages`.',
      ),
    })
    expect((await search(who, 'e', { sort: ['title:asc'] })).body).toMatchObject({
      code: 'invalid_search_sort',
    })
    expect((await search(who, 'e', { facets: ['title'] })).body).toMatchObject({
      code: 'invalid_search_facets',
    })
    expect((await search(who, 'e', { limit: -1 })).body).toMatchObject({ code: 'invalid_search_limit' })
    expect(
      (await meili(who, '/indexes/e/documents/delete', { body: { filter: 'title = x' } })).body,
    ).toMatchObject({ code: 'invalid_document_filter' })
    const huge = await meili(who, '/indexes/e/documents', {
      body: [{ id: 99, title: 'x'.repeat(1024 * 1024 + 10) }],
    })
    expect(huge.status).toBe(413)
    expect(huge.body).toMatchObject({ code: 'payload_too_large', type: 'invalid_request' })
    const tooMany = await meili(who, '/indexes/e/documents', {
      body: Array.from({ length: 10_001 }, (_, i) => ({ id: i })),
    })
    expect(tooMany.body).toMatchObject({ code: 'payload_too_large' })
    const badId = await meili(who, '/indexes/e/documents', {
      body: [
        { id: 100, title: 'fine' },
        { id: 'bad id!', title: 'no' },
      ],
    })
    expect(badId.status).toBe(202)
    const failed = await taskOf(who, badId.body.taskUid)
    expect(failed).toMatchObject({
      status: 'failed',
      error: { code: 'invalid_document_id', type: 'invalid_request' },
    })
    const missingKey = await meili(who, '/indexes/e/documents', { body: [{ title: 'no id' }] })
    expect(await taskOf(who, missingKey.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'missing_document_id' },
    })
    expect(
      (
        await meili(who, '/indexes/e/documents', {
          body: '[{"id": 1',
          headers: { 'content-type': 'application/json' },
        })
      ).body,
    ).toMatchObject({ code: 'malformed_payload' })
    expect(
      (await meili(who, '/indexes/e/documents', { body: 'x', headers: { 'content-type': 'text/plain' } }))
        .status,
    ).toBe(415)
    expect((await meili(who, '/indexes/e/stats')).body.numberOfDocuments).toBe(5)
    expect(ids((await search(who, 'e', { q: 'fine' })).body)).toEqual([])
    expect((await meili(who, '/indexes/nope/search', { body: {} })).body).toMatchObject({
      code: 'index_not_found',
    })
    expect((await meili(who, '/indexes', { body: { uid: 'e' } })).status).toBe(202)
    expect((await meili(who, '/tasks/999999')).body).toMatchObject({ code: 'task_not_found' })
  })

  it('tenants are isolated and tokens are checked the Meilisearch way', async () => {
    const [a, b] = [await newTenant(), await newTenant()]
    await seedIndex(a, 'shared-name', [{ id: 1, title: 'only for a' }])
    await seedIndex(b, 'shared-name', [{ id: 2, title: 'only for b' }])
    expect(ids((await search(a, 'shared-name', { q: 'only' })).body)).toEqual([1])
    expect(ids((await search(b, 'shared-name', { q: 'only' })).body)).toEqual([2])
    const reader = { ...a, token: (await newTenant(['search:read'])).token }
    expect((await meili(reader, '/indexes/x/documents', { body: [] })).body).toMatchObject({
      code: 'invalid_api_key',
      type: 'auth',
    })
    const anonymous = await call('/v1/search/indexes')
    expect(anonymous.status).toBe(401)
    expect(anonymous.body).toMatchObject({ code: 'missing_authorization_header', type: 'auth' })
  })

  it('settings: read, update one, reset', async () => {
    const who = await newTenant()
    await seedIndex(who, 's', [{ id: 1, title: 'x' }])
    await meili(who, '/indexes/s/settings/ranking-rules', { method: 'PUT', body: ['bm25', 'words'] })
    expect((await meili(who, '/indexes/s/settings/ranking-rules')).body).toEqual(['bm25', 'words'])
    const invalid = await meili(who, '/indexes/s/settings/ranking-rules', {
      method: 'PUT',
      body: ['nonsense'],
    })
    expect(invalid.status).toBe(400)
    expect(invalid.body).toMatchObject({ code: 'invalid_settings_ranking_rules' })
    await meili(who, '/indexes/s/settings', { method: 'DELETE' })
    expect((await meili(who, '/indexes/s/settings')).body).toMatchObject({
      rankingRules: ['words', 'typo', 'proximity', 'attribute', 'sort', 'exactness'],
      stopWords: [],
    })
  })
})

/** Document writes: replace versus update, batch bounds (10,000 documents, 10 MiB) and read-your-write. */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { objectStub } from '../../workers/platform/tenancy'
import { call } from '../helpers'
import { ids, meili, newTenant, search, seedIndex } from './support'

describe('document writes', () => {
  it('POST replaces a whole document, PUT merges fields; both report their task', async () => {
    const who = await newTenant()
    await seedIndex(who, 'r', [{ id: 'a', name: 'alpha', kind: 'x', size: 1 }])
    const replaced = await meili(who, '/indexes/r/documents', { body: [{ id: 'a', name: 'omega' }] })
    expect(replaced.body).toMatchObject({ status: 'succeeded', type: 'documentAdditionOrUpdate' })
    expect((await meili(who, '/indexes/r/documents/a')).body).toEqual({ id: 'a', name: 'omega' })
    expect(ids((await search(who, 'r', { q: 'alpha' })).body)).toEqual([])
    const updated = await meili(who, '/indexes/r/documents', {
      method: 'PUT',
      body: [
        { id: 'a', kind: 'y' },
        { id: 'b', name: 'beta' },
      ],
    })
    expect((await meili(who, `/tasks/${updated.body.taskUid}`)).body).toMatchObject({
      uid: updated.body.taskUid,
      indexUid: 'r',
      status: 'succeeded',
      type: 'documentAdditionOrUpdate',
      details: { receivedDocuments: 2, indexedDocuments: 2 },
    })
    expect((await meili(who, '/indexes/r/documents/a')).body).toEqual({ id: 'a', name: 'omega', kind: 'y' })
    expect(ids((await search(who, 'r', { q: 'omega' })).body)).toEqual(['a'])
    expect(ids((await search(who, 'r', { q: 'beta' })).body)).toEqual(['b'])
  })

  it('takes a batch of 10,000 documents as NDJSON, searchable in the next request', async () => {
    const who = await newTenant()
    await seedIndex(who, 'big', [], {}, 2)
    const lines = Array.from({ length: 10_000 }, (_, i) =>
      JSON.stringify({ id: i, title: i === 9_999 ? 'needle' : `hay ${i % 7}` }),
    )
    const added = await meili(who, '/indexes/big/documents', {
      body: `${lines.join('\n')}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    })
    expect(added.status).toBe(202)
    expect(added.body.status).toBe('succeeded')
    expect(ids((await search(who, 'big', { q: 'needle' })).body)).toEqual([9_999])
    expect((await meili(who, '/indexes/big/stats')).body.numberOfDocuments).toBe(10_000)
  })

  it('refuses a body over 10 MiB with a Meilisearch 413, whatever its size, and changes nothing', async () => {
    const who = await newTenant()
    await seedIndex(who, 'limit', [{ id: 1, title: 'kept' }])
    // Eleven documents just under 1 MiB each: every one is allowed, the batch is not.
    const document = (id: number) => ({ id, title: `word${id} ${'y'.repeat(1000 * 1000)}` })
    for (const count of [11, 14]) {
      const body = JSON.stringify(Array.from({ length: count }, (_, i) => document(i + 2)))
      expect(body.length).toBeGreaterThan(10 * 1024 * 1024)
      const refused = await call<Record<string, unknown>>('/v1/search/indexes/limit/documents', {
        token: who.token,
        body,
        headers: { 'content-type': 'application/json' },
      })
      expect(refused.status, `${count} documents`).toBe(413)
      expect(refused.body).toMatchObject({
        code: 'payload_too_large',
        type: 'invalid_request',
        link: 'https://docs.meilisearch.com/errors#payload_too_large',
      })
    }
    expect((await meili(who, '/indexes/limit/stats')).body.numberOfDocuments).toBe(1)
    expect(ids((await search(who, 'limit', { q: 'word2' })).body)).toEqual([])
    // Ten of them (under 10 MiB) go in.
    const fits = await meili(who, '/indexes/limit/documents', {
      body: Array.from({ length: 10 }, (_, i) => document(i + 2)),
    })
    expect(fits.body.status).toBe('succeeded')
    expect((await meili(who, '/indexes/limit/stats')).body.numberOfDocuments).toBe(11)
    expect(ids((await search(who, 'limit', { q: 'word11', matchingStrategy: 'all' })).body)).toContain(11)
  })
})

describe('primary keys', () => {
  const taskOf = async (who: Awaited<ReturnType<typeof newTenant>>, uid: unknown) =>
    (await meili(who, `/tasks/${uid}`)).body

  it('given, inferred from a field ending in id, or refused with the reason; fixed once documents exist', async () => {
    const who = await newTenant()
    const given = await meili(who, '/indexes/given/documents?primaryKey=sku', {
      body: [{ sku: 'a1', id: 'not the key', name: 'anvil' }],
    })
    expect(given.body.status).toBe('succeeded')
    expect((await meili(who, '/indexes/given')).body).toMatchObject({ uid: 'given', primaryKey: 'sku' })
    expect((await meili(who, '/indexes/given/documents/a1')).body).toMatchObject({ name: 'anvil' })

    await meili(who, '/indexes/inferred/documents', { body: [{ bookId: 7, title: 'dune' }] })
    expect((await meili(who, '/indexes/inferred')).body).toMatchObject({ primaryKey: 'bookId' })

    const none = await meili(who, '/indexes/given/documents', { body: [{ name: 'no key' }] })
    expect(await taskOf(who, none.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'missing_document_id' },
    })
    const two = await meili(who, '/indexes/ambiguous/documents', { body: [{ id: 1, uid: 2 }] })
    expect(await taskOf(who, two.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'index_primary_key_multiple_candidates_found' },
    })
    const other = await meili(who, '/indexes/given/documents?primaryKey=id', {
      body: [{ sku: 'b', id: 'c' }],
    })
    expect(await taskOf(who, other.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'index_primary_key_already_exists' },
    })
    const changed = await meili(who, '/indexes/given', { method: 'PATCH', body: { primaryKey: 'id' } })
    expect(await taskOf(who, changed.body.taskUid)).toMatchObject({
      status: 'failed',
      error: { code: 'index_primary_key_already_exists' },
    })
    expect((await meili(who, '/indexes/given')).body).toMatchObject({ primaryKey: 'sku' })
    expect((await meili(who, '/indexes/given/stats')).body.numberOfDocuments).toBe(1)
  })
})

describe('shard statistics', () => {
  it('document frequencies and field totals always equal a recount, through replaces, updates and deletes', async () => {
    const who = await newTenant()
    await seedIndex(who, 'stats', [])
    const write = async (method: string, body: unknown) => {
      const task = await meili(who, '/indexes/stats/documents', { method, body })
      expect(task.body.status).toBe('succeeded')
    }
    await write('POST', [
      { id: 1, title: 'red fox', body: 'quick red fox' },
      { id: 2, title: 'lazy dog', body: 'red dog' },
      { id: 1, title: 'red wolf', body: 'the same id twice in one batch' },
    ])
    await write('PUT', [
      { id: 2, body: 'blue dog' },
      { id: 3, title: 'blue whale' },
      { id: 3, body: 'merged into the earlier version' },
    ])
    await meili(who, '/indexes/stats/documents/delete-batch', { body: [1] })
    await write('POST', [{ id: 4, title: 'red fox again', tags: ['red', 'fox'] }])
    const shard = objectStub(env.SEARCH_SHARDS, who.tenant, 'search', 'stats', 0)
    const { terms, recount, fields, lengths } = await runInDurableObject(shard, (_, state) => {
      const sql = state.storage.sql
      const rows = <T>(query: string) => sql.exec(query).toArray() as T[]
      return {
        terms: rows<{ term: string; df: number }>('SELECT term, df FROM terms ORDER BY term'),
        recount: rows<{ term: string; df: number }>(
          'SELECT term, count(DISTINCT rid) AS df FROM postings GROUP BY term ORDER BY term',
        ),
        fields: rows<{ field: string; total: number }>('SELECT field, total FROM fields WHERE total > 0'),
        lengths: rows<{ lens: string }>('SELECT lens FROM docs').map(
          (row) => JSON.parse(row.lens) as Record<string, number>,
        ),
      }
    })
    expect(terms).toEqual(recount)
    expect(terms.find((row) => row.term === 'red')).toEqual({ term: 'red', df: 1 })
    const summed: Record<string, number> = {}
    for (const lens of lengths)
      for (const [field, n] of Object.entries(lens)) summed[field] = (summed[field] ?? 0) + n
    expect(Object.fromEntries(fields.map((row) => [row.field, row.total]))).toEqual(summed)
    expect((await meili(who, '/indexes/stats/documents/3')).body).toEqual({
      id: 3,
      title: 'blue whale',
      body: 'merged into the earlier version',
    })
  })
})

/** Online shard growth: indexes double their shards while writes and searches go on. */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { objectStub } from '../../workers/platform/tenancy'
import { ids, meili, newTenant, type SearchResult, search, type Tenant } from './support'

const WORDS = [
  'amber',
  'basalt',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'granite',
  'harbor',
  'island',
  'juniper',
]
const book = (i: number, edition = 1) => ({
  id: i,
  title: `${WORDS[i % 10]} ${WORDS[(i * 3) % 7]} tales`,
  body: `${WORDS[(i * 7) % 10]} near the ${WORDS[(i + 4) % 9]} edition ${edition}`,
  shelf: ['a', 'b', 'c'][i % 3],
  year: 1990 + (i % 25),
})
const settings = {
  filterableAttributes: ['shelf', 'year'],
  sortableAttributes: ['year'],
  pagination: { maxTotalHits: 10000 },
}
const QUERIES = [
  { q: 'amber' },
  { q: 'granit harbor', showRankingScore: true, limit: 50 },
  { q: 'ced', limit: 40, facets: ['shelf'] },
  { q: '', sort: ['year:desc'], limit: 30, offset: 5 },
  { q: 'tales', filter: 'shelf = b AND year > 2000', facets: ['shelf', 'year'] },
  { q: 'edition', limit: 1000 },
]

async function createIndex(who: Tenant, uid: string, body: Record<string, unknown> = {}) {
  const created = await meili(who, '/indexes', { body: { uid, primaryKey: 'id', ...body } })
  expect(created.body.status).toBe('succeeded')
  const updated = await meili(who, `/indexes/${uid}/settings`, { method: 'PATCH', body: settings })
  expect(updated.body.status).toBe('succeeded')
}

async function add(who: Tenant, uid: string, documents: unknown[]) {
  const added = await meili(who, `/indexes/${uid}/documents`, { body: documents })
  expect(added.body.status).toBe('succeeded')
}

/** Every query answers the same on both indexes (ids, order, totals, facets, scores). */
async function expectSameAnswers(who: Tenant, left: string, right: string) {
  for (const query of QUERIES) {
    const [a, b] = await Promise.all([search(who, left, query), search(who, right, query)])
    expect(b.status).toBe(200)
    const { processingTimeMs: _a, ...one } = a.body as unknown as Record<string, unknown>
    const { processingTimeMs: _b, ...other } = b.body as unknown as Record<string, unknown>
    expect(other).toEqual(one)
  }
}

/** Every expected document is found once: by id, in the listing and by a placeholder search. */
async function expectExactly(who: Tenant, uid: string, expected: Array<{ id: number }>) {
  const wanted = expected.map((document) => document.id).sort((a, b) => a - b)
  const listed: number[] = []
  for (let offset = 0; offset < wanted.length; offset += 1000) {
    const page = await meili<{ results: Array<{ id: number }>; total: number }>(
      who,
      `/indexes/${uid}/documents?limit=1000&offset=${offset}`,
    )
    expect(page.body.total).toBe(wanted.length)
    listed.push(...page.body.results.map((document) => document.id))
  }
  expect(listed).toEqual(wanted)
  const all = await search(who, uid, { q: '', limit: 10000 })
  expect((ids(all.body as SearchResult) as number[]).sort((a, b) => a - b)).toEqual(wanted)
  expect(all.body.estimatedTotalHits).toBe(wanted.length)
  const every = Math.max(7, Math.ceil(expected.length / 40))
  for (const document of expected.filter((_, i) => i % every === 0)) {
    const got = await meili(who, `/indexes/${uid}/documents/${document.id}`)
    expect(got.body).toEqual(document)
  }
}

describe('shard growth', () => {
  it('doubles shards as documents arrive; answers equal a single-shard index; tasks report it', async () => {
    const who = await newTenant()
    await createIndex(who, 'grow', { maxShardDocuments: 25 })
    await createIndex(who, 'flat')
    const documents = Array.from({ length: 150 }, (_, i) => book(i + 1))
    for (let i = 0; i < documents.length; i += 30) {
      await add(who, 'grow', documents.slice(i, i + 30))
      await add(who, 'flat', documents.slice(i, i + 30))
    }
    const stats = await meili(who, '/indexes/grow/stats')
    expect(stats.body).toMatchObject({ numberOfDocuments: 150, maxShardDocuments: 25 })
    const shards = stats.body.numberOfShards as number
    expect(shards).toBeGreaterThanOrEqual(8)
    await expectExactly(who, 'grow', documents)
    await expectSameAnswers(who, 'flat', 'grow')
    const tasks = await meili<{ results: Array<{ status: string; details: Record<string, unknown> }> }>(
      who,
      '/tasks?types=indexSplit&indexUids=grow',
    )
    const doublings = Math.log2(shards)
    expect(tasks.body.results.map((task) => task.details.numberOfShards)).toEqual(
      Array.from({ length: doublings }, (_, i) => shards / 2 ** i),
    )
    for (const task of tasks.body.results) {
      expect(task.status).toBe('succeeded')
      expect(task.details.movedDocuments).toBeGreaterThan(0)
    }
  })

  it('keeps writes issued during the move, before and after a shard seals', async () => {
    const who = await newTenant()
    await createIndex(who, 'busy')
    await createIndex(who, 'same')
    const first = Array.from({ length: 2500 }, (_, i) => book(i + 1))
    await add(who, 'busy', first)
    const source = objectStub(env.SEARCH_SHARDS, who.tenant, 'search', 'busy', 0)
    const args = { tenant: who.tenant, uid: 'busy', shard: 0, from: 1, to: 2 }
    expect(await source.splitStep(args)).toEqual({ sealed: false, moved: 0 })
    const current = new Map(first.map((document) => [document.id, document]))
    const write = async (documents: Array<ReturnType<typeof book>>) => {
      await add(who, 'busy', documents)
      for (const document of documents) current.set(document.id, document)
    }
    const remove = async (removed: number[]) => {
      const deleted = await meili(who, '/indexes/busy/documents/delete-batch', { body: removed })
      expect(deleted.body.status).toBe('succeeded')
      for (const id of removed) current.delete(id)
    }
    // Shipped already, not yet, and new; then deletions of shipped and unshipped ones.
    await write([book(3, 2), book(10, 2), book(1800, 2), book(2600), book(2601)])
    await remove([4, 5, 6, 2000, 2001])
    await expectExactly(who, 'busy', [...current.values()])
    expect(await source.splitStep(args)).toEqual({ sealed: false, moved: 0 })
    await write([book(4), book(2002, 3), book(2700)])
    await remove([7, 2600])
    // The last step seals shard 0 before the index row says 2 shards: stale writers re-route.
    const sealed = await source.splitStep(args)
    expect(sealed.sealed).toBe(true)
    await expectExactly(who, 'busy', [...current.values()])
    await write([book(8, 4), book(2800)])
    await remove([9, 2700])
    await expectExactly(who, 'busy', [...current.values()])
    const split = await meili(who, '/indexes/busy/split', { method: 'POST' })
    expect(split.body.status).toBe('succeeded')
    expect((await meili(who, '/indexes/busy/stats')).body).toMatchObject({
      numberOfShards: 2,
      numberOfDocuments: current.size,
    })
    await expectExactly(who, 'busy', [...current.values()])
    await add(who, 'same', [...current.values()])
    await expectSameAnswers(who, 'same', 'busy')
  })

  it('loses no write issued concurrently with a split', async () => {
    const who = await newTenant()
    await createIndex(who, 'race', { shards: 2 })
    const base = Array.from({ length: 1500 }, (_, i) => book(i + 1))
    await add(who, 'race', base)
    const later = Array.from({ length: 60 }, (_, i) => book(i % 2 === 0 ? i + 1 : 3000 + i, 5))
    const searches: Array<Promise<{ status: number; body: SearchResult }>> = []
    const [split] = await Promise.all([
      meili(who, '/indexes/race/split', { method: 'POST' }),
      ...later.map(async (document, i) => {
        await add(who, 'race', [document])
        searches.push(search(who, 'race', QUERIES[i % QUERIES.length] as Record<string, unknown>))
      }),
    ])
    expect(split.body.status).toBe('succeeded')
    for (const answer of await Promise.all(searches)) {
      expect(answer.status).toBe(200)
      expect(new Set(ids(answer.body)).size).toBe(answer.body.hits.length)
    }
    const current = new Map(base.map((document) => [document.id, document]))
    for (const document of later) current.set(document.id, document)
    await expectExactly(who, 'race', [...current.values()])
    const task = await meili(who, `/tasks/${split.body.taskUid}`)
    expect(task.body.details).toMatchObject({ previousShards: 2, numberOfShards: 4 })
  })
})

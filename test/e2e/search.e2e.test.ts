import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Meilisearch, MeilisearchApiError } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let client: Meilisearch

beforeAll(async () => {
  // The crawl test's site listens on 127.0.0.1: this deployment opts in to private networks.
  platform = await startPlatform({ CRAWL_ALLOW_PRIVATE_NETWORKS: 'true' })
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
    const viaGet = await index.searchGet('matrix', { filter: 'year > 2000', attributesToRetrieve: ['id'] })
    expect(viaGet.hits).toEqual([{ id: 2 }])
    expect((await index.search('', { distinct: 'year', filter: 'year = 2001' })).hits).toHaveLength(1)
  })

  it('round-trips settings and tasks through the client', async () => {
    await client.createIndex('words', { primaryKey: 'id' }).waitTask()
    const index = client.index('words')
    await index.addDocuments([
      { id: 1, text: 'the film about a river' },
      { id: 2, text: 'a movie about mountains' },
    ])
    const enqueued = await index.updateSynonyms({ film: ['movie'], movie: ['film'] })
    const task = await client.tasks.getTask(enqueued.taskUid)
    expect(task).toMatchObject({ uid: enqueued.taskUid, indexUid: 'words', status: 'succeeded' })
    await index.updateStopWords(['the', 'a']).waitTask()
    await index.updateTypoTolerance({ minWordSizeForTypos: { oneTypo: 4, twoTypos: 8 } }).waitTask()
    expect((await index.search('movie')).hits.map((hit) => hit.id)).toEqual([2, 1])
    expect((await index.search('rivr')).hits.map((hit) => hit.id)).toEqual([1])
    expect(await index.getSynonyms()).toEqual({ film: ['movie'], movie: ['film'] })
    expect((await index.getTypoTolerance())?.minWordSizeForTypos).toEqual({ oneTypo: 4, twoTypos: 8 })
    await index.resetSettings().waitTask()
    expect((await index.search('rivr')).hits).toEqual([])
    expect(await index.getStopWords()).toEqual([])
  })

  it('geo search: radius, bounding box and distance sort', async () => {
    await client.createIndex('cafes', { primaryKey: 'id' }).waitTask()
    const index = client.index('cafes')
    await index.updateSettings({ filterableAttributes: ['_geo'], sortableAttributes: ['_geo'] }).waitTask()
    await index
      .addDocuments([
        { id: 1, name: 'Near', _geo: { lat: 45.4777, lng: 9.1967 } },
        { id: 2, name: 'Far', _geo: { lat: 45.4632, lng: 9.1886 } },
        { id: 3, name: 'Rome', _geo: { lat: 41.9, lng: 12.5 } },
      ])
      .waitTask()
    const near = await index.search('', { filter: ['_geoRadius(45.472735, 9.184019, 2000)'] })
    expect(near.hits.map((hit) => hit.id).sort()).toEqual([1, 2])
    const box = await index.search('', {
      filter: ['_geoBoundingBox([45.494181, 9.214024], [45.449484, 9.179175])'],
    })
    expect(box.hits.map((hit) => hit.id).sort()).toEqual([1, 2])
    const sorted = await index.search('', { sort: ['_geoPoint(45.472735, 9.184019):asc'] })
    expect(sorted.hits.map((hit) => hit.id)).toEqual([2, 1, 3])
    expect(sorted.hits[0]?._geoDistance).toEqual(expect.any(Number))
    const error = await index
      .search('', { filter: '_geoRadius(100, 9, 10)' })
      .catch((thrown: unknown) => thrown)
    expect((error as MeilisearchApiError).cause).toMatchObject({ code: 'invalid_search_filter' })
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

describe('a crawl through the running platform', () => {
  it('crawls a local site politely into an index the meilisearch client searches', async () => {
    const pages: Record<string, string> = {
      '/robots.txt': 'User-agent: *\nDisallow: /hidden\nCrawl-delay: 2\n',
      '/': '<title>Harbour</title><h1>Harbour</h1><p>Boats and cranes.</p><a href="/tides">tides</a><a href="/hidden">x</a>',
      '/tides': '<title>Tides</title><p>Spring tides follow the new moon.</p>',
      '/hidden': '<title>Hidden</title><p>Never fetched.</p>',
    }
    const seen: string[] = []
    const arrivals: Array<{ at: number; inFlight: number }> = []
    let inFlight = 0
    const site = createServer((request, response) => {
      seen.push(request.url ?? '')
      arrivals.push({ at: Date.now(), inFlight: ++inFlight })
      response.on('close', () => inFlight--)
      const body = pages[request.url ?? '']
      if (body === undefined) response.writeHead(404).end()
      else
        response
          .writeHead(200, { 'content-type': request.url === '/robots.txt' ? 'text/plain' : 'text/html' })
          .end(body)
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    const origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`
    try {
      const token = await platform.token('e2e-search-crawl', ['search:read', 'search:write'])
      const api = async (path: string, body?: unknown) => {
        const response = await fetch(`${platform.url}/v1/search${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      }
      const created = await api('/crawls', {
        index: 'harbour',
        seeds: [`${origin}/`],
        allow: [new URL(origin).host],
        maxDepth: 2,
        maxPages: 10,
      })
      expect(created.status).toBe(201)
      // The frontier's alarms run on their own in the platform; wait for the job (bounded).
      let view = created.body
      for (let i = 0; i < 400 && view.status === 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        view = (await api(`/crawls/${created.body.id}`)).body
      }
      expect(view).toMatchObject({ status: 'done', stats: { indexed: 2, disallowed: 1, failed: 0 } })
      expect(seen).not.toContain('/hidden')
      // Politeness as the site saw it, with the alarms running on their own: one request at a
      // time, and never two sooner than the 2 s crawl delay allows (half of it, leaving room
      // for the time a request takes to leave after its slot).
      expect(arrivals.map((arrival) => arrival.inFlight)).toEqual(arrivals.map(() => 1))
      for (let i = 1; i < arrivals.length; i++)
        expect((arrivals[i]?.at ?? 0) - (arrivals[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(1000)
      const crawler = new Meilisearch({ host: `${platform.url}/v1/search`, apiKey: token })
      const result = await crawler.index('harbour').search('spring tides')
      expect(result.hits.map((hit) => hit.url)).toEqual([`${origin}/tides`])
      expect(result.hits[0]).toMatchObject({ title: 'Tides' })
    } finally {
      site.close()
    }
  })
})

/**
 * Search speed through the real platform (`npm run dev`'s stack, loopback):
 * 1. indexing throughput in documents/s: `SEARCH_BENCH_DOCS` (default 100,000) synthetic
 *    documents in batches of 10,000 (the largest batch a write takes; 2 in flight) into an
 *    8-shard index, against MiniSearch indexing the same documents in-process (no HTTP, no
 *    storage: the ceiling, not a peer) and SQLite FTS5 in memory (the inverted index we chose
 *    not to use in the shards: one table's `bm25()` statistics cannot be summed across shards);
 * 2. search latency p50/p99 over those documents (two-word queries, the last one a
 *    prefix, with and without a filter + facets), against the authenticated no-op floor
 *    `GET /v1/whoami` measured in the same run;
 * 3. crawl throughput in pages/s: `CRAWL_SITES` local sites (node:http on 127.0.0.1, one
 *    host each, `Crawl-delay: 0`) of `CRAWL_PAGES_PER_SITE` linked pages crawled into an
 *    index until the job is done, against a plain Node fetch loop reading the same pages
 *    (the network floor, no parsing or indexing).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Database from 'libsql'
import MiniSearch from 'minisearch'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { loadRow, printTable, runLoad } from './harness'

const DOCS = Number(process.env.SEARCH_BENCH_DOCS ?? 100_000)
const BATCH = 10_000
const BATCHES_IN_FLIGHT = 2
const SHARDS = 8
const CONCURRENCY = 8
const DURATION_MS = 4_000
const CRAWL_SITES = 4
const CRAWL_PAGES_PER_SITE = 50

/** A site of linked pages (page i links to 2i+1 and 2i+2) with `Crawl-delay: 0`. */
async function startSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/robots.txt') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nCrawl-delay: 0\n')
      return
    }
    const page = Number(/^\/p\/(\d+)$/.exec(request.url ?? '')?.[1] ?? Number.NaN)
    if (!(page >= 0 && page < CRAWL_PAGES_PER_SITE)) {
      response.writeHead(404).end()
      return
    }
    const links = [2 * page + 1, 2 * page + 2].filter((n) => n < CRAWL_PAGES_PER_SITE)
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end(
        `<html><head><title>Page ${page}</title></head><body><h1>Page ${page}</h1><p>${sentence(200)}</p>${links
          .map((n) => `<a href="/p/${n}">next ${n}</a>`)
          .join(' ')}</body></html>`,
      )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** A seeded generator, so every run indexes the same documents. */
function random(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const next = random(42)
const syllables = [
  'ka',
  'lo',
  'mi',
  'ra',
  'ne',
  'to',
  'su',
  'vi',
  'da',
  'pe',
  'go',
  'ri',
  'ba',
  'zu',
  'fe',
  'no',
]
const vocabulary = Array.from({ length: 5_000 }, () =>
  Array.from(
    { length: 2 + Math.floor(next() * 3) },
    () => syllables[Math.floor(next() * syllables.length)],
  ).join(''),
)
/** Zipf-like word choice: a few words are common, most are rare. */
const word = () => vocabulary[Math.floor(vocabulary.length * next() ** 3)] as string
const sentence = (words: number) => Array.from({ length: words }, word).join(' ')
const documents = Array.from({ length: DOCS }, (_, i) => ({
  id: i,
  title: sentence(4),
  body: sentence(16),
  category: `c${i % 20}`,
  price: Math.floor(next() * 1000),
}))

let platform: RunningPlatform | undefined
try {
  platform = await startPlatform({ CRAWL_ALLOW_PRIVATE_NETWORKS: 'true' })
  const token = await platform.token('bench-search', ['search:read', 'search:write'])
  const api = async (path: string, body?: unknown, method?: string) => {
    const request = () =>
      fetch(`${platform?.url}${path}`, {
        method: method ?? (body === undefined ? 'GET' : 'POST'),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    // A keep-alive connection the server closed while idle fails once; retry it on a new one.
    const response = await request().catch(request)
    const json = (await response.json()) as Record<string, unknown>
    if (!response.ok || json.status === 'failed')
      throw new Error(`${path}: ${response.status} ${JSON.stringify(json).slice(0, 300)}`)
    return json
  }
  await api('/v1/search/indexes', { uid: 'bench', primaryKey: 'id', shards: SHARDS })
  await api(
    '/v1/search/indexes/bench/settings',
    { searchableAttributes: ['title', 'body'], filterableAttributes: ['category', 'price'] },
    'PATCH',
  )

  const t0 = performance.now()
  const batches: Array<typeof documents> = []
  for (let i = 0; i < DOCS; i += BATCH) batches.push(documents.slice(i, i + BATCH))
  let nextBatch = 0
  await Promise.all(
    Array.from({ length: BATCHES_IN_FLIGHT }, async () => {
      while (nextBatch < batches.length) {
        const batch = batches[nextBatch++]
        await api('/v1/search/indexes/bench/documents', batch)
      }
    }),
  )
  const ours = DOCS / ((performance.now() - t0) / 1000)

  const mini = new MiniSearch({ fields: ['title', 'body'], storeFields: ['id'] })
  const m0 = performance.now()
  mini.addAll(documents)
  const miniRate = DOCS / ((performance.now() - m0) / 1000)
  const fts = new Database(':memory:')
  fts.exec("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize = 'unicode61')")
  const insert = fts.prepare('INSERT INTO docs (id, title, body) VALUES (?, ?, ?)')
  const f0 = performance.now()
  fts.exec('BEGIN')
  for (const document of documents) insert.run(document.id, document.title, document.body)
  fts.exec('COMMIT')
  const ftsRate = DOCS / ((performance.now() - f0) / 1000)
  printTable(`Indexing ${DOCS.toLocaleString('en-US')} documents (title 4 words, body 16 words)`, [
    { subject: 'MiniSearch in-process, memory only (ceiling)', 'documents/s': miniRate, ratio: '1.00×' },
    {
      subject: `search block, ${SHARDS} shards, batches of ${BATCH}, ${BATCHES_IN_FLIGHT} in flight`,
      'documents/s': ours,
      ratio: `${(ours / miniRate).toFixed(3)}×`,
    },
    {
      subject: 'SQLite FTS5 in-process, memory, one transaction (reference)',
      'documents/s': ftsRate,
      ratio: `${(ftsRate / miniRate).toFixed(3)}×`,
    },
  ])

  const queries = Array.from({ length: 500 }, () => `${word()} ${word().slice(0, 3)}`)
  const whoami = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op: () => api('/v1/whoami'),
  })
  const plain = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op: (i) => api('/v1/search/indexes/bench/search', { q: queries[i % queries.length], limit: 10 }),
  })
  const filtered = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op: (i) =>
      api('/v1/search/indexes/bench/search', {
        q: queries[i % queries.length],
        limit: 10,
        filter: 'price < 500',
        facets: ['category'],
      }),
  })
  const miniSearch = await runLoad({
    concurrency: 1,
    durationMs: 2_000,
    op: async (i) =>
      mini.search(queries[i % queries.length] as string, { prefix: true, fuzzy: 0.2 }).slice(0, 10),
  })
  const ftsSearch = fts.prepare('SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10')
  const ftsQuery = (query: string) => {
    const [first, last] = query.split(' ')
    return `"${first}" "${last}"*`
  }
  const sqliteFts = await runLoad({
    concurrency: 1,
    durationMs: 2_000,
    op: async (i) => ftsSearch.all(ftsQuery(queries[i % queries.length] as string)),
  })
  fts.close()
  printTable(
    `Search over ${DOCS.toLocaleString('en-US')} documents (${CONCURRENCY} in flight, ${DURATION_MS / 1000} s each)`,
    [
      loadRow('GET /v1/whoami (floor)', whoami),
      loadRow('search: two words, prefix + typos', plain, whoami),
      loadRow('search + filter + facets', filtered, whoami),
      loadRow('MiniSearch in-process (reference, 1 in flight)', miniSearch, whoami),
      loadRow('SQLite FTS5 bm25() in-process, no typos (reference, 1 in flight)', sqliteFts, whoami),
    ],
  )

  const sites = await Promise.all(Array.from({ length: CRAWL_SITES }, startSite))
  try {
    const pages = CRAWL_SITES * CRAWL_PAGES_PER_SITE
    const f0 = performance.now()
    for (const site of sites)
      for (let i = 0; i < CRAWL_PAGES_PER_SITE; i++) await (await fetch(`${site.origin}/p/${i}`)).text()
    const fetchRate = pages / ((performance.now() - f0) / 1000)
    const c0 = performance.now()
    const job = await api('/v1/search/crawls', {
      index: 'crawl-bench',
      seeds: sites.map((site) => `${site.origin}/p/0`),
      allow: sites.map((site) => new URL(site.origin).host),
      maxDepth: 20,
      maxPages: pages,
    })
    let view = job
    while (view.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 50))
      view = await api(`/v1/search/crawls/${job.id}`)
    }
    const crawlRate = pages / ((performance.now() - c0) / 1000)
    const stats = view.stats as Record<string, number>
    if (stats.indexed !== pages)
      throw new Error(`crawl indexed ${stats.indexed} of ${pages}: ${JSON.stringify(view)}`)
    printTable(`Crawl: ${CRAWL_SITES} local sites × ${CRAWL_PAGES_PER_SITE} pages (Crawl-delay: 0)`, [
      {
        subject: 'Node fetch loop, one page at a time (network floor)',
        'pages/s': fetchRate,
        ratio: '1.00×',
      },
      {
        subject: `crawler: robots, fetch, HTMLRewriter, dedup, index (${CRAWL_SITES} hosts)`,
        'pages/s': crawlRate,
        ratio: `${(crawlRate / fetchRate).toFixed(3)}×`,
      },
    ])
  } finally {
    for (const site of sites) site.server.close()
  }
} catch (error) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  console.error(platform?.output().slice(-2000))
  throw error
} finally {
  await platform?.stop()
}

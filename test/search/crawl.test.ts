/**
 * The crawler against a local site (test/setup/crawl-site.ts), driven by firing the
 * frontier objects' alarms: never sleeping. The site's own request log says what was
 * fetched; the frontier's schedule says when.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { fetchPage, fetchRobots } from '../../workers/search/crawl/fetcher'
import { jobStub } from '../../workers/search/crawl/job-object'
import {
  type CrawlView,
  drive,
  hits,
  host,
  hostObject,
  schedule,
  site,
  siteLog,
  startCrawl,
} from './crawl-support'
import { meili, newTenant, type SearchResult, search } from './support'

describe('crawls', () => {
  it('crawls the site politely and completely: robots, sitemap, redirect, duplicates, retries, the trap bounded', async () => {
    const who = await newTenant()
    const before = (await siteLog()).last
    const job = await startCrawl(who, {
      index: 'site',
      seeds: [`${site}/`],
      allow: [host],
      maxDepth: 3,
      maxPages: 50,
    })
    expect(job.status).toBe('running')
    const done = await drive(who, job.id)
    expect(done.status).toBe('done')

    const requests = (await siteLog(before)).requests
    const paths = requests.map((request) => request.path)
    expect(paths[0]).toBe('/robots.txt')
    // Completely: every page reachable within the rules, from links, the sitemap and the redirect.
    expect([...new Set(paths)].sort()).toEqual(
      [
        '/',
        '/a',
        '/b',
        '/b?a=2&z=1',
        '/copy',
        '/flaky',
        '/gone',
        '/moved',
        '/near',
        '/old',
        '/orphan',
        '/robots.txt',
        '/sitemap.xml',
        '/trap/0',
        '/trap/1',
        '/trap/2',
      ].sort(),
    )
    // One request at a time: none arrived while another was in flight.
    expect(requests.map((request) => request.inFlight)).toEqual(requests.map(() => 1))
    expect(paths.some((path) => path.startsWith('/private'))).toBe(false)
    expect(paths).toContain('/sitemap.xml')
    expect(requests.every((request) => request.agent.startsWith('edgeblocks-crawler/'))).toBe(true)
    // Depth 3 stops the trap at /trap/2 (the home page is depth 0, /trap/0 depth 1).
    expect(paths.filter((path) => path.startsWith('/trap/')).sort()).toEqual([
      '/trap/0',
      '/trap/1',
      '/trap/2',
    ])
    // One fetch per page (dedup of /b#section, /b?z=1&a=2 and /b?a=2&z=1), /flaky retried.
    const pages = paths.filter((path) => path !== '/flaky')
    expect(new Set(pages).size).toBe(pages.length)
    expect(paths.filter((path) => path === '/flaky')).toHaveLength(3)

    expect(done.stats).toMatchObject({
      disallowed: 1,
      redirects: 1,
      duplicates: 2,
      nearDuplicates: 1,
      failed: 1,
      pending: 0,
    })
    // Failures are reported: the 404 for good, each 503 of /flaky before its retry.
    expect(done.errors.map((error) => [error.url.slice(site.length), error.reason]).sort()).toEqual([
      ['/flaky', 'HTTP 503'],
      ['/flaky', 'HTTP 503'],
      ['/gone', 'HTTP 404'],
    ])
    expect(done.stats.retries).toBe(2)

    // Every allowed page is searchable, with the fields the HTML gave.
    expect(await hits(who, 'site', 'herons')).toEqual([`${site}/moved`])
    expect(await hits(who, 'site', 'saffron')).toEqual([`${site}/orphan`])
    expect(await hits(who, 'site', 'tidal turbines')).toEqual([`${site}/flaky`])
    expect(await hits(who, 'site', 'obsidian')).toHaveLength(1)
    expect(await hits(who, 'site', 'quantum lattices')).toEqual([`${site}/a`])
    expect(await hits(who, 'site', 'nobody should ever read')).toEqual([])
    const home = await search(who, 'site', { q: 'welcome crawl test site' })
    const document = (home.body as SearchResult).hits[0] as Record<string, unknown>
    expect(document).toMatchObject({ url: `${site}/`, title: 'Home page', description: 'About Home page' })
    expect(document.headings).toEqual(['Home page', 'Links'])
    expect(String(document.text)).toContain('Welcome to the crawl test site.')
    expect(String(document.text)).not.toContain('script text')
    expect(String(document.text)).not.toContain('.hidden')

    // Per-host politeness: the object's own schedule keeps the 2 s crawl delay between requests.
    const slots = await schedule(who)
    expect(slots.length).toBe(requests.length)
    for (let i = 1; i < slots.length; i++)
      expect((slots[i]?.at ?? 0) - (slots[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(2000)
  })

  it('retries a failing page after a doubling full-jitter backoff and reports each failure', async () => {
    const who = await newTenant()
    await runInDurableObject(hostObject(who), (instance) => {
      instance.random = () => 0.5
    })
    const job = await startCrawl(who, {
      index: 'flaky',
      seeds: [`${site}/flaky`],
      allow: [host],
      maxDepth: 0,
      maxPages: 1,
    })
    const delays: number[] = []
    for (const retries of [1, 2]) {
      await drive(who, job.id, (view) => view.stats.retries === retries)
      const tried = (await schedule(who)).filter((slot) => slot.url.endsWith('/flaky')).at(-1)
      const due = await runInDurableObject(hostObject(who), (_, state) =>
        state.storage.sql.exec<{ due: number }>("SELECT due FROM frontier WHERE url LIKE '%/flaky'").one(),
      )
      delays.push(due.due - (tried?.at ?? 0))
    }
    // Full jitter at 0.5 of min(10 min, 2 s · 2^(retry - 1)): 1 s, then 2 s.
    expect(delays).toEqual([1000, 2000])
    const done = await drive(who, job.id)
    expect(done.stats).toMatchObject({ indexed: 1, retries: 2, failed: 0 })
    expect(done.errors.map((error) => error.reason)).toEqual(['HTTP 503', 'HTTP 503'])
  })

  it('bounds an infinite trap by maxPages', async () => {
    const who = await newTenant()
    const before = (await siteLog()).last
    const job = await startCrawl(who, {
      index: 'trap',
      seeds: [`${site}/trap/0`],
      allow: [`${site}/trap/`],
      maxDepth: 20,
      maxPages: 4,
    })
    const done = await drive(who, job.id)
    expect(done.status).toBe('done')
    const pages = (await siteLog(before)).requests.filter((request) => request.path.startsWith('/trap/'))
    expect(pages.map((request) => request.path)).toEqual(['/trap/0', '/trap/1', '/trap/2', '/trap/3'])
    expect(done.stats.discovered).toBe(4)
  })

  it('re-fetches conditionally (ETag, Last-Modified) when recrawling; a cancelled crawl fetches nothing more', async () => {
    const who = await newTenant()
    const start = (await siteLog()).last
    const job = await startCrawl(who, {
      index: 'recrawl',
      seeds: [`${site}/moved`, `${site}/dated`],
      allow: [host],
      maxDepth: 0,
      maxPages: 5,
      recrawlSeconds: 60,
    })
    await drive(who, job.id, (view) => view.stats.indexed === 2)
    const refetched = await drive(who, job.id, (view) => view.stats.notModified === 2)
    expect(refetched.status).toBe('running')
    expect(refetched.stats.indexed).toBe(2)
    const conditional = (await siteLog(start)).requests
      .filter((request) => request.path === '/moved' || request.path === '/dated')
      .map((request) => [request.path, request.conditional])
    expect(conditional).toEqual([
      ['/moved', null],
      ['/dated', null],
      ['/moved', '"2f6d6f766564"'],
      ['/dated', 'Wed, 21 Oct 2026 07:28:00 GMT'],
    ])
    expect(await hits(who, 'recrawl', 'lighthouse almanacs')).toEqual([`${site}/dated`])
    const slots = await schedule(who)
    const moved = slots.filter((slot) => slot.url.endsWith('/moved'))
    expect(moved.length).toBe(2)
    expect((moved[1]?.at ?? 0) - (moved[0]?.at ?? 0)).toBeGreaterThanOrEqual(60_000)

    const cancelled = await meili<CrawlView>(who, `/crawls/${job.id}`, { method: 'DELETE' })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.status).toBe('cancelled')
    const before = (await siteLog()).last
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(hostObject(who))
    expect((await siteLog(before)).requests).toEqual([])
    expect(await runDurableObjectAlarm(hostObject(who))).toBe(false)
  })

  it('keeps tenants apart', async () => {
    const a = await newTenant()
    const b = await newTenant()
    const job = await startCrawl(a, {
      index: 'mine',
      seeds: [`${site}/moved`],
      allow: [host],
      maxDepth: 0,
      maxPages: 1,
    })
    await drive(a, job.id)
    expect((await meili(b, `/crawls/${job.id}`)).status).toBe(404)
    expect((await meili(b, `/crawls/${job.id}`, { method: 'DELETE' })).status).toBe(404)
    expect((await meili<CrawlView>(a, `/crawls/${job.id}`)).body.status).toBe('done')
    expect((await search(b, 'mine', { q: 'herons' })).status).toBe(404)
    expect(await schedule(b)).toEqual([])
  })

  it('refuses private addresses unless the deployment opts in, without making a request', async () => {
    const who = await newTenant()
    // The job alone, its seed not handed to a frontier: this test makes the fetches itself.
    const id = crypto.randomUUID()
    const config = { index: 'private', seeds: [`${site}/a`], allow: [host], maxDepth: 1, maxPages: 10 }
    await jobStub(env, who.tenant, id).create(id, who.tenant, config, Date.now())
    const request = {
      tenant: who.tenant,
      job: id,
      index: 'private',
      url: `${site}/a`,
      depth: 0,
      kind: 'page' as const,
      etag: null,
      lastModified: null,
    }
    const before = (await siteLog()).last
    const closed = { ...env, CRAWL_ALLOW_PRIVATE_NETWORKS: undefined }
    const refused = await fetchPage(closed, request)
    expect(refused).toMatchObject({ outcome: 'failed', retryable: false, admitted: [] })
    expect(refused.reason).toBe(
      'refused: 127.0.0.1 is a loopback address; set CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl private networks',
    )
    for (const url of ['http://localhost/', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:8080/'])
      expect((await fetchPage(closed, { ...request, url })).reason).toMatch(/^refused: /)
    expect(await fetchPage(closed, { ...request, kind: 'sitemap' })).toMatchObject({ outcome: 'skipped' })
    expect(await fetchRobots(new URL(site).origin, false)).toEqual({ text: null })
    expect((await siteLog(before)).requests).toEqual([])
    expect((await search(who, 'private', { q: 'alpha' })).status).toBe(404)

    // The test deployment opts in (CRAWL_ALLOW_PRIVATE_NETWORKS=true): the same page is fetched and indexed.
    expect(await fetchPage(env, request)).toMatchObject({ outcome: 'indexed' })
    expect((await siteLog(before)).requests.map((r) => r.path)).toEqual(['/a'])
    expect(await fetchRobots(new URL(site).origin, true)).toMatchObject({
      text: expect.stringContaining('Disallow'),
    })
  })

  it('answers bad input with 400 problems and creates nothing', async () => {
    const who = await newTenant()
    const good = { index: 'x', seeds: [`${site}/`], allow: [host], maxDepth: 1, maxPages: 10 }
    const bad = [
      {},
      { ...good, seeds: [] },
      { ...good, seeds: ['ftp://example.com/'] },
      { ...good, seeds: Array.from({ length: 101 }, (_, i) => `${site}/${i}`) },
      { ...good, allow: [] },
      { ...good, allow: ['not a host/'] },
      { ...good, maxDepth: 21 },
      { ...good, maxPages: 0 },
      { ...good, maxPages: 1.5 },
      { ...good, recrawlSeconds: 1 },
      { ...good, index: 'bad index!' },
      [good],
    ]
    for (const body of bad) {
      const response = await meili(who, '/crawls', { body })
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(response.headers.get('content-type')).toContain('application/problem+json')
    }
    const text = await meili(who, '/crawls', {
      body: JSON.stringify(good),
      headers: { 'content-type': 'text/plain' },
    })
    expect(text.status).toBe(415)
    expect(await schedule(who)).toEqual([])
    expect(await runInDurableObject(hostObject(who), (_, state) => state.storage.getAlarm())).toBeNull()
    expect((await meili(who, `/crawls/${crypto.randomUUID()}`)).status).toBe(404)
    expect((await meili(who, '/crawls/not-a-uuid')).status).toBe(400)
    const reader = await newTenant(['search:read'])
    expect((await meili(reader, '/crawls', { body: good })).status).toBe(403)
  })
})

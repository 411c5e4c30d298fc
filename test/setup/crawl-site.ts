/**
 * Vitest global setup (runs in Node): a small web site on 127.0.0.1 for the crawler's
 * tests, with its own request log. Pages link to each other; robots.txt disallows
 * `/private/` and asks for a 2 s crawl delay; a sitemap lists a page nothing links to;
 * `/old` redirects to `/moved`; `/gone` is a 404; `/copy` repeats `/b` exactly and `/near` nearly; every
 * `/trap/<n>` links to `/trap/<n+1>` forever; `/flaky` fails twice, then answers. Pages
 * carry an ETag and answer 304 to a matching If-None-Match, except `/dated` (linked from
 * nowhere), which carries only a Last-Modified date and answers 304 to If-Modified-Since.
 * `GET /__log?since=<seq>` lists the requests made after `seq`: path, user agent, the
 * conditional header sent, and how many requests were in flight when it arrived.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    crawlSiteUrl: string
  }
}

const BRAVO =
  'Bravo covers volcanic glass, obsidian blades and their long history of trade across the ancient ' +
  'Mediterranean, where knappers shaped cores into razor edges and merchants carried them by sea from ' +
  'island quarries to mainland towns, leaving a trail of flakes that archaeologists still map today. ' +
  'Obsidian from each quarry has its own trace elements, so a blade found far away can be traced back ' +
  'to the island it came from, and the maps of those journeys show how far people sailed thousands of ' +
  'years before the first writing.'
const LOREM =
  'Edge computing moves work closer to users. Durable objects keep state beside the code that needs it.'

function page(title: string, body: string, links: string[], description = `About ${title}`): string {
  const anchors = links.map((href) => `<a href="${href}">${href}</a>`).join(' ')
  return `<!doctype html><html><head><title>${title}</title><meta name="description" content="${description}">
<style>.hidden { color: red }</style><script>var skipped = "script text";</script></head>
<body><h1>${title}</h1><p>${body}</p><h2>Links</h2><nav>${anchors}</nav></body></html>`
}

const PAGES: Record<string, string> = {
  '/': page('Home page', `Welcome to the crawl test site. ${LOREM}`, [
    '/a',
    'b#section',
    '/private/secret',
    '/old',
    '/trap/0',
    '/gone',
    'mailto:someone@example.com',
    'http://elsewhere.invalid/page',
  ]),
  '/a': page('Alpha', 'Alpha explains quantum lattices and their harmonics in detail.', [
    '/b?z=1&a=2',
    '/b?a=2&z=1',
    '/copy',
    '/near',
    '/flaky',
    '/',
  ]),
  '/b?a=2&z=1': page('Bravo', BRAVO, ['/a']),
  '/b': page('Bravo', BRAVO, ['/a']),
  '/copy': page('Bravo', BRAVO, ['/a']),
  '/near': page('Bravo', BRAVO.replace('today', 'now'), ['/a']),
  '/moved': page('Moved page', 'The moved page talks about migrating herons over wetlands.', []),
  '/orphan': page('Orphan', 'Only the sitemap knows the orphan page about saffron harvests.', []),
  '/private/secret': page('Secret', 'Nobody should ever read this.', []),
  '/flaky': page('Flaky', 'The flaky page about tidal turbines answers on the third try.', []),
  '/dated': page('Dated', 'The dated page keeps almanacs of lighthouse keepers.', []),
}
const DATED = 'Wed, 21 Oct 2026 07:28:00 GMT'

interface Logged {
  seq: number
  path: string
  agent: string
  conditional: string | null
  inFlight: number
}

export default async function setup(project: TestProject) {
  const log: Logged[] = []
  const flaky = new Map<string, number>()
  let origin = ''
  let inFlight = 0
  const server = createServer((request, response) => {
    const path = request.url ?? '/'
    if (path.startsWith('/__log')) {
      const since = Number(new URL(path, origin).searchParams.get('since') ?? 0)
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ last: log.length, requests: log.filter((entry) => entry.seq > since) }))
      return
    }
    inFlight++
    response.on('close', () => inFlight--)
    const conditional = request.headers['if-none-match'] ?? request.headers['if-modified-since'] ?? null
    log.push({
      seq: log.length + 1,
      path,
      agent: String(request.headers['user-agent'] ?? ''),
      conditional: typeof conditional === 'string' ? conditional : null,
      inFlight,
    })
    if (path === '/robots.txt') {
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.end(
        `User-agent: otherbot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\nCrawl-delay: 2\n\nSitemap: ${origin}/sitemap.xml\n`,
      )
      return
    }
    if (path === '/sitemap.xml') {
      response.writeHead(200, { 'content-type': 'application/xml' })
      response.end(
        `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>${origin}/orphan</loc></url><url><loc>${origin}/a</loc></url></urlset>`,
      )
      return
    }
    if (path === '/old') {
      response.writeHead(301, { location: '/moved' })
      response.end()
      return
    }
    if (path === '/flaky') {
      const key = String(request.headers['user-agent'] ?? '') + String(request.headers['x-tenant'] ?? '')
      const tries = (flaky.get(key) ?? 0) + 1
      flaky.set(key, tries)
      if (tries % 3 !== 0) {
        response.writeHead(503)
        response.end()
        return
      }
    }
    const trap = /^\/trap\/(\d+)$/.exec(path)
    const html = trap
      ? page(`Trap ${trap[1]}`, `Trap page number ${trap[1]} of an endless calendar.`, [
          `/trap/${Number(trap[1]) + 1}`,
        ])
      : PAGES[path]
    if (html === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' })
      response.end('not found')
      return
    }
    if (path === '/dated') {
      const fresh = request.headers['if-modified-since'] === DATED
      response.writeHead(fresh ? 304 : 200, { 'content-type': 'text/html', 'last-modified': DATED })
      response.end(fresh ? undefined : html)
      return
    }
    const etag = `"${Buffer.from(path).toString('hex')}"`
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, { etag })
      response.end()
      return
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag })
    response.end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  project.provide('crawlSiteUrl', origin)
  return () => new Promise<void>((resolve) => server.close(() => resolve()))
}

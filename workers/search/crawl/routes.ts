/**
 * `/v1/search/crawls`: crawl jobs of a tenant. Not part of the Meilisearch wire: the
 * platform's JSON with RFC 9457 problems. A job is created with its seeds handed to their
 * hosts' frontiers, read back with status and statistics, and cancelled by DELETE.
 */
import { Hono } from 'hono'
import { CrawlBody, CrawlParam, CrawlView } from '../../../schemas/search-crawl'
import { type AuthEnv, requireScope } from '../../platform/auth/middleware'
import { toProblemResponse } from '../../platform/errors'
import { describe } from '../../platform/openapi'
import { tenantOf } from '../../platform/tenancy'
import { validate } from '../../platform/validation'
import { distribute } from './host-object'
import { jobStub } from './job-object'

const tags = ['search']
const viewResponse = (status: 200 | 201, description: string) => ({
  [status]: { description, schema: CrawlView },
})

export const crawlRoutes = new Hono<AuthEnv>()
  .onError((error, c) => toProblemResponse(c, error))
  .post(
    '/',
    describe({
      tags,
      summary: 'Start a crawl',
      description:
        'Crawls from the seeds inside the allow-list (hosts or URL prefixes) up to `maxDepth` links and ' +
        '`maxPages` pages, politely (robots.txt, crawl delay, one request at a time per host), and adds each ' +
        'page to the index as a document with `url`, `title`, `headings`, `description` and `text`.',
      scope: 'search:write',
      responses: viewResponse(201, 'The crawl, running'),
      problems: [400],
    }),
    requireScope('search:write'),
    validate('json', CrawlBody),
    async function createCrawlRoute(c) {
      const body = c.req.valid('json')
      const tenant = tenantOf(c)
      const id = crypto.randomUUID()
      const job = jobStub(c.env, tenant, id)
      const seeds = await job.create(id, tenant, body, Date.now())
      const info = { job: id, index: body.index, recrawlSeconds: body.recrawlSeconds ?? null }
      await distribute(c.env, tenant, info, seeds)
      return c.json(await job.view(), 201)
    },
  )
  .get(
    '/:crawl',
    describe({
      tags,
      summary: 'A crawl with its status and statistics',
      scope: 'search:read',
      responses: viewResponse(200, 'The crawl'),
      problems: [404],
    }),
    requireScope('search:read'),
    validate('param', CrawlParam),
    async function getCrawlRoute(c) {
      return c.json(await jobStub(c.env, tenantOf(c), c.req.valid('param').crawl).view())
    },
  )
  .delete(
    '/:crawl',
    describe({
      tags,
      summary: 'Cancel a crawl',
      description: 'Queued URLs are dropped; pages already indexed stay in the index.',
      scope: 'search:write',
      responses: viewResponse(200, 'The crawl, cancelled'),
      problems: [404],
    }),
    requireScope('search:write'),
    validate('param', CrawlParam),
    async function cancelCrawlRoute(c) {
      return c.json(await jobStub(c.env, tenantOf(c), c.req.valid('param').crawl).cancel())
    },
  )

/**
 * `/v1/cdn`: sites (`/sites/{site}`), purges, statistics and, for testing without a
 * hostname, traffic through a site at `/sites/{site}/fetch/*` (token-authenticated; the
 * token is not forwarded). A tenant's own hostname reaches the same path through DNS
 * (`<site>.cdn.edgeblocks.internal.`).
 */
import { Hono } from 'hono'
import {
  CreateSiteRequest,
  PurgeRequest,
  PurgeResult,
  SiteList,
  SiteParam,
  SiteStats,
  SiteView,
} from '../../schemas/cdn'
import { Deleted, PageQuery } from '../../schemas/common'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { problemResponse } from '../platform/proxy'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { deleteSite, getSite, listSites, purgeSite, putSite, siteStats } from './manage'
import { serveSite } from './traffic'

const tags = ['cdn']
const FETCH_PREFIX = /^\/v1\/cdn\/sites\/[^/]+\/fetch/

export const cdnRoutes = new Hono<AuthEnv>()
  .get(
    '/sites',
    describe({
      tags,
      summary: "List the tenant's CDN sites",
      scope: 'cdn:read',
      responses: { 200: { description: 'A page of sites', schema: SiteList } },
    }),
    requireScope('cdn:read'),
    validate('query', PageQuery),
    async function listSitesRoute(c) {
      return c.json(await listSites(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/sites/:site',
    describe({
      tags,
      summary: 'Create or replace a CDN site',
      description:
        'The origin (`originUrl`, or `originBalancer`: a load balancer of the same tenant), the default TTL, ' +
        '`cacheEverything`, and the cache key (query include/exclude/sort, headers, cookies). An origin pointing ' +
        'back into the platform is refused (400).',
      scope: 'cdn:write',
      responses: {
        200: { description: 'Replaced', schema: SiteView },
        201: { description: 'Created', schema: SiteView },
      },
      problems: [409],
    }),
    requireScope('cdn:write'),
    validate('param', SiteParam),
    validate('json', CreateSiteRequest),
    async function putSiteRoute(c) {
      const host = new URL(c.req.url).host
      const { created, site } = await putSite(
        c.env,
        tenantOf(c),
        c.req.valid('param').site,
        c.req.valid('json'),
        [host],
      )
      return c.json(site, created ? 201 : 200)
    },
  )
  .get(
    '/sites/:site',
    describe({
      tags,
      summary: 'A CDN site',
      scope: 'cdn:read',
      responses: { 200: { description: 'The site', schema: SiteView } },
      problems: [404],
    }),
    requireScope('cdn:read'),
    validate('param', SiteParam),
    async function getSiteRoute(c) {
      return c.json(await getSite(c.env, tenantOf(c), c.req.valid('param').site))
    },
  )
  .delete(
    '/sites/:site',
    describe({
      tags,
      summary: 'Delete a CDN site and everything it stored',
      scope: 'cdn:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('cdn:write'),
    validate('param', SiteParam),
    async function deleteSiteRoute(c) {
      await deleteSite(c.env, tenantOf(c), c.req.valid('param').site)
      return c.json({ deleted: true })
    },
  )
  .post(
    '/sites/:site/purge',
    describe({
      tags,
      summary: 'Purge by URL, path prefix, tag, host or everything; soft (mark stale) or hard',
      description:
        'In force for every later request, at every tier, when the call returns. A soft purge marks responses ' +
        'stale, so stale-while-revalidate and stale-if-error still serve them; a hard purge removes them. ' +
        'Tags come from the `Cache-Tag` (comma-separated) and `Surrogate-Key` (space-separated) response headers.',
      scope: 'cdn:write',
      responses: { 200: { description: 'Recorded', schema: PurgeResult } },
      problems: [404],
    }),
    requireScope('cdn:write'),
    validate('param', SiteParam),
    validate('json', PurgeRequest),
    async function purgeRoute(c) {
      return c.json(await purgeSite(c.env, tenantOf(c), c.req.valid('param').site, c.req.valid('json')))
    },
  )
  .get(
    '/sites/:site/stats',
    describe({
      tags,
      summary: "A site's statistics: hit ratio, bytes from cache and origin, top keys, origin errors",
      scope: 'cdn:read',
      responses: { 200: { description: 'Statistics', schema: SiteStats } },
      problems: [404],
    }),
    requireScope('cdn:read'),
    validate('param', SiteParam),
    async function statsRoute(c) {
      return c.json(await siteStats(c.env, tenantOf(c), c.req.valid('param').site))
    },
  )
  .all(
    '/sites/:site/fetch/*',
    describe({
      tags,
      summary: 'Traffic through a CDN site (testing without a hostname)',
      description:
        'GET and HEAD are answered from the cache or the origin with `Cache-Status` (RFC 9211) and `Age`; Range ' +
        'requests get 206 or multipart/byteranges; other methods pass through and invalidate the URL.',
      scope: 'cdn:read',
      responses: { 200: { description: 'The response, from the cache or the origin' } },
      problems: [404, 502, 504],
    }),
    requireScope('cdn:read'),
    validate('param', SiteParam),
    async function fetchRoute(c) {
      const url = new URL(c.req.url)
      const path = url.pathname.replace(FETCH_PREFIX, '') || '/'
      return serveSite(
        c.req.raw,
        c.env,
        c.executionCtx as ExecutionContext,
        { tenant: tenantOf(c), name: c.req.valid('param').site },
        {
          path,
          search: url.search,
          stripAuthorization: true,
        },
      )
    },
  )

/** The hostname-routing entry: a tenant's host CNAMEd to `<site>.cdn.edgeblocks.internal.`. */
export function serveCdnHost(
  request: Request,
  env: Cloudflare.Env,
  ctx: ExecutionContext,
  target: { tenant: string; name: string },
): Promise<Response> {
  const url = new URL(request.url)
  return serveSite(request, env, ctx, target, { path: url.pathname, search: url.search }).catch((error) =>
    problemResponse(error, url.pathname),
  )
}

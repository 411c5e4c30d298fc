/**
 * `/v1/lb`: pools (`/pools/{pool}`, with their live health), load balancers
 * (`/balancers/{name}`) and, for testing without a hostname, traffic through a balancer at
 * `/{name}/proxy/*` (token-authenticated; the token is not forwarded). A tenant's own
 * hostname reaches the same traffic path through DNS (`<name>.lb.edgeblocks.internal.`).
 */
import { Hono } from 'hono'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  BalancerList,
  BalancerParam,
  BalancerView,
  CreateBalancerRequest,
  CreatePoolRequest,
  PoolHealthView,
  PoolList,
  PoolParam,
  PoolView,
} from '../../schemas/lb'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { problemResponse } from '../platform/proxy'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import {
  deleteBalancer,
  deletePool,
  getBalancer,
  getPool,
  listBalancers,
  listPools,
  poolHealth,
  putBalancer,
  putPool,
} from './manage'
import { serveBalancer } from './traffic'

const tags = ['load balancer']
const PROXY_PREFIX = /^\/v1\/lb\/[^/]+\/proxy/

export const lbRoutes = new Hono<AuthEnv>()
  .get(
    '/pools',
    describe({
      tags,
      summary: "List the tenant's pools",
      scope: 'lb:read',
      responses: { 200: { description: 'A page of pools', schema: PoolList } },
    }),
    requireScope('lb:read'),
    validate('query', PageQuery),
    async function listPoolsRoute(c) {
      return c.json(await listPools(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/pools/:pool',
    describe({
      tags,
      summary: 'Create or replace a pool',
      description:
        'Origins (URL, weight, enabled, request limit), the algorithm, an active monitor, outlier detection, ' +
        'the panic threshold and slow start. Refused (400, nothing changed) without an enabled origin of ' +
        'positive weight, or with an origin pointing back into the platform. Origins that keep their name and ' +
        'URL keep their health.',
      scope: 'lb:write',
      responses: {
        200: { description: 'Replaced', schema: PoolView },
        201: { description: 'Created', schema: PoolView },
      },
      problems: [409],
    }),
    requireScope('lb:write'),
    validate('param', PoolParam),
    validate('json', CreatePoolRequest),
    async function putPoolRoute(c) {
      const host = new URL(c.req.url).host
      const { created, pool } = await putPool(
        c.env,
        tenantOf(c),
        c.req.valid('param').pool,
        c.req.valid('json'),
        [host],
      )
      return c.json(pool, created ? 201 : 200)
    },
  )
  .get(
    '/pools/:pool',
    describe({
      tags,
      summary: 'A pool',
      scope: 'lb:read',
      responses: { 200: { description: 'The pool', schema: PoolView } },
      problems: [404],
    }),
    requireScope('lb:read'),
    validate('param', PoolParam),
    async function getPoolRoute(c) {
      return c.json(await getPool(c.env, tenantOf(c), c.req.valid('param').pool))
    },
  )
  .get(
    '/pools/:pool/health',
    describe({
      tags,
      summary: "A pool's live state",
      description:
        'Per origin: monitor health, ejection, requests in flight, latency EWMA; the pool mode; recent health events.',
      scope: 'lb:read',
      responses: { 200: { description: 'Live state', schema: PoolHealthView } },
      problems: [404],
    }),
    requireScope('lb:read'),
    validate('param', PoolParam),
    async function poolHealthRoute(c) {
      return c.json(await poolHealth(c.env, tenantOf(c), c.req.valid('param').pool))
    },
  )
  .delete(
    '/pools/:pool',
    describe({
      tags,
      summary: 'Delete a pool',
      description: 'Refused (409) while a load balancer uses it.',
      scope: 'lb:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404, 409],
    }),
    requireScope('lb:write'),
    validate('param', PoolParam),
    async function deletePoolRoute(c) {
      await deletePool(c.env, tenantOf(c), c.req.valid('param').pool)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/balancers',
    describe({
      tags,
      summary: "List the tenant's load balancers",
      scope: 'lb:read',
      responses: { 200: { description: 'A page', schema: BalancerList } },
    }),
    requireScope('lb:read'),
    validate('query', PageQuery),
    async function listBalancersRoute(c) {
      return c.json(await listBalancers(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/balancers/:name',
    describe({
      tags,
      summary: 'Create or replace a load balancer',
      description:
        'Ordered pools, a fallback pool, cookie affinity, the retry policy and budget, the per-try timeout. Pools must exist (400).',
      scope: 'lb:write',
      responses: {
        200: { description: 'Replaced', schema: BalancerView },
        201: { description: 'Created', schema: BalancerView },
      },
    }),
    requireScope('lb:write'),
    validate('param', BalancerParam),
    validate('json', CreateBalancerRequest),
    async function putBalancerRoute(c) {
      const { created, balancer } = await putBalancer(
        c.env,
        tenantOf(c),
        c.req.valid('param').name,
        c.req.valid('json'),
      )
      return c.json(balancer, created ? 201 : 200)
    },
  )
  .get(
    '/balancers/:name',
    describe({
      tags,
      summary: 'A load balancer',
      scope: 'lb:read',
      responses: { 200: { description: 'The balancer', schema: BalancerView } },
      problems: [404],
    }),
    requireScope('lb:read'),
    validate('param', BalancerParam),
    async function getBalancerRoute(c) {
      return c.json(await getBalancer(c.env, tenantOf(c), c.req.valid('param').name))
    },
  )
  .delete(
    '/balancers/:name',
    describe({
      tags,
      summary: 'Delete a load balancer',
      scope: 'lb:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('lb:write'),
    validate('param', BalancerParam),
    async function deleteBalancerRoute(c) {
      await deleteBalancer(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json({ deleted: true })
    },
  )
  .all(
    '/:name/proxy/*',
    describe({
      tags,
      summary: 'Traffic through a load balancer (testing without a hostname)',
      description:
        'Any method; the rest of the path and the query go to the chosen origin, bodies stream both ways. ' +
        '503 with Retry-After when no origin can serve, 502/504 when the last try failed.',
      scope: 'lb:read',
      responses: { 200: { description: "The origin's response, as it is" } },
      problems: [404, 502, 503, 504],
    }),
    requireScope('lb:read'),
    validate('param', BalancerParam),
    async function proxyRoute(c) {
      const url = new URL(c.req.url)
      const path = url.pathname.replace(PROXY_PREFIX, '') || '/'
      return serveBalancer(
        c.req.raw,
        c.env,
        c.executionCtx as ExecutionContext,
        { tenant: tenantOf(c), name: c.req.valid('param').name },
        {
          path,
          search: url.search,
          stripAuthorization: true,
        },
      )
    },
  )

/** The hostname-routing entry: a tenant's host CNAMEd to `<name>.lb.edgeblocks.internal.`. */
export function serveLbHost(
  request: Request,
  env: Cloudflare.Env,
  ctx: ExecutionContext,
  target: { tenant: string; name: string },
): Promise<Response> {
  const url = new URL(request.url)
  return serveBalancer(request, env, ctx, target, { path: url.pathname, search: url.search }).catch((error) =>
    problemResponse(error, url.pathname),
  )
}

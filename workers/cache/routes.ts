/**
 * The distributed cache's routes, mounted at `/v1/cache`: cache settings in the registry
 * (problem+json errors like every platform route), per-node statistics, and the Upstash
 * Redis REST endpoints (redis-routes.ts, with the wire's own errors).
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { CacheList, CacheSettings, CacheStats, CacheView } from '../../schemas/cache'
import { Deleted, NameParam, PageQuery } from '../../schemas/common'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { CACHE_KIND, type CacheConfig, configOf, forgetConfig, nodeClient, viewOf } from './config'
import { mountRedisRoutes } from './redis-routes'

const TAGS = ['cache']

async function flushNodes(
  env: AuthEnv['Bindings'],
  tenant: string,
  name: string,
  config: CacheConfig,
  from = 0,
) {
  const client = nodeClient(env, tenant, name, config)
  await Promise.all(
    Array.from({ length: config.nodes - from }, (_, i) => client.run(from + i, [['FLUSHDB']])),
  )
}

const management = new Hono<AuthEnv>()
  .get(
    '/',
    describe({
      tags: TAGS,
      summary: "List the tenant's configured caches",
      scope: 'cache:read',
      responses: { 200: { description: 'A page of caches', schema: CacheList } },
    }),
    requireScope('cache:read'),
    validate('query', PageQuery),
    async function listCaches(c) {
      const { limit, cursor } = c.req.valid('query')
      const page = await listResources<CacheConfig>(c.env, tenantOf(c), CACHE_KIND, { limit, cursor })
      return c.json({
        items: page.items.map(viewOf),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .put(
    '/:name',
    describe({
      tags: TAGS,
      summary: 'Create or change a cache (nodes, memory per node, eviction policy, persistence)',
      description:
        'Creating starts the cache empty. Changing `nodes` moves only the keys the ring reassigns; ' +
        'nodes that leave are emptied. Lowering `maxmemory` evicts at once by the policy.',
      scope: 'cache:write',
      responses: {
        200: { description: 'Changed', schema: CacheView },
        201: { description: 'Created', schema: CacheView },
      },
    }),
    requireScope('cache:write'),
    validate('param', NameParam),
    validate('json', CacheSettings),
    async function putCache(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      const settings = c.req.valid('json')
      let resource: Resource<CacheConfig>
      let status: 200 | 201 = 201
      try {
        resource = await createResource<CacheConfig>(c.env, tenant, CACHE_KIND, name, {
          ...settings,
          incarnation: Date.now(),
        })
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'conflict')) throw error
        const current = await getResource<CacheConfig>(c.env, tenant, CACHE_KIND, name)
        resource = await updateResource<CacheConfig>(
          c.env,
          tenant,
          CACHE_KIND,
          name,
          { ...settings, incarnation: current.config.incarnation },
          { ifVersion: current.version },
        )
        if (settings.nodes < current.config.nodes)
          await flushNodes(c.env, tenant, name, current.config, settings.nodes)
        status = 200
      }
      forgetConfig(tenant, name)
      return c.json(viewOf(resource), status)
    },
  )
  .get(
    '/:name',
    describe({
      tags: TAGS,
      summary: 'Get a cache’s settings',
      scope: 'cache:read',
      responses: { 200: { description: 'The cache', schema: CacheView } },
      problems: [404],
    }),
    requireScope('cache:read'),
    validate('param', NameParam),
    async function getCache(c) {
      const { name } = c.req.valid('param')
      return c.json(viewOf(await getResource<CacheConfig>(c.env, tenantOf(c), CACHE_KIND, name)))
    },
  )
  .delete(
    '/:name',
    describe({
      tags: TAGS,
      summary: 'Delete a cache and empty its nodes',
      scope: 'cache:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('cache:write'),
    validate('param', NameParam),
    async function deleteCache(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      const resource = await getResource<CacheConfig>(c.env, tenant, CACHE_KIND, name)
      await flushNodes(c.env, tenant, name, resource.config)
      await deleteResource(c.env, tenant, CACHE_KIND, name)
      forgetConfig(tenant, name)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/:name/stats',
    describe({
      tags: TAGS,
      summary: 'Per-node statistics: hits, misses, evictions, expired keys, memory, keys',
      scope: 'cache:read',
      responses: { 200: { description: 'One entry per node', schema: CacheStats } },
    }),
    requireScope('cache:read'),
    validate('param', NameParam),
    async function cacheStats(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      const config = await configOf(c.env, tenant, name)
      const client = nodeClient(c.env, tenant, name, config)
      const nodes = await Promise.all(
        Array.from({ length: config.nodes }, async (_, node) => {
          const { hits, misses, evictions, expired, keys, usedMemory, maxmemory } = await client.stats(node)
          return { node, hits, misses, evictions, expired, keys, usedMemory, maxmemory }
        }),
      )
      return c.json(v.parse(CacheStats, { nodes }))
    },
  )

export const cacheRoutes = mountRedisRoutes(management)

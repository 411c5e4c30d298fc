/**
 * `/v1/search`: a Meilisearch-compatible API (the `meilisearch` npm client works with
 * `host` = the platform + `/v1/search` and a platform token as its API key). Indexes,
 * documents (`document-routes.ts`), settings, search, multi-search and tasks; every
 * failure is a Meilisearch error (`wire.ts`).
 */
import { Hono } from 'hono'
import {
  CreateIndexBody,
  EnqueuedTask,
  IndexListQuery,
  IndexUidParam,
  MultiSearchBody,
  SearchBody,
  SearchQuery,
  TaskParam,
  TasksQuery,
  UpdateIndexBody,
} from '../../schemas/search'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { runSearch } from './coordinator'
import { crawlRoutes } from './crawl/routes'
import { documentRoutes } from './document-routes'
import { MeiliError } from './errors'
import { onLiveShards } from './growth'
import { checkIndexUid, getIndex, indexView, listIndexes, tasksStub } from './indexes'
import { settingsRoutes } from './settings-routes'
import { accepted, meiliErrorResponse } from './wire'
import { createIndexTask, deleteIndexTask, growIndexTask, updateIndexTask } from './writes'

const tags = ['search']
const taskResponse = { 202: { description: 'The task', schema: EnqueuedTask } }
const commaList = (value: string | undefined) =>
  value ? value.split(',').map((item) => item.trim()) : undefined

export const searchRoutes = new Hono<AuthEnv>()
  .onError(meiliErrorResponse)
  .get(
    '/health',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Meilisearch health',
      responses: { 200: { description: 'Available' } },
    }),
    (c) => c.json({ status: 'available' }),
  )
  .get(
    '/version',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Version',
      scope: 'search:read',
      responses: { 200: { description: 'Version' } },
    }),
    requireScope('search:read'),
    (c) => c.json({ commitSha: 'edgeblocks', commitDate: '2026-12-01T00:00:00Z', pkgVersion: '1.0.0' }),
  )
  .get(
    '/indexes',
    describe({
      wire: 'meilisearch',
      tags,
      summary: "List the tenant's indexes",
      scope: 'search:read',
      responses: { 200: { description: 'Indexes' } },
    }),
    requireScope('search:read'),
    validate('query', IndexListQuery),
    async function listIndexesRoute(c) {
      const { offset = 0, limit = 20 } = c.req.valid('query')
      const all = await listIndexes(c.env, tenantOf(c))
      return c.json({
        results: all.slice(offset, offset + limit).map(indexView),
        offset,
        limit,
        total: all.length,
      })
    },
  )
  .post(
    '/indexes',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Create an index',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('json', CreateIndexBody),
    async function createIndexRoute(c) {
      const body = c.req.valid('json')
      checkIndexUid(body.uid)
      return accepted(
        c,
        await createIndexTask(
          c.env,
          tenantOf(c),
          body.uid,
          body.primaryKey ?? null,
          body.shards ?? 1,
          body.maxShardDocuments,
        ),
      )
    },
  )
  .get(
    '/indexes/:indexUid',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Get an index',
      scope: 'search:read',
      responses: { 200: { description: 'The index' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    async function getIndexRoute(c) {
      return c.json(indexView(await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)))
    },
  )
  .patch(
    '/indexes/:indexUid',
    describe({
      wire: 'meilisearch',
      tags,
      summary: "Change an index's primary key",
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('json', UpdateIndexBody),
    async function updateIndexRoute(c) {
      const { indexUid } = c.req.valid('param')
      return accepted(c, await updateIndexTask(c.env, tenantOf(c), indexUid, c.req.valid('json').primaryKey))
    },
  )
  .delete(
    '/indexes/:indexUid',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Delete an index and its documents',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    async function deleteIndexRoute(c) {
      return accepted(c, await deleteIndexTask(c.env, tenantOf(c), c.req.valid('param').indexUid))
    },
  )
  .get(
    '/indexes/:indexUid/stats',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Index statistics',
      scope: 'search:read',
      responses: { 200: { description: 'Stats' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    async function indexStatsRoute(c) {
      const index = await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)
      const live = await onLiveShards(c.env, tenantOf(c), index, (shard) => shard.stats())
      const parts = live.map(({ result }) => result)
      const fieldDistribution: Record<string, number> = {}
      for (const part of parts) {
        for (const [field, count] of Object.entries(part.fieldDistribution)) {
          fieldDistribution[field] = (fieldDistribution[field] ?? 0) + count
        }
      }
      return c.json({
        numberOfDocuments: parts.reduce((sum, part) => sum + part.numberOfDocuments, 0),
        isIndexing: false,
        fieldDistribution,
        numberOfShards: live.length,
        maxShardDocuments: index.config.maxShardDocuments ?? null,
      })
    },
  )
  .post(
    '/indexes/:indexUid/split',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Double the shard count of an index now (extension)',
      description:
        'Indexes also grow on their own when a shard holds more than `maxShardDocuments`. Searches and writes go on during the move; the task (`indexSplit`) reports the shard counts and how many documents moved.',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    async function splitIndexRoute(c) {
      return accepted(c, await growIndexTask(c.env, tenantOf(c), c.req.valid('param').indexUid))
    },
  )
  .post(
    '/indexes/:indexUid/search',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Search an index',
      scope: 'search:read',
      responses: { 200: { description: 'Hits' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    validate('json', SearchBody),
    async function searchRoute(c) {
      const index = await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)
      return c.json(await runSearch(c.env, tenantOf(c), index, c.req.valid('json')))
    },
  )
  .get(
    '/indexes/:indexUid/search',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Search an index (query parameters)',
      description: 'The parameters of `POST …/search` as query parameters; lists are comma-separated.',
      scope: 'search:read',
      responses: { 200: { description: 'Hits' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    validate('query', SearchQuery),
    async function searchQueryRoute(c) {
      const index = await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)
      return c.json(await runSearch(c.env, tenantOf(c), index, c.req.valid('query')))
    },
  )
  .post(
    '/multi-search',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Several searches in one request',
      scope: 'search:read',
      responses: { 200: { description: 'One result per query' } },
    }),
    requireScope('search:read'),
    validate('json', MultiSearchBody),
    async function multiSearchRoute(c) {
      const tenant = tenantOf(c)
      const results = await Promise.all(
        c.req.valid('json').queries.map(async ({ indexUid, ...params }, i) => {
          try {
            const index = await getIndex(c.env, tenant, indexUid)
            return { indexUid, ...(await runSearch(c.env, tenant, index, params)) }
          } catch (error) {
            if (error instanceof MeiliError)
              throw new MeiliError(error.code, `Inside \`.queries[${i}]\`: ${error.detail}`)
            throw error
          }
        }),
      )
      return c.json({ results })
    },
  )
  .get(
    '/tasks',
    describe({
      wire: 'meilisearch',
      tags,
      summary: "The tenant's tasks, newest first",
      scope: 'search:read',
      responses: { 200: { description: 'Tasks' } },
    }),
    requireScope('search:read'),
    validate('query', TasksQuery),
    async function listTasksRoute(c) {
      const query = c.req.valid('query')
      return c.json(
        await tasksStub(c.env, tenantOf(c)).list({
          limit: query.limit ?? 20,
          from: query.from,
          indexUids: commaList(query.indexUids),
          statuses: commaList(query.statuses),
          types: commaList(query.types),
        }),
      )
    },
  )
  .get(
    '/tasks/:taskUid',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'One task',
      scope: 'search:read',
      responses: { 200: { description: 'The task' } },
    }),
    requireScope('search:read'),
    validate('param', TaskParam),
    async function getTaskRoute(c) {
      const uid = Number(c.req.valid('param').taskUid)
      const task = await tasksStub(c.env, tenantOf(c)).get(uid)
      if (!task) throw new MeiliError('task_not_found', `Task \`${uid}\` not found.`)
      return c.json(task)
    },
  )
  .route('/indexes', documentRoutes)
  .route('/indexes', settingsRoutes)
  .route('/crawls', crawlRoutes)

/**
 * `/v1/search/indexes/{indexUid}/documents…`: add or replace (POST), add or update (PUT),
 * fetch one or many (GET, POST …/fetch), delete one, a batch, by filter, or all.
 */
import { type Context, Hono } from 'hono'
import {
  DeleteBatchBody,
  DeleteByFilterBody,
  DocumentParam,
  DocumentsFetchBody,
  DocumentsQuery,
  DocumentWriteQuery,
  EnqueuedTask,
  IndexUidParam,
} from '../../schemas/search'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import type { Env } from '../platform/env'
import { shardFor } from '../platform/hashing'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { MeiliError } from './errors'
import { onLiveShards } from './growth'
import { getIndex, shardStub } from './indexes'
import { documentId, MAX_DOCUMENTS_PER_BATCH } from './logic/documents'
import { pick } from './logic/fields'
import type { FilterInput } from './logic/filter-parse'
import { compareIds } from './logic/order'
import { checkedFilter } from './logic/request'
import { accepted, readDocuments } from './wire'
import { addDocuments, checkDocumentSizes, clearDocuments, deleteByFilter, deleteDocuments } from './writes'

const tags = ['search']
const taskResponse = { 202: { description: 'The task', schema: EnqueuedTask } }

async function fetchDocuments(
  env: Env,
  tenant: string,
  uid: string,
  page: {
    offset?: number | undefined
    limit?: number | undefined
    fields?: string[] | null | undefined
    filter?: FilterInput | null | undefined
  },
) {
  const options = {
    offset: page.offset ?? 0,
    limit: page.limit ?? 20,
    fields: page.fields ?? undefined,
    filter: page.filter,
  }
  const index = await getIndex(env, tenant, uid)
  const filter = checkedFilter(options.filter, index.config.settings, 'invalid_document_filter')
  const parts = (
    await onLiveShards(env, tenant, index, (shard) => shard.list(options.offset + options.limit, filter))
  ).map(({ result }) => result)
  const documents = parts.flatMap((part) => part.documents).sort((a, b) => compareIds(a.id, b.id))
  const displayed = index.config.settings.displayedAttributes
  return {
    results: documents
      .slice(options.offset, options.offset + options.limit)
      .map(({ body }) => pick(pick(body, displayed), options.fields ?? ['*'])),
    offset: options.offset,
    limit: options.limit,
    total: parts.reduce((sum, part) => sum + part.total, 0),
  }
}

function writeRoute(mode: 'replace' | 'update') {
  return async function writeDocumentsRoute(c: Context<AuthEnv>) {
    const indexUid = c.req.param('indexUid') ?? ''
    const documents = await readDocuments(c)
    if (documents.length > MAX_DOCUMENTS_PER_BATCH) {
      throw new MeiliError(
        'payload_too_large',
        `A batch holds at most ${MAX_DOCUMENTS_PER_BATCH} documents; this one has ${documents.length}.`,
      )
    }
    checkDocumentSizes(documents)
    const primaryKey = c.req.query('primaryKey')
    return accepted(
      c,
      await addDocuments(c.env, tenantOf(c), indexUid, documents, mode, primaryKey || undefined),
    )
  }
}

export const documentRoutes = new Hono<AuthEnv>()
  .get(
    '/:indexUid/documents',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'List documents',
      scope: 'search:read',
      responses: { 200: { description: 'A page of documents' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    validate('query', DocumentsQuery),
    async function listDocumentsRoute(c) {
      const query = c.req.valid('query')
      return c.json(
        await fetchDocuments(c.env, tenantOf(c), c.req.valid('param').indexUid, {
          ...query,
          fields: query.fields?.split(',').map((f) => f.trim()),
        }),
      )
    },
  )
  .post(
    '/:indexUid/documents/fetch',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Fetch documents by filter',
      scope: 'search:read',
      responses: { 200: { description: 'A page of documents' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    validate('json', DocumentsFetchBody),
    async function fetchDocumentsRoute(c) {
      const body = c.req.valid('json')
      return c.json(await fetchDocuments(c.env, tenantOf(c), c.req.valid('param').indexUid, body))
    },
  )
  .post(
    '/:indexUid/documents',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Add or replace documents (JSON, NDJSON or CSV; ≤ 10,000 documents, ≤ 10 MiB)',
      scope: 'search:write',
      responses: taskResponse,
      problems: [413, 415],
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('query', DocumentWriteQuery),
    writeRoute('replace'),
  )
  .put(
    '/:indexUid/documents',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Add or update documents (partial updates)',
      scope: 'search:write',
      responses: taskResponse,
      problems: [413, 415],
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('query', DocumentWriteQuery),
    writeRoute('update'),
  )
  .delete(
    '/:indexUid/documents',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Delete every document',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    async function clearDocumentsRoute(c) {
      return accepted(c, await clearDocuments(c.env, tenantOf(c), c.req.valid('param').indexUid))
    },
  )
  .post(
    '/:indexUid/documents/delete-batch',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Delete documents by id',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('json', DeleteBatchBody),
    async function deleteBatchRoute(c) {
      return accepted(
        c,
        await deleteDocuments(c.env, tenantOf(c), c.req.valid('param').indexUid, c.req.valid('json')),
      )
    },
  )
  .post(
    '/:indexUid/documents/delete',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Delete documents by filter',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('json', DeleteByFilterBody),
    async function deleteByFilterRoute(c) {
      return accepted(
        c,
        await deleteByFilter(c.env, tenantOf(c), c.req.valid('param').indexUid, c.req.valid('json').filter),
      )
    },
  )
  .get(
    '/:indexUid/documents/:documentId',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Get one document',
      scope: 'search:read',
      responses: { 200: { description: 'The document' } },
    }),
    requireScope('search:read'),
    validate('param', DocumentParam),
    async function getDocumentRoute(c) {
      const { indexUid, documentId: raw } = c.req.valid('param')
      const index = await getIndex(c.env, tenantOf(c), indexUid)
      const id = documentId(raw)
      // A shard that has split since the index row was read names the count to look again with.
      let count = index.config.shards
      let found = await shardStub(c.env, tenantOf(c), indexUid, shardFor(id, count)).get(id)
      while (found.layout !== null && found.layout > count) {
        count = found.layout
        found = await shardStub(c.env, tenantOf(c), indexUid, shardFor(id, count)).get(id)
      }
      const { document } = found
      if (!document) throw new MeiliError('document_not_found', `Document \`${id}\` not found.`)
      const fields = c.req.query('fields')
      const shown = pick(document, index.config.settings.displayedAttributes)
      return c.json(
        fields
          ? pick(
              shown,
              fields.split(',').map((f) => f.trim()),
            )
          : shown,
      )
    },
  )
  .delete(
    '/:indexUid/documents/:documentId',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Delete one document',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', DocumentParam),
    async function deleteDocumentRoute(c) {
      const { indexUid, documentId: raw } = c.req.valid('param')
      return accepted(c, await deleteDocuments(c.env, tenantOf(c), indexUid, [raw]))
    },
  )

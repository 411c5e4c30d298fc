/**
 * `/v1/kv`: namespaces (`/v1/kv/namespaces/{namespace}`) and their keys
 * (`…/values/{key}`: GET, PUT, DELETE with a consistency level per request), listings,
 * bulk writes, anti-entropy, the changefeed and the storage nodes' health.
 */
import { Hono } from 'hono'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  CreateNamespaceRequest,
  KeyParam,
  NamespaceList,
  NamespaceParam,
  NamespaceView,
  ReadQuery,
  RebalanceRequest,
  SiblingsView,
  WriteHeaders,
  WriteQuery,
  WriteResult,
} from '../../schemas/kv'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { bytesToBase64 } from '../platform/encoding'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { expiryOf, getKey, parseContext, putKey, tombstone } from './api'
import { bulkRoutes } from './bulk-routes'
import {
  beginRebalance,
  createNamespace,
  deleteNamespace,
  getNamespace,
  listNamespaces,
  namespaceResource,
} from './namespaces'
import { encodeContext } from './versions'

const tags = ['kv']

function writeView(result: Awaited<ReturnType<typeof putKey>>) {
  return {
    version: result.version.id,
    context: encodeContext({ ...result.version.context, [result.version.node]: result.version.counter }),
    acks: result.acks,
    siblings: result.survivors.filter((version) => !version.deleted).length,
  }
}

async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  const tooLarge = () =>
    new AppError('payload_too_large', `The value is over this namespace's ${limit}-byte limit.`, {
      errors: [{ path: 'body', message: `At most ${limit} bytes` }],
    })
  if (declared > limit) throw tooLarge()
  const bytes = new Uint8Array(await request.arrayBuffer())
  if (bytes.length > limit) throw tooLarge()
  return bytes
}

export const kvRoutes = new Hono<AuthEnv>()
  .get(
    '/namespaces',
    describe({
      tags,
      summary: "List the tenant's namespaces",
      scope: 'kv:read',
      responses: { 200: { description: 'A page of namespaces', schema: NamespaceList } },
    }),
    requireScope('kv:read'),
    validate('query', PageQuery),
    async function listNamespacesRoute(c) {
      return c.json(await listNamespaces(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/namespaces/:namespace',
    describe({
      tags,
      summary: 'Create a namespace',
      description:
        'N (`replicas`) ≤ the storage nodes, 1 ≤ R, W ≤ N. `conflict`: `siblings` (vector clocks; concurrent ' +
        'writes are all kept until a write with their merged context resolves them) or `lww`.',
      scope: 'kv:write',
      responses: { 201: { description: 'Created', schema: NamespaceView } },
      problems: [409],
    }),
    requireScope('kv:write'),
    validate('param', NamespaceParam),
    validate('json', CreateNamespaceRequest),
    async function createNamespaceRoute(c) {
      const { namespace } = c.req.valid('param')
      return c.json(await createNamespace(c.env, tenantOf(c), namespace, c.req.valid('json')), 201)
    },
  )
  .get(
    '/namespaces/:namespace',
    describe({
      tags,
      summary: "A namespace's settings",
      scope: 'kv:read',
      responses: { 200: { description: 'The namespace', schema: NamespaceView } },
      problems: [404],
    }),
    requireScope('kv:read'),
    validate('param', NamespaceParam),
    async function getNamespaceRoute(c) {
      return c.json(await namespaceResource(c.env, tenantOf(c), c.req.valid('param').namespace))
    },
  )
  .delete(
    '/namespaces/:namespace',
    describe({
      tags,
      summary: 'Delete a namespace',
      description: 'Its keys become unreachable at once (a new namespace of the same name starts empty).',
      scope: 'kv:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('kv:write'),
    validate('param', NamespaceParam),
    async function deleteNamespaceRoute(c) {
      await deleteNamespace(c.env, tenantOf(c), c.req.valid('param').namespace)
      return c.json({ deleted: true })
    },
  )
  .post(
    '/namespaces/:namespace/rebalance',
    describe({
      tags,
      summary: 'Move the namespace to a new ring of storage nodes',
      description:
        'Writes reach both rings at once; after every isolate has seen that (~6 s) the maintenance alarm ' +
        'copies the keys whose homes change (only those) to their new homes, then switches reads to the new ' +
        'ring. `ring.next` is set until the switch. 409 while a rebalance is under way.',
      scope: 'kv:write',
      responses: { 202: { description: 'The rebalance is under way', schema: NamespaceView } },
      problems: [404, 409],
    }),
    requireScope('kv:write'),
    validate('param', NamespaceParam),
    validate('json', RebalanceRequest),
    async function rebalanceRoute(c) {
      const { namespace } = c.req.valid('param')
      return c.json(await beginRebalance(c.env, tenantOf(c), namespace, c.req.valid('json').members), 202)
    },
  )
  .get(
    '/namespaces/:namespace/values/:key{.+}',
    describe({
      tags,
      summary: 'Read a key',
      description:
        'One value: 200 with the bytes, `ETag`, `X-KV-Context` (send it back when writing), `X-KV-Metadata`. ' +
        'Concurrent versions: 300 with every sibling and their merged context. Absent: 404 (with the context ' +
        'of any tombstone). `consistency`: eventual (R=1), quorum (R), strong (through the key range leader).',
      scope: 'kv:read',
      responses: {
        200: { description: 'The value', mediaType: 'application/octet-stream' },
        300: { description: 'Siblings', schema: SiblingsView },
      },
      problems: [404, 503],
    }),
    requireScope('kv:read'),
    validate('param', KeyParam),
    validate('query', ReadQuery),
    async function getValueRoute(c) {
      const { namespace: name, key } = c.req.valid('param')
      const namespace = await getNamespace(c.env, tenantOf(c), name)
      const result = await getKey(c.env, namespace, key, c.req.valid('query').consistency, (work) =>
        c.executionCtx.waitUntil(work),
      )
      const context = encodeContext(result.context)
      c.header('x-kv-context', context)
      if (result.versions.length === 0) throw new AppError('not_found', `No key "${key}".`)
      if (result.versions.length > 1) {
        return c.json(
          {
            context,
            siblings: result.versions.map((version) => ({
              value: bytesToBase64(version.value ?? new Uint8Array()),
              contentType: version.contentType,
              metadata: version.metadata === null ? null : JSON.parse(version.metadata),
              expiresAt: version.expiresAt,
            })),
          },
          300,
        )
      }
      const [version] = result.versions
      if (!version) throw new AppError('not_found', `No key "${key}".`)
      if (result.etag) c.header('etag', result.etag)
      if (version.metadata !== null) c.header('x-kv-metadata', version.metadata)
      if (version.expiresAt !== null) c.header('x-kv-expires-at', String(version.expiresAt))
      c.header('content-type', version.contentType)
      return c.body((version.value ?? new Uint8Array()).slice(), 200)
    },
  )
  .put(
    '/namespaces/:namespace/values/:key{.+}',
    describe({
      tags,
      summary: 'Write a key',
      description:
        'The body is the value (any bytes; its Content-Type is kept). Send `X-KV-Context` from your read to ' +
        'supersede what you read; without it the write is concurrent with what is there (siblings, or LWW). ' +
        '`If-None-Match: *` creates only; `If-Match: <etag>` replaces only that state (atomic in strong mode).',
      scope: 'kv:write',
      responses: { 200: { description: 'Stored on ≥ W replicas', schema: WriteResult } },
      problems: [404, 412, 413, 503],
    }),
    requireScope('kv:write'),
    validate('param', KeyParam),
    validate('query', WriteQuery),
    validate('header', WriteHeaders),
    async function putValueRoute(c) {
      const { namespace: name, key } = c.req.valid('param')
      const query = c.req.valid('query')
      const headers = c.req.valid('header')
      const context = parseContext(headers['x-kv-context'])
      const namespace = await getNamespace(c.env, tenantOf(c), name)
      const value = await readBody(c.req.raw, namespace.config.maxValueBytes)
      const now = Date.now()
      const result = await putKey(
        c.env,
        namespace,
        key,
        {
          deleted: false,
          value,
          contentType: c.req.header('content-type') ?? 'application/octet-stream',
          metadata: headers['x-kv-metadata'] ?? null,
          expiresAt: expiryOf(namespace, query.ttl, now),
          context,
          ifMatch: headers['if-match'],
          ifNoneMatch: headers['if-none-match'] === '*',
        },
        query.consistency,
        (work) => c.executionCtx.waitUntil(work),
      )
      return c.json(writeView(result))
    },
  )
  .delete(
    '/namespaces/:namespace/values/:key{.+}',
    describe({
      tags,
      summary: 'Delete a key (a tombstone)',
      description:
        'Writes a tombstone that supersedes the versions in `X-KV-Context`, or, without one, every version a ' +
        'read at the same level sees. Tombstones are purged after the namespace grace period.',
      scope: 'kv:write',
      responses: { 200: { description: 'Tombstone stored on ≥ W replicas', schema: WriteResult } },
      problems: [404, 412, 503],
    }),
    requireScope('kv:write'),
    validate('param', KeyParam),
    validate('query', ReadQuery),
    validate('header', WriteHeaders),
    async function deleteValueRoute(c) {
      const { namespace: name, key } = c.req.valid('param')
      const headers = c.req.valid('header')
      const context = parseContext(headers['x-kv-context'])
      const namespace = await getNamespace(c.env, tenantOf(c), name)
      const result = await putKey(
        c.env,
        namespace,
        key,
        tombstone(context, headers['if-match']),
        c.req.valid('query').consistency,
        (work) => c.executionCtx.waitUntil(work),
      )
      return c.json(writeView(result))
    },
  )
  .route('/', bulkRoutes)

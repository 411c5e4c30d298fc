/**
 * `/v1/kv` collection routes: bulk writes, listings by prefix, anti-entropy, the changefeed
 * and the storage nodes.
 */
import { Hono } from 'hono'
import {
  AntiEntropyResult,
  BulkRequest,
  BulkResult,
  FeedHeaders,
  FeedQuery,
  KeyList,
  ListQuery,
  NamespaceParam,
} from '../../schemas/kv'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError, asAppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { probe, storageNodes } from '../platform/storage-nodes'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { expiryOf, putKey, tombstone } from './api'
import { cursorPosition, type KeyVersions, mergePages, requireSomeNode } from './listing'
import { getNamespace } from './namespaces'
import { listVersions } from './replica-ranges'
import { connect, feedStub, maintenanceStub } from './service'

const tags = ['kv']
const BULK_CONCURRENCY = 16
const encoder = new TextEncoder()

async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += size)
    results.push(...(await Promise.all(items.slice(i, i + size).map(work))))
  return results
}

export const bulkRoutes = new Hono<AuthEnv>()
  .post(
    '/namespaces/:namespace/bulk',
    describe({
      tags,
      summary: 'Write and delete up to 1,000 keys',
      description:
        'Each key is its own quorum write (not one transaction): the result lists each key. Values are JSON ' +
        '(stored as application/json). Any invalid entry rejects the whole request (400) before anything is written.',
      scope: 'kv:write',
      responses: { 200: { description: 'One result per key', schema: BulkResult } },
      problems: [404, 413],
    }),
    requireScope('kv:write'),
    validate('param', NamespaceParam),
    validate('json', BulkRequest),
    async function bulkRoute(c) {
      const namespace = await getNamespace(c.env, tenantOf(c), c.req.valid('param').namespace)
      const body = c.req.valid('json')
      const now = Date.now()
      const puts = body.put.map((entry, index) => {
        const value = encoder.encode(JSON.stringify(entry.value ?? null))
        const metadata = entry.metadata === undefined ? null : JSON.stringify(entry.metadata)
        if (value.length > namespace.config.maxValueBytes)
          throw new AppError('payload_too_large', `Entry ${index} is over the value size limit.`, {
            errors: [
              { path: `body/put/${index}/value`, message: `At most ${namespace.config.maxValueBytes} bytes` },
            ],
          })
        if (metadata !== null && metadata.length > 1024)
          throw new AppError('validation_failed', `Entry ${index} has metadata over 1024 bytes.`, {
            errors: [{ path: `body/put/${index}/metadata`, message: 'At most 1024 bytes of JSON' }],
          })
        return { key: entry.key, value, metadata, expiresAt: expiryOf(namespace, entry.ttlSeconds, now) }
      })
      const defer = (work: Promise<unknown>) => c.executionCtx.waitUntil(work)
      const run = async (op: 'put' | 'delete', key: string, work: () => Promise<unknown>) => {
        try {
          await work()
          return { key, op, ok: true }
        } catch (error) {
          return { key, op, ok: false, error: asAppError(error).message }
        }
      }
      const results = await inBatches(
        [
          ...puts.map(
            (entry) => () =>
              run('put', entry.key, () =>
                putKey(
                  c.env,
                  namespace,
                  entry.key,
                  {
                    deleted: false,
                    value: entry.value,
                    contentType: 'application/json',
                    metadata: entry.metadata,
                    expiresAt: entry.expiresAt,
                    context: undefined,
                  },
                  'quorum',
                  defer,
                ),
              ),
          ),
          ...body.delete.map(
            (key) => () =>
              run('delete', key, () => putKey(c.env, namespace, key, tombstone(undefined), 'quorum', defer)),
          ),
        ],
        BULK_CONCURRENCY,
        (task) => task(),
      )
      return c.json({ results })
    },
  )
  .get(
    '/namespaces/:namespace/keys',
    describe({
      tags,
      summary: 'List keys by prefix',
      description:
        'Keys in byte order, merged across every storage node, with their visible siblings count and metadata. ' +
        'Eventually consistent; a page may hold fewer than `limit` keys; follow `nextCursor`.',
      scope: 'kv:read',
      responses: { 200: { description: 'A page of keys', schema: KeyList } },
      problems: [404, 503],
    }),
    requireScope('kv:read'),
    validate('param', NamespaceParam),
    validate('query', ListQuery),
    async function listKeysRoute(c) {
      const namespace = await getNamespace(c.env, tenantOf(c), c.req.valid('param').namespace)
      const { prefix, limit, cursor } = c.req.valid('query')
      const after = cursorPosition(cursor)
      const pages: KeyVersions[][] = []
      await Promise.all(
        storageNodes(c.env).map(async (node) => {
          try {
            pages.push(await listVersions(await connect(c.env, node.id), namespace.ns, prefix, after, limit))
          } catch {
            // skipped: see listing.ts
          }
        }),
      )
      requireSomeNode(pages.length)
      const page = mergePages(pages, limit, namespace.config.conflict, Date.now())
      return c.json({
        items: page.items.map((item) => ({
          key: item.key,
          siblings: item.versions.length,
          metadata: item.versions.map((version) =>
            version.metadata === null ? null : JSON.parse(version.metadata),
          ),
        })),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .post(
    '/namespaces/:namespace/anti-entropy',
    describe({
      tags,
      summary: "Run the namespace's anti-entropy now",
      description:
        'Compares the Merkle trees of every storage node, copies the versions of the differing buckets to ' +
        'the replicas that lack them, and purges tombstones past the grace period (only when every node ' +
        'answered). It also runs every 10 minutes on its own.',
      scope: 'kv:write',
      responses: { 200: { description: 'What the run compared and copied', schema: AntiEntropyResult } },
      problems: [404],
    }),
    requireScope('kv:write'),
    validate('param', NamespaceParam),
    async function antiEntropyRoute(c) {
      const tenant = tenantOf(c)
      const namespace = await getNamespace(c.env, tenant, c.req.valid('param').namespace)
      const stats = await maintenanceStub(c.env, tenant, namespace.name).run()
      if (!stats) throw new AppError('not_found', `No namespace "${namespace.name}".`)
      return c.json(stats)
    },
  )
  .get(
    '/namespaces/:namespace/changes',
    describe({
      tags,
      summary: "The namespace's changefeed (WebSocket or Server-Sent Events)",
      description:
        'Every acknowledged write and delete, in order: frames `{ seq, key, version, deleted, at }`. With ' +
        '`Upgrade: websocket` a WebSocket, otherwise `text/event-stream` with `id: <seq>`. Resume with ' +
        '`?after=<seq>` or `Last-Event-ID` (the last 10,000 changes are kept); without, new changes only.',
      scope: 'kv:read',
      responses: {
        101: { description: 'WebSocket' },
        200: { description: 'Server-Sent Events', mediaType: 'text/event-stream' },
      },
      problems: [404],
    }),
    requireScope('kv:read'),
    validate('param', NamespaceParam),
    validate('query', FeedQuery),
    validate('header', FeedHeaders),
    async function changesRoute(c) {
      const tenant = tenantOf(c)
      const namespace = await getNamespace(c.env, tenant, c.req.valid('param').namespace)
      const after = c.req.valid('query').after ?? c.req.valid('header')['last-event-id']
      const url = new URL('https://kv-feed.internal/stream')
      if (after !== undefined) url.searchParams.set('after', after)
      if (c.req.header('upgrade')?.toLowerCase() === 'websocket')
        url.searchParams.set('transport', 'websocket')
      return feedStub(c.env, tenant, namespace.name).fetch(new Request(url, { headers: c.req.raw.headers }))
    },
  )
  .get(
    '/nodes',
    describe({
      tags,
      summary: 'The storage nodes and whether they answer now',
      scope: 'kv:read',
      responses: { 200: { description: 'Each node with a health probe result' } },
    }),
    requireScope('kv:read'),
    async function nodesRoute(c) {
      const nodes = storageNodes(c.env)
      const healthy = await Promise.all(nodes.map((node) => probe(node)))
      return c.json({ items: nodes.map((node, i) => ({ id: node.id, healthy: healthy[i] })) })
    },
  )

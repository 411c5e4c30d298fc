/**
 * `/v1/blob`: the blob store's management API (access keys for S3 and SQS, the tenant's
 * buckets). The S3 API itself enters the Worker before this app (s3-entry.ts).
 */
import { Hono } from 'hono'
import {
  AccessKeyList,
  AccessKeyParam,
  BucketList,
  CreateAccessKeyRequest,
  CreatedAccessKey,
} from '../../schemas/blob'
import { Deleted, PageQuery } from '../../schemas/common'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { listResources } from '../platform/registry'
import { createAccessKey, listAccessKeys, revokeAccessKey } from '../platform/sigv4/keys'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { BLOB_KIND } from './s3-context'

const tags = ['blob']

export const blobRoutes = new Hono<AuthEnv>()
  .post(
    '/keys',
    describe({
      tags,
      summary: 'Create an access key for the S3 and SQS APIs',
      description:
        'Returns the access key id and its secret; the secret is shown only in this response. ' +
        'Scope it to read or read-write and, optionally, to named buckets and queues.',
      scope: 'blob:write',
      responses: { 201: { description: 'The new key and its secret', schema: CreatedAccessKey } },
    }),
    requireScope('blob:write'),
    validate('json', CreateAccessKeyRequest),
    async function createKeyRoute(c) {
      return c.json(await createAccessKey(c.env, tenantOf(c), c.req.valid('json')), 201)
    },
  )
  .get(
    '/keys',
    describe({
      tags,
      summary: "List the tenant's access keys (without secrets)",
      scope: 'blob:read',
      responses: { 200: { description: 'A page of keys', schema: AccessKeyList } },
    }),
    requireScope('blob:read'),
    validate('query', PageQuery),
    async function listKeysRoute(c) {
      return c.json(await listAccessKeys(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .delete(
    '/keys/:accessKeyId',
    describe({
      tags,
      summary: 'Revoke an access key',
      description: 'Requests signed with it fail within the revocation cache period (5 s by default).',
      scope: 'blob:write',
      responses: { 200: { description: 'Revoked', schema: Deleted } },
      problems: [404],
    }),
    requireScope('blob:write'),
    validate('param', AccessKeyParam),
    async function revokeKeyRoute(c) {
      await revokeAccessKey(c.env, tenantOf(c), c.req.valid('param').accessKeyId)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/buckets',
    describe({
      tags,
      summary: "List the tenant's buckets",
      scope: 'blob:read',
      responses: { 200: { description: 'A page of buckets, by name', schema: BucketList } },
    }),
    requireScope('blob:read'),
    validate('query', PageQuery),
    async function listBucketsRoute(c) {
      const page = await listResources<{ createdAt: number }>(
        c.env,
        tenantOf(c),
        BLOB_KIND,
        c.req.valid('query'),
      )
      return c.json({
        ...page,
        items: page.items.map((item) => ({ name: item.name, createdAt: item.createdAt })),
      })
    },
  )

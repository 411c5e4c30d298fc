/**
 * The scheduler's routes, mounted at `/v1/scheduler`: one-off tasks (create with
 * `Idempotency-Key`, list across shards, get with history, cancel, retry a failed one),
 * the tenant's limits and signing secret, and the recurring schedules (routes-schedules.ts).
 */

import { Hono } from 'hono'
import * as v from 'valibot'
import { IdempotencyHeaders } from '../../schemas/common'
import {
  CreateTaskRequest,
  LimitsRequest,
  SCHEDULER_LIMITS,
  TaskIdParam,
  TaskListQuery,
} from '../../schemas/scheduler'
import { LimitsResponse, SigningSecret, TaskList, TaskResponse } from '../../schemas/scheduler-responses'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { decodeCursor, encodeCursor } from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { shardStub, tenantStub } from './object'
import { checkTarget, requestHash } from './route-helpers'
import { scheduleRoutes } from './routes-schedules'
import { newTaskId, SHARD_COUNT, shardOfIdempotencyKey, shardOfTask } from './tasks'

const tags = ['scheduler']
const Position = v.tuple([v.number(), v.string()])

export const schedulerRoutes = new Hono<AuthEnv>()
  .post(
    '/tasks',
    describe({
      tags,
      summary: 'Create a one-off task (at a time, after a delay, or now)',
      description:
        'With `Idempotency-Key`, repeating the same request returns the same task (header `Idempotent-Replayed: true`); ' +
        'the same key with a different body is 422. Keys are kept 24 h.',
      scope: 'scheduler:write',
      responses: { 201: { description: 'The task', schema: TaskResponse } },
      problems: [409, 422],
    }),
    requireScope('scheduler:write'),
    validate('header', IdempotencyHeaders),
    validate('json', CreateTaskRequest),
    async function createTask(c) {
      const tenant = tenantOf(c)
      const input = c.req.valid('json')
      const key = c.req.valid('header')['idempotency-key']
      checkTarget(c.env, input.target)
      const now = Date.now()
      const runAt =
        input.runAt !== undefined ? Date.parse(input.runAt) : now + (input.delaySeconds ?? 0) * 1000
      if (runAt > now + SCHEDULER_LIMITS.maxDelaySeconds * 1000) {
        throw new AppError('validation_failed', 'The task is too far ahead.', {
          errors: [{ path: 'body/runAt', message: `At most ${SCHEDULER_LIMITS.maxDelaySeconds} s ahead` }],
        })
      }
      const id = newTaskId(key === undefined ? undefined : shardOfIdempotencyKey(tenant, key))
      const shard = shardOfTask(id)
      const created = await shardStub(c.env, shard).createTask(
        shard,
        {
          id,
          tenant,
          target: input.target,
          priority: input.priority,
          runAt: Math.max(runAt, now),
          retry: input.retry,
          timeoutMs: input.timeoutMs,
        },
        key === undefined ? undefined : { key, requestHash: await requestHash(input) },
        input.runAt !== undefined ? runAt : undefined,
      )
      if (created.replayed) c.header('Idempotent-Replayed', 'true')
      return c.json(created.task, 201)
    },
  )
  .get(
    '/tasks',
    describe({
      tags,
      summary: "List the tenant's tasks, oldest first (filter by status, e.g. the failed list)",
      scope: 'scheduler:read',
      responses: { 200: { description: 'A page of tasks', schema: TaskList } },
    }),
    requireScope('scheduler:read'),
    validate('query', TaskListQuery),
    async function listTasks(c) {
      const tenant = tenantOf(c)
      const { status, limit, cursor } = c.req.valid('query')
      let after: { createdAt: number; id: string } | undefined
      if (cursor !== undefined) {
        const position = v.safeParse(Position, safeJson(decodeCursor(cursor)))
        if (!position.success) {
          throw new AppError('validation_failed', 'The cursor is not one this API issued.', {
            errors: [{ path: 'query/cursor', message: 'Invalid cursor' }],
          })
        }
        after = { createdAt: position.output[0], id: position.output[1] }
      }
      const pages = await Promise.all(
        Array.from({ length: SHARD_COUNT }, (_, shard) =>
          shardStub(c.env, shard).listTasks(tenant, status, after, limit + 1),
        ),
      )
      const merged = pages.flat().sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
      const items = merged.slice(0, limit)
      const last = items.at(-1)
      return c.json(
        merged.length > limit && last
          ? { items, nextCursor: encodeCursor(JSON.stringify([last.createdAt, last.id])) }
          : { items },
      )
    },
  )
  .get(
    '/tasks/:id',
    describe({
      tags,
      summary: 'A task with its attempt history (the last 100 attempts)',
      scope: 'scheduler:read',
      responses: { 200: { description: 'The task', schema: TaskResponse } },
      problems: [404],
    }),
    requireScope('scheduler:read'),
    validate('param', TaskIdParam),
    async function getTask(c) {
      const { id } = c.req.valid('param')
      return c.json(await shardStub(c.env, shardOfTask(id)).getTask(tenantOf(c), id))
    },
  )
  .delete(
    '/tasks/:id',
    describe({
      tags,
      summary: 'Cancel a task (scheduled, running or failed): it is never attempted again',
      description: 'An attempt already in flight completes; its outcome is recorded but not retried.',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The cancelled task', schema: TaskResponse } },
      problems: [404, 409],
    }),
    requireScope('scheduler:write'),
    validate('param', TaskIdParam),
    async function cancelTask(c) {
      const { id } = c.req.valid('param')
      return c.json(await shardStub(c.env, shardOfTask(id)).cancelTask(tenantOf(c), id))
    },
  )
  .post(
    '/tasks/:id/retry',
    describe({
      tags,
      summary: 'Retry a failed task by hand: a new series of attempts, starting now',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The task, scheduled again', schema: TaskResponse } },
      problems: [404, 409],
    }),
    requireScope('scheduler:write'),
    validate('param', TaskIdParam),
    async function retryTask(c) {
      const { id } = c.req.valid('param')
      return c.json(await shardStub(c.env, shardOfTask(id)).retryTask(tenantOf(c), id))
    },
  )
  .get(
    '/limits',
    describe({
      tags,
      summary: "The tenant's limits (concurrency, rate, burst) and current use",
      scope: 'scheduler:read',
      responses: { 200: { description: 'Limits and use', schema: LimitsResponse } },
    }),
    requireScope('scheduler:read'),
    async function getLimits(c) {
      const tenant = tenantOf(c)
      return c.json(await tenantStub(c.env, tenant).usage(tenant, Date.now()))
    },
  )
  .put(
    '/limits',
    describe({
      tags,
      summary: "Set the tenant's limits: attempts in flight, attempts started per second, burst",
      scope: 'scheduler:write',
      responses: { 200: { description: 'Limits and use', schema: LimitsResponse } },
    }),
    requireScope('scheduler:write'),
    validate('json', LimitsRequest),
    async function setLimits(c) {
      const tenant = tenantOf(c)
      return c.json(await tenantStub(c.env, tenant).setLimits(tenant, c.req.valid('json'), Date.now()))
    },
  )
  .get(
    '/signing-secret',
    describe({
      tags,
      summary: 'The Standard Webhooks secret that signs HTTP targets (whsec_…)',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The secret', schema: SigningSecret } },
    }),
    requireScope('scheduler:write'),
    async function getSigningSecret(c) {
      const tenant = tenantOf(c)
      return c.json({ secret: await tenantStub(c.env, tenant).signingSecret(tenant, Date.now()) })
    },
  )
  .post(
    '/signing-secret/rotate',
    describe({
      tags,
      summary: 'Replace the signing secret (attempts from now on use the new one)',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The new secret', schema: SigningSecret } },
    }),
    requireScope('scheduler:write'),
    async function rotateSigningSecret(c) {
      const tenant = tenantOf(c)
      return c.json({ secret: await tenantStub(c.env, tenant).rotateSecret(tenant, Date.now()) })
    },
  )
  .route('/schedules', scheduleRoutes)

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * `/v1/queues`: queue management (create, configure, list, stats, purge, redrive, delete)
 * and, from `message-routes.ts`, message traffic under `/v1/queues/{queue}/messages`.
 */
import { Hono } from 'hono'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  CreateQueueRequest,
  Purged,
  QueueList,
  QueueParam,
  QueueView,
  QueueWithStats,
  Redriven,
  RedriveRequest,
  UpdateQueueRequest,
} from '../../schemas/queue'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import {
  createQueue,
  deleteQueue,
  listQueues,
  purgeQueue,
  queueWithStats,
  redriveQueue,
  updateQueue,
} from './manage'
import { messageRoutes } from './message-routes'

const tags = ['queues']

export const queueRoutes = new Hono<AuthEnv>()
  .get(
    '/',
    describe({
      tags,
      summary: "List the tenant's queues",
      scope: 'queue:read',
      responses: { 200: { description: 'A page of queues, by name', schema: QueueList } },
    }),
    requireScope('queue:read'),
    validate('query', PageQuery),
    async function listQueuesRoute(c) {
      return c.json(await listQueues(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/:queue',
    describe({
      tags,
      summary: 'Create a queue',
      description:
        'Every setting has a default (standard queue, 30 s visibility, 4 days retention, one partition). ' +
        'With `push`, the response carries the signing secret once.',
      scope: 'queue:write',
      responses: { 201: { description: 'Created', schema: QueueView } },
      problems: [409, 413],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('json', CreateQueueRequest),
    async function createQueueRoute(c) {
      const { queue } = c.req.valid('param')
      return c.json(await createQueue(c.env, tenantOf(c), queue, c.req.valid('json')), 201)
    },
  )
  .get(
    '/:queue',
    describe({
      tags,
      summary: 'A queue with its statistics',
      description: 'Counts per state and counters, summed over partitions and per partition.',
      scope: 'queue:read',
      responses: { 200: { description: 'The queue', schema: QueueWithStats } },
      problems: [404],
    }),
    requireScope('queue:read'),
    validate('param', QueueParam),
    async function getQueueRoute(c) {
      return c.json(await queueWithStats(c.env, tenantOf(c), c.req.valid('param').queue))
    },
  )
  .patch(
    '/:queue',
    describe({
      tags,
      summary: "Change a queue's settings",
      description:
        '`fifo` cannot change and `partitions` can only grow (409). `null` removes `deadLetter` or `push`; ' +
        'a new push URL gets a new secret, returned in this response only.',
      scope: 'queue:write',
      responses: { 200: { description: 'The new settings', schema: QueueView } },
      problems: [404, 409, 413],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('json', UpdateQueueRequest),
    async function updateQueueRoute(c) {
      const { queue } = c.req.valid('param')
      return c.json(await updateQueue(c.env, tenantOf(c), queue, c.req.valid('json')))
    },
  )
  .delete(
    '/:queue',
    describe({
      tags,
      summary: 'Delete a queue and its messages',
      description: 'Refused (409) while another queue uses it as its dead-letter queue.',
      scope: 'queue:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404, 409],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    async function deleteQueueRoute(c) {
      await deleteQueue(c.env, tenantOf(c), c.req.valid('param').queue)
      return c.json({ deleted: true })
    },
  )
  .post(
    '/:queue/purge',
    describe({
      tags,
      summary: 'Delete every message of a queue',
      scope: 'queue:write',
      responses: { 200: { description: 'How many messages were deleted', schema: Purged } },
      problems: [404],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    async function purgeQueueRoute(c) {
      return c.json({ purged: await purgeQueue(c.env, tenantOf(c), c.req.valid('param').queue) })
    },
  )
  .post(
    '/:queue/redrive',
    describe({
      tags,
      summary: 'Move dead letters back to their source queues',
      description:
        "Moves visible messages of this (dead-letter) queue back to the queue each came from, in this queue's " +
        'order, so FIFO groups keep their order. Messages whose source queue is gone stay here.',
      scope: 'queue:write',
      responses: { 200: { description: 'What moved', schema: Redriven } },
      problems: [404, 413],
    }),
    requireScope('queue:write'),
    validate('param', QueueParam),
    validate('json', RedriveRequest),
    async function redriveQueueRoute(c) {
      const { maxMessages } = c.req.valid('json')
      return c.json(await redriveQueue(c.env, tenantOf(c), c.req.valid('param').queue, maxMessages))
    },
  )
  .route('/', messageRoutes)

/**
 * The sharded counters API, mounted at `/v1/counters`.
 *
 * Increments go to one of a counter's N shard objects; reads are eventual (from the
 * aggregator, at most MAX_AGE_MS old) or strong (`?consistency=strong`, a sum over every
 * shard). Likes are a distinct count whose members are hashed over the shards. The live
 * stream is a WebSocket served by the aggregator. Scopes: `counters:read`, `counters:write`.
 */
import { Hono } from 'hono'
import { Deleted, IdempotencyHeaders, PageQuery } from '../../schemas/common'
import {
  CounterList,
  CounterParam,
  CounterTotal,
  CounterView,
  IncrementRequest,
  IncrementResult,
  LiveHeaders,
  PutCounterRequest,
  ReadQuery,
} from '../../schemas/counters'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { listResources } from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { MAX_AGE_MS } from './aggregation'
import {
  type Counter,
  type CounterConfig,
  deleteCounter,
  identityOf,
  putCounter,
  requireCounter,
  withCounter,
} from './config'
import {
  fitsShardShare,
  incrementShard,
  MAX_SHARDS,
  SHARD_MAX,
  SHARD_MIN,
  sumShards,
  toJsonInteger,
} from './counter'
import { memberRoutes } from './member-routes'
import { aggregatorStub, COUNTER_KIND, shardAddress, shardStub } from './object'
import { NAME, READ, TAGS, WRITE } from './paths'

function counterView(counter: Counter) {
  const { shards, hashedShards } = counter.config
  const { name, version, createdAt, updatedAt } = counter
  return { name, shards, hashedShards, maxShards: MAX_SHARDS, version, createdAt, updatedAt }
}

export const counterRoutes = new Hono<AuthEnv>()
  .get(
    '/',
    describe({
      tags: TAGS,
      summary: "List the tenant's counters",
      scope: READ,
      responses: { 200: { description: 'A page of counters', schema: CounterList } },
    }),
    requireScope(READ),
    validate('query', PageQuery),
    async function listCounters(c) {
      const { limit, cursor } = c.req.valid('query')
      const page = await listResources<CounterConfig>(c.env, tenantOf(c), COUNTER_KIND, { limit, cursor })
      return c.json({
        items: page.items.map(counterView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .put(
    `/${NAME}`,
    describe({
      tags: TAGS,
      summary: 'Create a counter with a shard count, or grow its shard count',
      description:
        'Shard counts only grow (409 on a smaller count). Growing is safe while increments flow: new ' +
        'shards start at 0 and strong reads sum every shard. Members and idempotency keys stay hashed ' +
        'over the shard count the counter was created with (`hashedShards`).',
      scope: WRITE,
      responses: {
        200: { description: 'Unchanged or grown', schema: CounterView },
        201: { description: 'Created', schema: CounterView },
      },
      problems: [404, 409],
    }),
    requireScope(WRITE),
    validate('param', CounterParam),
    validate('json', PutCounterRequest),
    async function putCounterRoute(c) {
      const { name } = c.req.valid('param')
      const { shards } = c.req.valid('json')
      const { counter, created } = await putCounter(c.env, tenantOf(c), name, shards)
      return c.json(counterView(counter), created ? 201 : 200)
    },
  )
  .get(
    `/${NAME}`,
    describe({
      tags: TAGS,
      summary: "A counter's total (eventual by default, or strong)",
      description:
        `Eventual: the aggregator's total, including every increment acknowledged more than \`ageMs\` ` +
        `before the answer; when its shard records are older than ${MAX_AGE_MS} ms it re-sums every ` +
        'shard first. `?consistency=strong`: sums every shard now, including every acknowledged increment.',
      scope: READ,
      responses: { 200: { description: 'The total', schema: CounterTotal } },
      problems: [404, 503],
    }),
    requireScope(READ),
    validate('param', CounterParam),
    validate('query', ReadQuery),
    async function readCounter(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      if (c.req.valid('query').consistency === 'strong') {
        const counter = await requireCounter(c.env, tenant, name)
        const identity = identityOf(tenant, counter)
        const states = await Promise.all(
          Array.from({ length: counter.config.shards }, (_, shard) =>
            shardStub(c.env, identity, shard).snapshot(shardAddress(identity, shard)),
          ),
        )
        const total = sumShards(states)
        return c.json({
          name,
          value: toJsonInteger(total.value),
          members: total.members,
          consistency: 'strong' as const,
          shards: counter.config.shards,
        })
      }
      const total = await withCounter(c.env, tenant, name, { create: false }, (counter) =>
        aggregatorStub(c.env, tenant, name).read(identityOf(tenant, counter), counter.config.shards),
      )
      return c.json({
        name,
        value: toJsonInteger(total.value),
        members: total.members,
        consistency: 'eventual' as const,
        ageMs: total.ageMs,
        maxAgeMs: MAX_AGE_MS,
        shards: total.shards,
      })
    },
  )
  .delete(
    `/${NAME}`,
    describe({
      tags: TAGS,
      summary: 'Delete a counter, its shards, members, idempotency keys and live streams',
      scope: WRITE,
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope(WRITE),
    validate('param', CounterParam),
    async function deleteCounterRoute(c) {
      await deleteCounter(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json({ deleted: true })
    },
  )
  .get(
    `/${NAME}/config`,
    describe({
      tags: TAGS,
      summary: "A counter's configuration",
      scope: READ,
      responses: { 200: { description: 'The configuration', schema: CounterView } },
      problems: [404],
    }),
    requireScope(READ),
    validate('param', CounterParam),
    async function getCounterConfig(c) {
      return c.json(counterView(await requireCounter(c.env, tenantOf(c), c.req.valid('param').name)))
    },
  )
  .post(
    `/${NAME}/increment`,
    describe({
      tags: TAGS,
      summary: 'Add `by` (may be negative) to a counter, creating it on first use',
      description:
        '`by` is an int64: a JSON number when |by| ≤ 2^53 − 1, or a decimal string. Each shard holds ' +
        `at most a 1/${MAX_SHARDS} share of the int64 range ([${SHARD_MIN}, ${SHARD_MAX}]) so the total ` +
        'always fits int64: a `by` outside the share is 422, an increment that would leave it is 409. ' +
        'With `Idempotency-Key`, a retry within 24 h counts once and gets the first answer ' +
        '(`Idempotent-Replayed: true`); the same key with a different `by` is 422.',
      scope: WRITE,
      responses: { 200: { description: 'Applied (or replayed)', schema: IncrementResult } },
      problems: [404, 409, 422],
    }),
    requireScope(WRITE),
    validate('param', CounterParam),
    validate('header', IdempotencyHeaders),
    validate('json', IncrementRequest),
    async function incrementCounter(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      const { by } = c.req.valid('json')
      const idempotencyKey = c.req.valid('header')['idempotency-key']
      if (!fitsShardShare(by)) {
        throw new AppError(
          'unprocessable',
          `|by| is beyond one shard's share of the int64 range [${SHARD_MIN}, ${SHARD_MAX}]; nothing changed.`,
        )
      }
      const result = await withCounter(c.env, tenant, name, { create: true }, (counter) => {
        const identity = identityOf(tenant, counter)
        const shard = incrementShard(counter.config, Math.random(), idempotencyKey)
        return shardStub(c.env, identity, shard).increment(shardAddress(identity, shard), by, idempotencyKey)
      })
      if (result.replayed) c.header('Idempotent-Replayed', 'true')
      return c.json({
        name,
        by: toJsonInteger(result.by),
        shard: result.shard,
        shardValue: toJsonInteger(result.shardValue),
      })
    },
  )
  .get(
    `/${NAME}/live`,
    describe({
      tags: TAGS,
      summary: 'Live totals over a WebSocket (at most 10 messages per second)',
      description:
        'Send `Upgrade: websocket`. The server sends the total on connect and whenever it changes, ' +
        'coalesced to at most one message per 100 ms: `{"type":"total","name","value","members","at"}`. ' +
        'The stream closes (1000) when the counter is deleted.',
      scope: READ,
      responses: { 101: { description: 'Switching to the WebSocket protocol' } },
      problems: [404],
    }),
    requireScope(READ),
    validate('param', CounterParam),
    validate('header', LiveHeaders),
    async function liveTotals(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      return withCounter(c.env, tenant, name, { create: false }, (counter) => {
        const url = new URL('https://counter-aggregator.internal/live')
        url.searchParams.set('tenant', tenant)
        url.searchParams.set('name', name)
        url.searchParams.set('incarnation', String(counter.config.incarnation))
        url.searchParams.set('shards', String(counter.config.shards))
        return aggregatorStub(c.env, tenant, name).fetch(url, { headers: { upgrade: 'websocket' } })
      })
    },
  )
  .route('/', memberRoutes)

import { runInDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import type { CounterAggregator } from '../../workers/counters/object'
import { call } from '../helpers'
import {
  aggregatorObject,
  counterTenant,
  flushPushes,
  incarnationOf,
  increment,
  type Problem,
  readTotal,
  shardObject,
} from './support'

/** Moves every shard record of the aggregator `ageMs` into the past (its `knownAt`). */
function ageRecords(tenant: string, name: string, ageMs: number) {
  return runInDurableObject(aggregatorObject(tenant, name), (_instance: CounterAggregator, state) => {
    state.storage.sql.exec('UPDATE shard_records SET known_at = ?', Date.now() - ageMs)
  })
}

function records(tenant: string, name: string) {
  return runInDurableObject(aggregatorObject(tenant, name), (_instance: CounterAggregator, state) =>
    state.storage.sql
      .exec<{ shard: number; value: string; known_at: number }>(
        'SELECT shard, value, known_at FROM shard_records',
      )
      .toArray(),
  )
}

it('answers eventual reads with their age, never older than the bound', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/pages', { method: 'PUT', token, body: { shards: 4 } })
  await Promise.all(Array.from({ length: 40 }, () => increment(token, 'pages', 1)))

  const first = await readTotal(token, 'pages', 'eventual')
  expect(first.body).toMatchObject({ value: 40, consistency: 'eventual', maxAgeMs: 1000, shards: 4 })
  expect(first.body.ageMs).toBeGreaterThanOrEqual(0)
  expect(first.body.ageMs).toBeLessThanOrEqual(1000)

  // Records 300 ms old are recent enough: the answer comes from them and says its age.
  await ageRecords(tenant, 'pages', 300)
  const recent = await readTotal(token, 'pages', 'eventual')
  expect(recent.body.value).toBe(40)
  expect(recent.body.ageMs).toBeGreaterThanOrEqual(300)
  expect(recent.body.ageMs).toBeLessThanOrEqual(1000)

  // Increments the aggregator has not heard of, and records past the bound: the read re-sums.
  await Promise.all(Array.from({ length: 10 }, () => increment(token, 'pages', 2)))
  await ageRecords(tenant, 'pages', 1_001)
  const resummed = await readTotal(token, 'pages', 'eventual')
  expect(resummed.body.value).toBe(60)
  expect(resummed.body.ageMs).toBeLessThanOrEqual(1000)
  expect((await readTotal(token, 'pages', 'strong')).body).toMatchObject({ value: 60, consistency: 'strong' })
})

it('shards push their totals to the aggregator from their alarms', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/pushed', { method: 'PUT', token, body: { shards: 2 } })
  await readTotal(token, 'pushed', 'eventual')
  await Promise.all(Array.from({ length: 20 }, () => increment(token, 'pushed', 5)))
  await flushPushes(tenant, 'pushed', 2)
  const pushed = await records(tenant, 'pushed')
  expect(pushed.reduce((sum, record) => sum + Number(record.value), 0)).toBe(100)
  const eventual = await readTotal(token, 'pushed', 'eventual')
  expect(eventual.body).toMatchObject({ value: 100, consistency: 'eventual' })
})

it('creates, grows, refuses to shrink, lists and reads counter configs', async () => {
  const { token } = await counterTenant()
  const created = await call('/v1/counters/cfg', { method: 'PUT', token, body: { shards: 8 } })
  expect(created.status).toBe(201)
  expect(created.body).toMatchObject({ name: 'cfg', shards: 8, hashedShards: 8, maxShards: 64, version: 1 })
  const same = await call('/v1/counters/cfg', { method: 'PUT', token, body: { shards: 8 } })
  expect(same.status).toBe(200)
  expect(same.body).toMatchObject({ shards: 8, version: 1 })
  const grown = await call('/v1/counters/cfg', { method: 'PUT', token, body: { shards: 64 } })
  expect(grown.body).toMatchObject({ shards: 64, hashedShards: 8, version: 2 })
  const shrink = await call<Problem>('/v1/counters/cfg', { method: 'PUT', token, body: { shards: 4 } })
  expect(shrink.status).toBe(409)
  expect(shrink.body.type).toMatch(/conflict$/)
  expect((await call('/v1/counters/cfg/config', { token })).body).toMatchObject({
    shards: 64,
    hashedShards: 8,
  })

  await increment(token, 'implicit', 1)
  expect((await call('/v1/counters/implicit/config', { token })).body).toMatchObject({
    shards: 4,
    hashedShards: 4,
  })
  const page = await call<{ items: Array<{ name: string }>; nextCursor?: string }>('/v1/counters?limit=1', {
    token,
  })
  expect(page.body.items.map((item) => item.name)).toEqual(['cfg'])
  const next = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(
    `/v1/counters?limit=1&cursor=${page.body.nextCursor}`,
    { token },
  )
  expect(next.body.items.map((item) => item.name)).toEqual(['implicit'])
  expect(next.body.nextCursor).toBeUndefined()

  for (const body of [
    { shards: 0 },
    { shards: 65 },
    { shards: 1.5 },
    { shards: '4' },
    {},
    { shards: 4, x: 1 },
  ]) {
    const response = await call<Problem>('/v1/counters/cfg', { method: 'PUT', token, body })
    expect(response.status, JSON.stringify(body)).toBe(400)
  }
  expect((await call('/v1/counters/cfg/config', { token })).body).toMatchObject({ shards: 64, version: 2 })
  const badQuery = await call<Problem>('/v1/counters/cfg?consistency=linearizable', { token })
  expect(badQuery.status).toBe(400)
  expect(badQuery.body.errors?.[0]?.path).toBe('query/consistency')
})

it('deletes a counter with its data; a re-created one starts empty', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/temp', { method: 'PUT', token, body: { shards: 3 } })
  await increment(token, 'temp', 9, { 'Idempotency-Key': 'k-1' })
  await call('/v1/counters/temp/members/zed', { method: 'PUT', token })
  await readTotal(token, 'temp', 'eventual')
  const oldIncarnation = await incarnationOf(tenant, 'temp')

  expect((await call('/v1/counters/temp', { method: 'DELETE', token })).body).toEqual({ deleted: true })
  expect((await call('/v1/counters/temp', { method: 'DELETE', token })).status).toBe(404)
  expect((await readTotal(token, 'temp')).status).toBe(404)
  expect((await readTotal(token, 'temp', 'eventual')).status).toBe(404)
  expect((await call('/v1/counters/temp/config', { token })).status).toBe(404)

  const again = await increment(token, 'temp', 9, { 'Idempotency-Key': 'k-1' })
  expect(again.headers.get('idempotent-replayed')).toBeNull()
  expect((await readTotal(token, 'temp')).body).toMatchObject({ value: 9, members: 0, shards: 4 })
  expect((await call<{ isMember: boolean }>('/v1/counters/temp/members/zed', { token })).body.isMember).toBe(
    false,
  )
  expect(await incarnationOf(tenant, 'temp')).toBeGreaterThan(oldIncarnation)

  // A request still carrying the deleted counter's incarnation changes nothing.
  const stale = { tenant, name: 'temp', incarnation: oldIncarnation, shard: 0 }
  const outcome = await shardObject(tenant, 'temp', 0)
    .increment(stale, 1n)
    .then(
      () => 'applied',
      (error: Error) => error.message,
    )
  expect(outcome).toMatch(/stale_counter/)
  expect((await readTotal(token, 'temp')).body.value).toBe(9)
})

import { expect, it } from 'vitest'
import { call } from '../helpers'
import {
  changesPerShard,
  counterTenant,
  flushPushes,
  increment,
  inWaves,
  type Problem,
  readTotal,
} from './support'

/** Concurrent requests per wave: under the local libSQL server's 256 open streams (auth reads it). */
const WAVE = 100

it('sums 10,000 concurrent increments over 16 shards exactly', { timeout: 240_000 }, async () => {
  const { tenant, token } = await counterTenant()
  expect((await call('/v1/counters/views', { method: 'PUT', token, body: { shards: 16 } })).status).toBe(201)
  const byOf = (i: number) => (i % 11) - 3
  const responses = await inWaves(10_000, WAVE, (i) => increment(token, 'views', byOf(i)))
  expect(responses.filter((r) => r.status !== 200)).toEqual([])
  const expected = Array.from({ length: 10_000 }, (_, i) => byOf(i)).reduce((a, b) => a + b, 0)

  const strong = await readTotal(token, 'views', 'strong')
  expect(strong.body).toMatchObject({ value: expected, members: 0, consistency: 'strong', shards: 16 })
  const perShard = await changesPerShard(tenant, 'views', 16)
  expect(perShard.reduce((a, b) => a + b, 0)).toBe(10_000)
  expect(perShard.every((changes) => changes > 0)).toBe(true)

  await flushPushes(tenant, 'views', 16)
  const eventual = await readTotal(token, 'views', 'eventual')
  expect(eventual.body).toMatchObject({ value: expected, consistency: 'eventual', shards: 16 })
})

it('loses nothing when growing from 4 to 16 shards mid-stream', { timeout: 120_000 }, async () => {
  const { tenant, token } = await counterTenant()
  expect((await call('/v1/counters/likes', { method: 'PUT', token, body: { shards: 4 } })).status).toBe(201)
  const total = 3_000
  const growAt = 1_000
  const statuses: number[] = []
  for (let start = 0; start < total; start += WAVE) {
    const wave = Array.from({ length: WAVE }, () => increment(token, 'likes', 1).then((r) => r.status))
    if (start === growAt) {
      const grown = call('/v1/counters/likes', { method: 'PUT', token, body: { shards: 16 } })
      expect((await grown).status).toBe(200)
    }
    statuses.push(...(await Promise.all(wave)))
  }
  expect(statuses.filter((s) => s !== 200)).toEqual([])

  const strong = await readTotal(token, 'likes', 'strong')
  expect(strong.body).toMatchObject({ value: total, shards: 16 })
  const config = await call<{ shards: number; hashedShards: number }>('/v1/counters/likes/config', { token })
  expect(config.body).toMatchObject({ shards: 16, hashedShards: 4 })
  const perShard = await changesPerShard(tenant, 'likes', 16)
  expect(perShard.reduce((a, b) => a + b, 0)).toBe(total)
  expect(perShard.slice(4).some((changes) => changes > 0)).toBe(true)
  // An eventual read may lag by its ageMs: the shards' pending pushes are fired first.
  await flushPushes(tenant, 'likes', 16)
  const eventual = await readTotal(token, 'likes', 'eventual')
  expect(eventual.body).toMatchObject({ value: total, shards: 16 })
})

it('takes negative and int64 values, as numbers when safe and strings beyond 2^53', async () => {
  const { token } = await counterTenant()
  await call('/v1/counters/big', { method: 'PUT', token, body: { shards: 1 } })
  const large = await increment(token, 'big', '9007199254740993')
  expect(large.status).toBe(200)
  expect(large.body).toMatchObject({ by: '9007199254740993', shard: 0, shardValue: '9007199254740993' })
  expect((await readTotal(token, 'big')).body.value).toBe('9007199254740993')
  expect((await increment(token, 'big', -5)).body).toMatchObject({ by: -5, shardValue: 9007199254740988 })
  expect((await readTotal(token, 'big')).body.value).toBe(9007199254740988)
  await increment(token, 'big', '-9007199254741000')
  expect((await readTotal(token, 'big')).body.value).toBe(-12)
})

it('keeps each shard within its int64 share: 422 for an impossible by, 409 on overflow', async () => {
  const { token } = await counterTenant()
  await call('/v1/counters/edge', { method: 'PUT', token, body: { shards: 1 } })
  const shardMax = 2n ** 57n - 1n
  expect((await increment(token, 'edge', shardMax.toString())).status).toBe(200)

  const overflow = await increment<Problem>(token, 'edge', 1)
  expect(overflow.status).toBe(409)
  expect((overflow.body as unknown as Problem).type).toMatch(/conflict$/)
  const beyondShare = await increment(token, 'edge', '9223372036854775807')
  expect(beyondShare.status).toBe(422)
  expect((beyondShare.body as unknown as Problem).type).toMatch(/unprocessable$/)
  expect((await readTotal(token, 'edge')).body.value).toBe(shardMax.toString())

  const fresh = await increment(token, 'never-created', `-${2n ** 62n}`)
  expect(fresh.status).toBe(422)
  expect((await readTotal(token, 'never-created')).status).toBe(404)
})

it('answers 400 to bad input and changes nothing', async () => {
  const { token } = await counterTenant()
  await increment(token, 'steady', 10)
  const badBodies: unknown[] = [
    { by: 1.5 },
    { by: '1.5' },
    { by: 'ten' },
    { by: '' },
    { by: '1e3' },
    { by: '01' },
    { by: '+1' },
    { by: true },
    { by: null },
    { by: [1] },
    { by: 9007199254740992 },
    { by: '9223372036854775808' },
    { by: '-9223372036854775809' },
    { by: '123456789012345678901' },
    {},
    { by: 1, extra: true },
  ]
  for (const body of badBodies) {
    for (const name of ['steady', 'untouched']) {
      const response = await call<Problem>(`/v1/counters/${name}/increment`, { method: 'POST', token, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.type).toMatch(/validation_failed$/)
      expect(response.body.errors?.[0]?.path).toMatch(/^body/)
    }
  }
  const notJson = await call<Problem>('/v1/counters/steady/increment', {
    method: 'POST',
    token,
    body: '{"by":',
  })
  expect(notJson.status).toBe(400)

  for (const name of ['', 'x'.repeat(129), '-leading-dash', 'with space', 'ünïcode', 'semi;colon']) {
    const response = await call<Problem>(`/v1/counters/${encodeURIComponent(name)}/increment`, {
      method: 'POST',
      token,
      body: { by: 1 },
    })
    expect(response.status, name).toBe(400)
    expect(response.body.errors?.[0]?.path).toBe('param/name')
  }
  expect((await increment(token, 'x'.repeat(128), 1)).status).toBe(200)

  expect((await readTotal(token, 'steady')).body.value).toBe(10)
  expect((await readTotal(token, 'untouched')).status).toBe(404)
})

it('keeps tenants apart and checks scopes', async () => {
  const alice = await counterTenant()
  const bob = await counterTenant()
  await increment(alice.token, 'shared-name', 5)
  expect((await readTotal(bob.token, 'shared-name')).status).toBe(404)
  expect((await call(`/v1/counters/shared-name/config`, { token: bob.token })).status).toBe(404)
  expect((await call(`/v1/counters/shared-name`, { method: 'DELETE', token: bob.token })).status).toBe(404)
  await increment(bob.token, 'shared-name', 1)
  expect((await readTotal(bob.token, 'shared-name')).body.value).toBe(1)
  expect((await readTotal(alice.token, 'shared-name')).body.value).toBe(5)
  const bobList = await call<{ items: Array<{ name: string }> }>('/v1/counters', { token: bob.token })
  expect(bobList.body.items.map((item) => item.name)).toEqual(['shared-name'])

  const reader = await counterTenant(['counters:read'])
  const forbidden = await increment(reader.token, 'mine', 1)
  expect(forbidden.status).toBe(403)
  expect((await call('/v1/counters/mine/increment', { method: 'POST', body: { by: 1 } })).status).toBe(401)
  expect((await readTotal(reader.token, 'mine')).status).toBe(404)
})

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect, it } from 'vitest'
import type { CounterShard } from '../../workers/counters/object'
import { shardFor } from '../../workers/platform/hashing'
import { call } from '../helpers'
import { counterTenant, increment, type Problem, readTotal, shardObject } from './support'

it('counts a retried increment once and answers it with the first result', async () => {
  const { token } = await counterTenant()
  const first = await increment(token, 'orders', 3, { 'Idempotency-Key': 'order-1' })
  expect(first.status).toBe(200)
  expect(first.headers.get('idempotent-replayed')).toBeNull()
  await increment(token, 'orders', 100)
  const retry = await increment(token, 'orders', 3, { 'Idempotency-Key': 'order-1' })
  expect(retry.status).toBe(200)
  expect(retry.headers.get('idempotent-replayed')).toBe('true')
  expect(retry.body).toEqual(first.body)
  expect((await readTotal(token, 'orders')).body.value).toBe(103)

  await increment(token, 'orders', 3, { 'Idempotency-Key': 'order-2' })
  expect((await readTotal(token, 'orders')).body.value).toBe(106)
})

it('applies one of many concurrent retries with the same key', async () => {
  const { token } = await counterTenant()
  await call('/v1/counters/payments', { method: 'PUT', token, body: { shards: 8 } })
  const keys = ['pay-a', 'pay-b', 'pay-c']
  const responses = await Promise.all(
    Array.from({ length: 150 }, (_, i) =>
      increment(token, 'payments', 7, { 'Idempotency-Key': keys[i % keys.length]! }),
    ),
  )
  expect(responses.every((r) => r.status === 200)).toBe(true)
  for (const key of keys) {
    const answers = responses.filter((_, i) => keys[i % keys.length] === key)
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1)
    expect(new Set(answers.map((r) => JSON.stringify(r.body))).size).toBe(1)
    expect(answers[0]!.body.shard).toBe(shardFor(key, 8))
  }
  expect((await readTotal(token, 'payments')).body.value).toBe(21)
})

it('refuses the same key with a different by (422) and changes nothing', async () => {
  const { token } = await counterTenant()
  await increment(token, 'refunds', 5, { 'Idempotency-Key': 'r-1' })
  const reused = await increment<Problem>(token, 'refunds', 6, { 'Idempotency-Key': 'r-1' })
  expect(reused.status).toBe(422)
  expect(reused.body.type).toMatch(/unprocessable$/)
  expect((await readTotal(token, 'refunds')).body.value).toBe(5)
})

it('keeps a key on its shard when the counter grows', async () => {
  const { token } = await counterTenant()
  await call('/v1/counters/grow', { method: 'PUT', token, body: { shards: 2 } })
  const first = await increment(token, 'grow', 1, { 'Idempotency-Key': 'stable-key' })
  await call('/v1/counters/grow', { method: 'PUT', token, body: { shards: 32 } })
  const retry = await increment(token, 'grow', 1, { 'Idempotency-Key': 'stable-key' })
  expect(retry.headers.get('idempotent-replayed')).toBe('true')
  expect(retry.body).toEqual(first.body)
  expect((await readTotal(token, 'grow')).body).toMatchObject({ value: 1, shards: 32 })
})

it('forgets a key after 24 hours: it counts again, and the alarm purges it', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/daily', { method: 'PUT', token, body: { shards: 1 } })
  await increment(token, 'daily', 2, { 'Idempotency-Key': 'once-a-day' })
  const shard = shardObject(tenant, 'daily', 0)
  const expiresAt = await runInDurableObject(shard, (_instance: CounterShard, state) => {
    return state.storage.sql.exec<{ expires_at: number }>('SELECT expires_at FROM idempotency').one()
      .expires_at
  })
  expect(expiresAt - Date.now()).toBeGreaterThan(23 * 3600_000)
  expect(expiresAt - Date.now()).toBeLessThanOrEqual(24 * 3600_000)

  // A day passes: the key's expiry and its purge timer are now in the past.
  await runInDurableObject(shard, (_instance: CounterShard, state) => {
    state.storage.sql.exec('UPDATE idempotency SET expires_at = ?', Date.now() - 1)
    state.storage.sql.exec("UPDATE timers SET due_at = ? WHERE name = 'purge'", Date.now() - 1)
  })
  const again = await increment(token, 'daily', 2, { 'Idempotency-Key': 'once-a-day' })
  expect(again.headers.get('idempotent-replayed')).toBeNull()
  expect((await readTotal(token, 'daily')).body.value).toBe(4)

  await runInDurableObject(shard, (_instance: CounterShard, state) => {
    state.storage.sql.exec('UPDATE idempotency SET expires_at = ?', Date.now() - 1)
    state.storage.sql.exec("UPDATE timers SET due_at = ? WHERE name = 'purge'", Date.now() - 1)
  })
  await runDurableObjectAlarm(shard)
  const remaining = await runInDurableObject(shard, (_instance: CounterShard, state) => {
    return state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency').one().n
  })
  expect(remaining).toBe(0)
})

it('answers 400 to a bad Idempotency-Key and changes nothing', async () => {
  const { token } = await counterTenant()
  await increment(token, 'keys', 1)
  for (const key of ['k'.repeat(256), 'with space', 'tab\there']) {
    const response = await increment<Problem>(token, 'keys', 1, { 'Idempotency-Key': key })
    expect(response.status, key).toBe(400)
    expect(response.body.errors?.[0]?.path).toBe('header/idempotency-key')
  }
  expect((await readTotal(token, 'keys')).body.value).toBe(1)
})

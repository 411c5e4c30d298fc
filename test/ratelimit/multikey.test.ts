/**
 * All-or-nothing checks over several keys (the two-phase reserve/commit/release design in
 * service.ts): a denial on one key spends nothing on the others, under concurrency too.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { checkKeys, findPolicy } from '../../workers/ratelimit/service'
import { check, newTenant, putPolicy } from './api'

const remainingOf = async (token: string, key: string) =>
  (await check(token, { policy: 'api', key, cost: 0 })).body.remaining

describe('several keys in one check', () => {
  it('spends on every key when all admit', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'token-bucket', limit: 5, period: '1h' })
    const both = await check(token, { policy: 'api', keys: ['user:1', 'ip:10.0.0.1'], cost: 2 })
    expect(both.body).toMatchObject({ allowed: true, remaining: 3, deniedKeys: [] })
    expect(await remainingOf(token, 'user:1')).toBe(3)
    expect(await remainingOf(token, 'ip:10.0.0.1')).toBe(3)
  })

  it('spends nothing on any key when one denies', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 3, period: '7d' })
    await check(token, { policy: 'api', key: 'user:1', cost: 3 })
    const denied = await check(token, { policy: 'api', keys: ['ip:10.0.0.1', 'user:1', 'device:9'] })
    expect(denied.body).toMatchObject({
      allowed: false,
      reason: 'over_limit',
      deniedKeys: ['user:1'],
      remaining: 0,
    })
    expect(denied.body.retryAfterMs).toBeGreaterThan(0)
    expect(await remainingOf(token, 'ip:10.0.0.1')).toBe(3)
    expect(await remainingOf(token, 'device:9')).toBe(3)
    // The next attempt is answered from the denial cache: no object is asked, nothing is spent.
    const again = await check(token, { policy: 'api', keys: ['ip:10.0.0.1', 'user:1'] })
    expect(again.body).toMatchObject({ allowed: false, reason: 'cached_denial', deniedKeys: ['user:1'] })
    expect(await remainingOf(token, 'ip:10.0.0.1')).toBe(3)
  })

  it('peeks at every key without spending', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'gcra', limit: 4, period: '1h' })
    await check(token, { policy: 'api', key: 'a', cost: 3 })
    const peek = await check(token, { policy: 'api', keys: ['a', 'b'], cost: 0 })
    expect(peek.body).toMatchObject({ allowed: true, remaining: 1, reason: 'peek' })
    expect(await remainingOf(token, 'b')).toBe(4)
  })

  it('in shadow mode, reports the would-be denial and still spends nothing on the other keys', async () => {
    const { token } = await newTenant()
    await putPolicy(token, 'api', {
      algorithm: 'sliding-window-counter',
      limit: 1,
      period: '7d',
      shadow: true,
    })
    await check(token, { policy: 'api', key: 'a' })
    const shadowed = await check(token, { policy: 'api', keys: ['a', 'b'] })
    expect(shadowed.body).toMatchObject({ allowed: true, shadowDenied: true, deniedKeys: ['a'] })
    expect(await remainingOf(token, 'b')).toBe(1)
  })
})

describe('multi-key checks under concurrency', () => {
  it('300 concurrent [shared, own] checks on a shared limit of 50 admit exactly 50 and spend only on those', async () => {
    const { tenant, token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'fixed-window', limit: 50, period: '7d' })
    const policy = await findPolicy(env, tenant, 'api')
    if (!policy) throw new Error('the policy was just created')
    const decisions = await Promise.all(
      Array.from({ length: 300 }, (_, i) => checkKeys(env, tenant, policy, ['shared', `own-${i}`], 1)),
    )
    const admitted = decisions.map((decision) => decision.allowed)
    expect(admitted.filter(Boolean).length).toBe(50)
    // Each own key spent exactly when its check was admitted: 49 left if admitted, 50 if not.
    const owns = await Promise.all(
      admitted.map(async (_, i) => (await checkKeys(env, tenant, policy, [`own-${i}`], 0)).remaining),
    )
    expect(owns).toEqual(admitted.map((wasAdmitted) => (wasAdmitted ? 49 : 50)))
  })

  it('single-key and multi-key checks racing on one key never exceed its limit', async () => {
    const { tenant, token } = await newTenant()
    await putPolicy(token, 'api', { algorithm: 'token-bucket', limit: 40, period: '7d' })
    const policy = await findPolicy(env, tenant, 'api')
    if (!policy) throw new Error('the policy was just created')
    const decisions = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        checkKeys(env, tenant, policy, i % 2 === 0 ? ['hot'] : ['hot', `cold-${i}`], 1),
      ),
    )
    expect(decisions.filter((decision) => decision.allowed).length).toBe(40)
    expect((await checkKeys(env, tenant, policy, ['hot'], 0)).remaining).toBe(0)
  })
})

/** The key object: holds, their expiry, resets, policy changes and the idle-key alarm. */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { KeyPolicy } from '../../workers/ratelimit/object'

const policy: KeyPolicy = {
  algorithm: 'fixed-window',
  limit: 5,
  periodMs: 7 * 24 * 3600_000,
  fingerprint: 'v1',
}

function bucket() {
  return env.RATELIMIT.get(env.RATELIMIT.idFromName(`test:ratelimit:${crypto.randomUUID()}`))
}

const rows = (sql: SqlStorage, query: string) => sql.exec(query).toArray()

describe('RateLimitBucket', () => {
  it('holds reserved units against other checks, then commits or releases them exactly', async () => {
    const stub = bucket()
    expect(await stub.reserve(policy, 3, 'h1')).toMatchObject({ allowed: true, remaining: 2 })
    expect(await stub.check(policy, 3)).toMatchObject({ allowed: false, remaining: 2 })
    expect(await stub.check(policy, 2)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await stub.commit(policy, 3, 'h1')).toMatchObject({ allowed: true, remaining: 0 })
    expect(await stub.check(policy, 0)).toMatchObject({ allowed: false, remaining: 0 })

    const other = bucket()
    await other.reserve(policy, 4, 'h2')
    expect(await other.release(policy, 'h2')).toMatchObject({ allowed: true, remaining: 5 })
    await runInDurableObject(other, (_, state) => {
      expect(rows(state.storage.sql, 'SELECT * FROM holds')).toEqual([])
      expect(rows(state.storage.sql, 'SELECT * FROM bucket')).toEqual([])
    })
  })

  it('lets a hold expire, so a crashed coordinator cannot lock a key', async () => {
    const stub = bucket()
    await stub.reserve(policy, 5, 'lost')
    expect((await stub.check(policy, 1)).allowed).toBe(false)
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec('UPDATE holds SET expires_at = ?', Date.now() - 1)
    })
    expect(await stub.check(policy, 1)).toMatchObject({ allowed: true, remaining: 4 })
    // A late commit is re-checked as an ordinary spend: it fits only if the units are there.
    expect((await stub.commit(policy, 5, 'lost')).allowed).toBe(false)
    expect((await stub.commit(policy, 4, 'lost')).allowed).toBe(true)
  })

  it('starts afresh, dropping holds, when the policy fingerprint changes', async () => {
    const stub = bucket()
    await stub.check(policy, 5)
    await stub.reserve({ ...policy, limit: 10, fingerprint: 'v2' }, 10, 'h')
    expect((await stub.check({ ...policy, fingerprint: 'v3' }, 5)).allowed).toBe(true)
  })

  it('forgets state and holds on reset', async () => {
    const stub = bucket()
    await stub.check(policy, 4)
    await stub.reserve(policy, 1, 'h')
    await stub.reset()
    expect(await stub.check(policy, 5)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('deletes an idle key from its alarm, and re-arms while the key is still in use', async () => {
    const stub = bucket()
    await stub.check({ ...policy, algorithm: 'token-bucket' }, 2)
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await runInDurableObject(stub, async (_, state) => {
      expect(rows(state.storage.sql, 'SELECT fingerprint FROM bucket')).toEqual([{ fingerprint: 'v1' }])
      expect(await state.storage.getAlarm()).not.toBeNull()
      state.storage.sql.exec('UPDATE bucket SET idle_at = ?', Date.now() - 1)
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await runInDurableObject(stub, async (_, state) => {
      expect(rows(state.storage.sql, 'SELECT * FROM bucket')).toEqual([])
      expect(await state.storage.getAlarm()).toBeNull()
    })
    expect(await stub.check(policy, 0)).toMatchObject({ remaining: 5 })
  })
})

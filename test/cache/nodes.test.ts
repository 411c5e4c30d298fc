import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { nodeOf, replicaNodes } from '../../workers/cache/placement'
import { call } from '../helpers'
import { cacheTester, nodeStub } from './support'

describe('cache settings', () => {
  it('PUT creates (201) and changes (200); GET, list, DELETE; bad settings are 400 problems', async () => {
    const t = await cacheTester()
    const created = await t.configure({ nodes: 2, maxmemory: 1 << 20, policy: 'lfu' })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: t.cache,
      nodes: 2,
      maxmemory: 1 << 20,
      policy: 'lfu',
      persistent: false,
    })
    expect((await t.configure({ nodes: 3 })).status).toBe(200)
    expect((await call(`/v1/cache/${t.cache}`, { token: t.token })).body).toMatchObject({
      nodes: 3,
      policy: 'lru',
    })
    const list = await call<{ items: Array<{ name: string }> }>('/v1/cache', { token: t.token })
    expect(list.body.items.map((item) => item.name)).toEqual([t.cache])
    for (const bad of [{ nodes: 0 }, { nodes: 65 }, { maxmemory: 10 }, { policy: 'random' }, { extra: 1 }]) {
      const response = await t.configure(bad)
      expect(response.status).toBe(400)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
    }
    expect((await call(`/v1/cache/${t.cache}`, { token: t.token })).body).toMatchObject({ nodes: 3 })
    await t.r('SET', 'k', 'v')
    expect((await call(`/v1/cache/${t.cache}`, { method: 'DELETE', token: t.token })).body).toEqual({
      deleted: true,
    })
    expect((await call(`/v1/cache/${t.cache}`, { token: t.token })).status).toBe(404)
    expect((await call(`/v1/cache/${t.cache}`, { method: 'DELETE', token: t.token })).status).toBe(404)
    expect(await t.r('GET', 'k')).toBeNull()
  })

  it('creating a cache starts it empty; read-only tokens cannot change settings', async () => {
    const t = await cacheTester()
    await t.r('SET', 'before', 'v')
    expect((await t.configure({ nodes: 2 })).status).toBe(201)
    expect(await t.r('GET', 'before')).toBeNull()
    const reader = await cacheTester(['cache:read'])
    expect((await reader.configure({ nodes: 2 })).status).toBe(403)
  })
})

describe('memory and eviction', () => {
  it('LRU keeps the most recently used keys within the node budget; stats count evictions', async () => {
    const t = await cacheTester()
    await t.configure({ nodes: 1, maxmemory: 64 * 1024, policy: 'lru' })
    const value = 'x'.repeat(1000)
    for (let i = 0; i < 100; i++) {
      await t.r('SET', `k${i}`, value)
      if (i >= 10) await t.r('GET', 'k0') // k0 stays hot
    }
    const stats = await call<{ nodes: Array<Record<string, number>> }>(`/v1/cache/${t.cache}/stats`, {
      token: t.token,
    })
    const [node] = stats.body.nodes
    // Redis's rule: evict before each write, so a write may overshoot by its own size.
    expect(node?.usedMemory).toBeLessThanOrEqual(64 * 1024 + 1100)
    expect(node?.evictions).toBeGreaterThan(30)
    expect(node?.keys).toBe(100 - (node?.evictions ?? 0))
    expect(await t.r('EXISTS', 'k0')).toBe(1)
    expect(await t.r('EXISTS', 'k1')).toBe(0)
    expect(await t.r('EXISTS', 'k99')).toBe(1)
  })

  it('noeviction answers OOM once the node is full and stores nothing', async () => {
    const t = await cacheTester()
    await t.configure({ nodes: 1, maxmemory: 64 * 1024, policy: 'noeviction' })
    let i = 0
    while ((await t.cmd('SET', `k${i}`, 'x'.repeat(4000))).status === 200) i++
    expect(await t.cmd('SET', 'one-more', 'v')).toMatchObject({
      status: 400,
      body: { error: "OOM command not allowed when used memory > 'maxmemory'." },
    })
    expect(await t.r('EXISTS', 'one-more')).toBe(0)
    expect(await t.r('DBSIZE')).toBe(i)
  })
})

describe('persistence, expiry and restarts', () => {
  it('a persistent cache warms up again after its object is evicted; a volatile one starts empty', async () => {
    const persistent = await cacheTester()
    await persistent.configure({ nodes: 1, persistent: true })
    await persistent.r('SET', 's', 'v', 'EX', 100)
    await persistent.r('HSET', 'h', 'f', '1')
    await persistent.r('ZADD', 'z', 'inf', 'top')
    await persistent.r('RPUSH', 'l', 'a', 'b')
    await persistent.r('SADD', 'set', 'm')
    await evictDurableObject(nodeStub(persistent.tenant, persistent.cache, 0))
    expect(await persistent.r('GET', 's')).toBe('v')
    expect(await persistent.r('TTL', 's')).toBeGreaterThan(90)
    expect(await persistent.r('HGETALL', 'h')).toEqual(['f', '1'])
    expect(await persistent.r('ZRANGE', 'z', 0, -1, 'WITHSCORES')).toEqual(['top', 'inf'])
    expect(await persistent.r('LRANGE', 'l', 0, -1)).toEqual(['a', 'b'])
    expect(await persistent.r('SMEMBERS', 'set')).toEqual(['m'])
    await persistent.r('DEL', 'h')
    await evictDurableObject(nodeStub(persistent.tenant, persistent.cache, 0))
    expect(await persistent.r('DBSIZE')).toBe(4)

    // A value too large for one SQLite row stays in memory only, and no older row survives.
    await persistent.r('SET', 'wide', '€')
    await persistent.r('SET', 'wide', '€'.repeat(700_000))
    expect(await persistent.r('EXISTS', 'wide')).toBe(1)
    await evictDurableObject(nodeStub(persistent.tenant, persistent.cache, 0))
    expect(await persistent.r('EXISTS', 'wide')).toBe(0)

    const volatile = await cacheTester()
    await volatile.configure({ nodes: 1 })
    await volatile.r('SET', 's', 'v')
    await evictDurableObject(nodeStub(volatile.tenant, volatile.cache, 0))
    expect(await volatile.r('GET', 's')).toBeNull()
  })

  it('the node alarm removes expired keys actively (and from the snapshot)', async () => {
    const t = await cacheTester()
    await t.configure({ nodes: 1, persistent: true })
    await t.r('SET', 'short', 'v', 'PX', 1)
    await t.r('SET', 'long', 'v', 'EX', 1000)
    const stub = nodeStub(t.tenant, t.cache, 0)
    await runInDurableObject(stub, async (_instance, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull()
    })
    await new Promise((resolve) => setTimeout(resolve, 5)) // let 1 ms pass on the wall clock
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    await runInDurableObject(stub, (_instance, state) => {
      const rows = state.storage.sql.exec<{ key: string }>('SELECT key FROM entries').toArray()
      expect(rows.map((row) => row.key)).toEqual(['long'])
    })
    const stats = await call<{ nodes: Array<Record<string, number>> }>(`/v1/cache/${t.cache}/stats`, {
      token: t.token,
    })
    expect(stats.body.nodes[0]).toMatchObject({ keys: 1, expired: 1 })
  })
})

describe('the ring', () => {
  it('growing from 4 to 5 nodes keeps ≥ 1 − 1/5 − ε of the keys; the moved ones now live on the new node', async () => {
    const t = await cacheTester()
    await t.configure({ nodes: 4 })
    const keys = Array.from({ length: 400 }, (_, i) => `user:${i}`)
    await t.pipeline(keys.map((key) => ['SET', key, 'v']))
    expect(await t.r('DBSIZE')).toBe(400)
    await t.configure({ nodes: 5 })
    const found = (await t.r('MGET', ...keys)) as Array<string | null>
    const lost = keys.filter((_, i) => found[i] === null)
    expect(lost.length / keys.length).toBeLessThanOrEqual(1 / 5 + 0.05)
    expect(lost.every((key) => nodeOf(key, 5) === 4)).toBe(true)
    // The old owners dropped what they no longer own, so shrinking back cannot resurface stale values.
    await t.r('MSET', ...lost.flatMap((key) => [key, 'new']))
    await t.configure({ nodes: 4 })
    const after = (await t.r('MGET', ...lost)) as Array<string | null>
    expect(after.every((value) => value === null)).toBe(true)
    expect(await t.r('DBSIZE')).toBe(400 - lost.length)
  })
})

describe('stampede protection', () => {
  it('200 concurrent misses with a lease: exactly one recomputes, the rest wait then hit', async () => {
    const t = await cacheTester()
    let recomputes = 0
    async function fetchThroughCache(): Promise<string> {
      for (;;) {
        const [status, value, token] = (await t.r('LEASEGET', 'report', 10_000)) as [
          string,
          string | null,
          string | null,
        ]
        if (status === 'hit' || status === 'stale') return value as string
        if (token) {
          recomputes++
          await t.r('LEASESET', 'report', token, 'computed', 'EX', 60)
          return 'computed'
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
    const values = await Promise.all(Array.from({ length: 200 }, fetchThroughCache))
    expect(recomputes).toBe(1)
    expect(new Set(values)).toEqual(new Set(['computed']))
  })
})

describe('hot-key replication', () => {
  it('reads of a hot key spread over R nodes holding read-only copies; writes drop them', async () => {
    const t = await cacheTester()
    const created = await t.configure({
      nodes: 4,
      replication: { replicas: 3, hotReadsPerSecond: 1, copyTtlMs: 60_000 },
    })
    expect(created.body).toMatchObject({
      replication: { replicas: 3, hotReadsPerSecond: 1, copyTtlMs: 60_000 },
    })
    await t.r('SET', 'hot', 'v1')
    for (let i = 0; i < 24; i++) expect(await t.r('GET', 'hot')).toBe('v1')
    const [, ...replicas] = replicaNodes('hot', 4, 3)
    const copies = await Promise.all(
      replicas.map((node) =>
        runInDurableObject(nodeStub(t.tenant, t.cache, node), (instance) => instance.readCopy('hot')),
      ),
    )
    expect(copies.filter((copy) => copy === 'v1').length).toBeGreaterThan(0)
    await t.r('SET', 'hot', 'v2')
    for (const node of replicas) {
      expect(
        await runInDurableObject(nodeStub(t.tenant, t.cache, node), (instance) => instance.readCopy('hot')),
      ).toBeNull()
    }
    for (let i = 0; i < 12; i++) expect(await t.r('GET', 'hot')).toBe('v2')
    expect(await t.r('DBSIZE')).toBe(1)
  })
})

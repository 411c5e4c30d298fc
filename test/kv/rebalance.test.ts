/** Rebalancing: a namespace moves to a ring without node-2; only the expected keys move. */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { preferenceOrder } from '../../workers/kv/coordinator'
import { maintenanceStub } from '../../workers/kv/service'
import { killNode, kvClient, NODE_IDS, restartNode } from './support'

describe('kv rebalancing', () => {
  it('copies only the keys whose homes change, then switches the ring; reads never miss', async () => {
    const kv = await kvClient({ replicas: 2, readQuorum: 2, writeQuorum: 2 })
    const ns = await kv.ns()
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
    const bulk = await kv.call(`/v1/kv/namespaces/${kv.namespace}/bulk`, {
      token: kv.token,
      body: { put: keys.map((key) => ({ key, value: key })) },
    })
    expect(bulk.status).toBe(200)
    const to = [NODE_IDS[0] as string, NODE_IDS[1] as string]
    const started = await kv.call(`/v1/kv/namespaces/${kv.namespace}/rebalance`, {
      token: kv.token,
      body: { members: to },
    })
    expect(started.status).toBe(202)
    expect(started.body.ring).toEqual({ members: NODE_IDS, next: to })
    const again = await kv.call(`/v1/kv/namespaces/${kv.namespace}/rebalance`, {
      token: kv.token,
      body: { members: to },
    })
    expect(again.status).toBe(409)
    // A write during the move reaches the homes of both rings.
    keys.push('during')
    expect((await kv.put('during', 'during')).status).toBe(200)
    for (const key of keys) expect((await kv.get(key)).status).toBe(200)

    const stub = maintenanceStub(env, kv.tenant, kv.namespace)
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    const stats = await runInDurableObject(stub, (object) => object.lastRebalance())
    const expected = keys.filter((key) =>
      preferenceOrder(NODE_IDS, ns, key)
        .slice(0, 2)
        .includes(NODE_IDS[2] as string),
    )
    expect(expected.length).toBeGreaterThan(0)
    expect(stats).toMatchObject({
      keysScanned: keys.length,
      keysMoved: expected.length,
      versionsCopied: expected.length,
    })
    const after = await kv.call(`/v1/kv/namespaces/${kv.namespace}`, { token: kv.token })
    expect(after.body.ring).toEqual({ members: to, next: null })

    await killNode(2)
    try {
      for (const key of keys) {
        const read = await kv.get(key)
        expect([key, read.status, read.text]).toEqual([
          key,
          200,
          key === 'during' ? 'during' : JSON.stringify(key),
        ])
      }
    } finally {
      await restartNode(2)
    }
  })

  it('refuses unknown nodes, duplicates and fewer members than N', async () => {
    const kv = await kvClient({ replicas: 2 })
    for (const members of [['node-0', 'nope'], ['node-0', 'node-0'], ['node-0'], ['Bad!']]) {
      const response = await kv.call(`/v1/kv/namespaces/${kv.namespace}/rebalance`, {
        token: kv.token,
        body: { members },
      })
      expect(response.status).toBe(400)
    }
    const unchanged = await kv.call(`/v1/kv/namespaces/${kv.namespace}`, { token: kv.token })
    expect(unchanged.body.ring).toEqual({ members: NODE_IDS, next: null })
  })
})

/**
 * Crash and recovery with real processes: a storage node is killed with kill -9 in the
 * middle of a write load (N=3, W=2) and restarted; hints are delivered by the hint objects.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { dropVersion, readVersions, storeVersions } from '../../workers/kv/replica'
import { connect, hintsStub, maintenanceStub } from '../../workers/kv/service'
import { killNode, kvClient, NODE_IDS, replicaState, restartNode } from './support'

async function deliverHints(tenant: string): Promise<number> {
  let delivered = 0
  for (const node of NODE_IDS) {
    const stub = hintsStub(env, tenant, node)
    delivered += await runInDurableObject(stub, (hints) => hints.deliver(Date.now() + 3_600_000))
  }
  return delivered
}

async function pendingHints(tenant: string): Promise<number> {
  let pending = 0
  for (const node of NODE_IDS) pending += await hintsStub(env, tenant, node).pending()
  return pending
}

describe('kv faults', () => {
  it('keeps every acknowledged write readable with R=2 while a node is killed mid-load and after it returns', async () => {
    const kv = await kvClient({ replicas: 3, readQuorum: 2, writeQuorum: 2 })
    const acked = new Map<string, string>()
    const failed: string[] = []
    const writeBatch = async (from: number, count: number) => {
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const key = `load-${from + i}`
          const value = `value-${from + i}`
          const response = await kv.put(key, value)
          if (response.status === 200) acked.set(key, value)
          else failed.push(`${key}: ${response.status}`)
        }),
      )
    }
    await writeBatch(0, 20)
    // kill -9 while a batch is in flight
    await Promise.all([writeBatch(20, 20), killNode(1)])
    await writeBatch(40, 20)
    expect(acked.size).toBeGreaterThanOrEqual(40)
    for (const [key, value] of acked) {
      const read = await kv.get(key)
      expect([key, read.status, read.text]).toEqual([key, 200, value])
    }
    expect(await pendingHints(kv.tenant)).toBeGreaterThan(0)

    await restartNode(1)
    for (const [key, value] of acked) {
      const read = await kv.get(key)
      expect([key, read.status, read.text]).toEqual([key, 200, value])
    }
    await deliverHints(kv.tenant)
    expect(await pendingHints(kv.tenant)).toBe(0)
    const ns = await kv.ns()
    for (const key of acked.keys()) {
      const state = await replicaState(ns, key)
      expect(state[NODE_IDS[1] as string]?.length).toBeGreaterThan(0)
    }
    // Anti-entropy brings the restarted node to the same Merkle root as the others.
    const repair = await kv.call(`/v1/kv/namespaces/${kv.namespace}/anti-entropy`, {
      method: 'POST',
      token: kv.token,
    })
    expect(repair.status).toBe(200)
    const roots = repair.body.roots as Record<string, string>
    expect(Object.keys(roots)).toHaveLength(3)
    expect(new Set(Object.values(roots)).size).toBe(1)
    const again = await kv.call(`/v1/kv/namespaces/${kv.namespace}/anti-entropy`, {
      method: 'POST',
      token: kv.token,
    })
    expect(again.body).toMatchObject({ differingLeaves: 0, versionsCopied: 0 })
    for (const [key, value] of acked) {
      const read = await kv.get(key, 'consistency=eventual')
      expect([key, read.status, read.text]).toEqual([key, 200, value])
    }
  })

  it('repairs a stale replica on read, returning the newest value', async () => {
    const kv = await kvClient({ replicas: 3, readQuorum: 3, writeQuorum: 2 })
    const ns = await kv.ns()
    const first = await kv.put('doc', 'v1')
    const node2 = await connect(env, NODE_IDS[2] as string)
    const old = await readVersions(node2, ns, 'doc')
    const second = await kv.put('doc', 'v2', { headers: { 'x-kv-context': first.json.context as string } })
    expect(second.status).toBe(200)
    // node-2 goes back to the state before the second write, as if it had missed it
    await dropVersion(node2, ns, 'doc', second.json.version as string)
    await storeVersions(node2, ns, 'doc', old, 'siblings', Date.now())
    const stale = await replicaState(ns, 'doc')
    expect(stale[NODE_IDS[2] as string]).toEqual([first.json.version])
    const read = await kv.get('doc')
    expect([read.status, read.text]).toEqual([200, 'v2'])
    const repaired = await replicaState(ns, 'doc')
    expect(repaired[NODE_IDS[2] as string]).toEqual([second.json.version])
  })

  it('does not resurrect a deleted key from a replica that missed the delete', async () => {
    const kv = await kvClient({ replicas: 3, readQuorum: 3, writeQuorum: 2 })
    await kv.put('gone', 'here')
    const read1 = await kv.get('gone')
    await killNode(0)
    const deleted = await kv.del('gone', {
      headers: { 'x-kv-context': read1.headers.get('x-kv-context') as string },
    })
    expect(deleted.status).toBe(200)
    await restartNode(0)
    const read = await kv.get('gone')
    expect(read.status).toBe(404)
    expect(read.headers.get('x-kv-context')).toBeTruthy()
    const state = await replicaState(await kv.ns(), 'gone')
    expect(new Set(Object.values(state).map((ids) => JSON.stringify(ids)))).toEqual(
      new Set([JSON.stringify([deleted.json.version])]),
    )
  })

  it('purges tombstones only after the grace period and only when every node answered', async () => {
    const kv = await kvClient({ tombstoneGraceSeconds: 60 })
    await kv.put('t', 'v')
    const deleted = await kv.del('t')
    const stub = maintenanceStub(env, kv.tenant, kv.namespace)
    const ns = await kv.ns()
    const soon = await runInDurableObject(stub, (object) => object.run(Date.now() + 30_000))
    expect(soon?.purged).toBe(0)
    await killNode(0)
    try {
      const partial = await runInDurableObject(stub, (object) => object.run(Date.now() + 120_000))
      expect(partial).toMatchObject({ nodesAnswered: 2, purged: 0 })
    } finally {
      await restartNode(0)
    }
    expect(Object.values(await replicaState(ns, 't'))).toEqual([
      [deleted.json.version],
      [deleted.json.version],
      [deleted.json.version],
    ])
    const later = await runInDurableObject(stub, (object) => object.run(Date.now() + 120_000))
    expect(later?.purged).toBe(3)
    expect(Object.values(await replicaState(ns, 't'))).toEqual([[], [], []])
    expect((await kv.get('t')).status).toBe(404)
  })
})

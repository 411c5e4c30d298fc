/**
 * Strong mode: histories of concurrent clients (with a storage node killed and restarted
 * during the run) are checked by the linearizability checker; the same workload run
 * without the leader step (the same majority reads and writes, not serialized) is not
 * linearizable, and the checker says so.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { keySpec } from '../../workers/kv/api'
import type { ReplicaPort } from '../../workers/kv/coordinator'
import { getNamespace } from '../../workers/kv/namespaces'
import { majority, readKey, writeKey } from '../../workers/kv/operations'
import { coordinatorDeps, replicaPort } from '../../workers/kv/service'
import { randomInt, seededRandom } from '../support/seeded'
import { nonLinearizableKeys, type Operation } from './linearizability'
import { type KvClient, killNode, kvClient, restartNode } from './support'

let clock = 0
const tick = () => ++clock

interface Store {
  write(key: string, value: string): Promise<'ok' | 'unknown'>
  read(key: string): Promise<string | null | undefined>
}

function throughApi(kv: KvClient): Store {
  return {
    async write(key, value) {
      const response = await kv.put(key, value, { query: 'consistency=strong' })
      return response.status === 200 ? 'ok' : 'unknown'
    },
    async read(key) {
      const response = await kv.get(key, 'consistency=strong')
      if (response.status === 200) return response.text
      if (response.status === 404) return null
      if (response.status === 300)
        return (response.json.siblings as Array<{ value: string }>)
          .map((s) => atob(s.value))
          .sort()
          .join('|')
      return undefined
    },
  }
}

async function record(ops: Operation[], key: string, client: number, store: Store, write?: string) {
  const call = tick()
  if (write !== undefined) {
    const outcome = await store.write(key, write)
    ops.push({
      key,
      client,
      call,
      ret: outcome === 'ok' ? tick() : Infinity,
      input: { kind: 'write', value: write },
    })
    return
  }
  const output = await store.read(key)
  if (output !== undefined) ops.push({ key, client, call, ret: tick(), input: { kind: 'read' }, output })
}

/** Rounds of two concurrent writers and two readers on each key. */
async function pairedWorkload(store: Store, rounds: number, during?: (round: number) => Promise<void>) {
  const ops: Operation[] = []
  for (let round = 0; round < rounds; round++) {
    await Promise.all([
      record(ops, 'x', 0, store, `a${round}`),
      record(ops, 'x', 1, store, `b${round}`),
      during?.(round),
    ])
    await Promise.all([record(ops, 'x', 2, store), record(ops, 'x', 3, store)])
  }
  return ops
}

describe('kv strong mode', () => {
  it('is linearizable for concurrent clients while a node is killed and restarted', async () => {
    const kv = await kvClient({ replicas: 3 })
    const store = throughApi(kv)
    const random = seededRandom(17)
    const ops: Operation[] = []
    for (let round = 0; round < 10; round++) {
      const work: Array<Promise<unknown>> = Array.from({ length: 4 }, (_, client) => {
        const key = random() < 0.5 ? 'x' : 'y'
        const write = random() < 0.5 ? `c${client}-r${round}-${randomInt(random, 0, 99)}` : undefined
        return record(ops, key, client, store, write)
      })
      if (round === 3) work.push(killNode(2))
      if (round === 7) work.push(restartNode(2))
      await Promise.all(work)
    }
    expect(ops.length).toBeGreaterThanOrEqual(36)
    expect(nonLinearizableKeys(ops)).toEqual([])

    const paired = await pairedWorkload(store, 4)
    expect(nonLinearizableKeys(paired)).toEqual([])
  })

  it('fails the checker when the leader step is bypassed', async () => {
    const kv = await kvClient({ replicas: 3 })
    const namespace = await getNamespace(env, kv.tenant, kv.namespace)
    // Concurrent writers meet at the coordinating write: both have read before either writes,
    // which is exactly the interleaving the leader's per-key serialization forbids.
    const real = replicaPort(env)
    let waiting: Array<() => void> = []
    const gated: ReplicaPort = {
      ...real,
      coordinate: async (...args) => {
        await new Promise<void>((resolve) => {
          waiting.push(resolve)
          if (waiting.length === 2) {
            for (const release of waiting) release()
            waiting = []
          }
        })
        return real.coordinate(...args)
      },
    }
    const deps = coordinatorDeps(env, kv.tenant, () => undefined, gated)
    const quorum = majority(3)
    const bypass: Store = {
      async write(key, value) {
        await writeKey(
          deps,
          keySpec(namespace, key),
          {
            deleted: false,
            value: new TextEncoder().encode(value),
            contentType: 'text/plain',
            metadata: null,
            expiresAt: null,
            context: undefined,
          },
          { r: quorum, w: quorum },
          Date.now(),
          true,
        )
        return 'ok'
      },
      async read(key) {
        const result = await readKey(deps, keySpec(namespace, key), quorum, Date.now())
        if (result.versions.length === 0) return null
        return result.versions
          .map((version) => new TextDecoder().decode(version.value ?? undefined))
          .sort()
          .join('|')
      },
    }
    const ops = await pairedWorkload(bypass, 2)
    expect(nonLinearizableKeys(ops)).toEqual(['x'])
  })
})

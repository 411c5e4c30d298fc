import { describe, expect, it } from 'vitest'
import { runPipeline } from '../../workers/cache/cluster'
import type { Replication } from '../../workers/cache/cluster-client'
import { HotKeys } from '../../workers/cache/hot-keys'
import { LocalCluster } from '../../workers/cache/local-cluster'
import { replicaNodes } from '../../workers/cache/placement'
import { seededRandom } from '../support/seeded'

describe('hot-key detection', () => {
  it('a key is hot once read threshold times in the current or the previous second', () => {
    const hot = new HotKeys({ threshold: 3 })
    expect(hot.observe('k', 0)).toBe(false)
    expect(hot.observe('k', 100)).toBe(false)
    expect(hot.observe('k', 999)).toBe(true)
    expect(hot.isHot('k', 1500)).toBe(true) // still hot through the next second
    expect(hot.isHot('k', 2000)).toBe(false)
    expect(hot.isHot('other', 0)).toBe(false)
  })

  it('tracks at most maxTracked keys, forgetting the oldest', () => {
    const hot = new HotKeys({ threshold: 1, maxTracked: 2 })
    hot.observe('a', 0)
    hot.observe('b', 0)
    hot.observe('c', 0)
    expect(hot.isHot('a', 0)).toBe(false)
    expect(hot.isHot('c', 0)).toBe(true)
  })
})

describe('replicated reads of hot keys', () => {
  function setup() {
    let clock = 1_000_000
    const cluster = new LocalCluster({ nodes: 5, now: () => clock })
    const detector = new HotKeys({ threshold: 1 })
    const replication: Replication = {
      replicas: 3,
      ttlMs: 1000,
      observe: (key) => detector.observe(key, clock),
      isHot: (key) => detector.isHot(key, clock),
      random: seededRandom(9),
      now: () => clock,
    }
    const run = async (...args: string[]) => (await runPipeline(cluster, 5, [args], replication))[0]
    return { cluster, run, advance: (ms: number) => (clock += ms) }
  }

  it('spreads reads over the owner and its replicas, which fill copies from the owner', async () => {
    const { cluster, run } = setup()
    await run('SET', 'hot', 'v1')
    for (let i = 0; i < 30; i++) expect(await run('GET', 'hot')).toEqual({ result: 'v1' })
    const [owner, ...replicas] = replicaNodes('hot', 5, 3)
    for (const node of replicas) expect(await cluster.readCopy(node, 'hot')).toBe('v1')
    // Copies live beside the keyspace: the owner alone holds the key.
    expect(cluster.keyspaces.map((ks, i) => (ks.entries.has('hot') ? i : -1)).filter((i) => i >= 0)).toEqual([
      owner,
    ])
    expect(await run('DBSIZE')).toEqual({ result: 1 })
  })

  it('a write through this isolate drops the copies; a copy is never served past its TTL', async () => {
    const { cluster, run, advance } = setup()
    await run('SET', 'hot', 'v1')
    for (let i = 0; i < 20; i++) await run('GET', 'hot')
    await run('SET', 'hot', 'v2')
    const [, ...replicas] = replicaNodes('hot', 5, 3)
    for (const node of replicas) expect(await cluster.readCopy(node, 'hot')).toBeNull()
    for (let i = 0; i < 20; i++) expect(await run('GET', 'hot')).toEqual({ result: 'v2' })
    // A write made elsewhere (straight to the owner) is seen once the copies' TTL passes.
    const [owner] = replicaNodes('hot', 5, 1)
    await cluster.run(owner as number, [['SET', 'hot', 'v3']])
    advance(1000)
    for (let i = 0; i < 20; i++) expect(await run('GET', 'hot')).toEqual({ result: 'v3' })
  })
})

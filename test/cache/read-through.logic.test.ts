import { describe, expect, it } from 'vitest'
import type { BackingSource, Change } from '../../workers/cache/backing'
import { runPipeline } from '../../workers/cache/cluster'
import { LocalCluster } from '../../workers/cache/local-cluster'
import { nodeOf } from '../../workers/cache/placement'
import { readThroughKey } from '../../workers/cache/through'

/** An in-memory backing source that counts its reads and answers when released. */
function slowSource(data: Record<string, string>) {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const source: BackingSource & { reads: number; release: () => void } = {
    reads: 0,
    release: () => release(),
    async get(key) {
      source.reads++
      await gate
      return data[key] ?? null
    },
    async write(_changes: Change[]) {},
  }
  return source
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe('read-through under a lease', () => {
  it('50 concurrent misses read the source once and all get the value', async () => {
    const cluster = new LocalCluster({ nodes: 3 })
    const source = slowSource({ 'user:1': 'ada' })
    const node = nodeOf('user:1', 3)
    const readers = Array.from({ length: 50 }, () =>
      readThroughKey(source, cluster, node, 'user:1', 60, tick),
    )
    await tick()
    source.release()
    expect(new Set(await Promise.all(readers))).toEqual(new Set(['ada']))
    expect(source.reads).toBe(1)
    expect(
      await runPipeline(cluster, 3, [
        ['GET', 'user:1'],
        ['TTL', 'user:1'],
      ]),
    ).toEqual([{ result: 'ada' }, { result: 60 }])
  })

  it('a key the source does not have: one read, every caller gets nil, nothing is stored', async () => {
    const cluster = new LocalCluster({ nodes: 1 })
    const source = slowSource({})
    const readers = Array.from({ length: 20 }, () => readThroughKey(source, cluster, 0, 'ghost', 60, tick))
    await tick()
    source.release()
    expect(await Promise.all(readers)).toEqual(Array(20).fill(null))
    expect(source.reads).toBe(1)
    expect(cluster.keyspaces[0]?.entries.size).toBe(0)
  })

  it('a write while the source is read wins over the value read', async () => {
    const cluster = new LocalCluster({ nodes: 1 })
    const source = slowSource({ k: 'old' })
    const reader = readThroughKey(source, cluster, 0, 'k', 60, tick)
    await tick()
    await runPipeline(cluster, 1, [['SET', 'k', 'new']])
    source.release()
    expect(await reader).toBe('old')
    expect(await runPipeline(cluster, 1, [['GET', 'k']])).toEqual([{ result: 'new' }])
  })
})

import { describe, expect, it } from 'vitest'
import { ConsistentHashRing, hash32, shardFor } from '../../workers/platform/hashing'

describe('hash32', () => {
  it('is stable and spreads keys evenly over shards', () => {
    expect(hash32('hello')).toBe(hash32('hello'))
    expect(hash32('hello')).not.toBe(hash32('hellp'))
    const counts = new Array(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[shardFor(`key-${i}`, 16)]++
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(150)
  })

  it('rejects a shard count that is not a positive integer', () => {
    expect(() => shardFor('k', 0)).toThrow(RangeError)
    expect(() => shardFor('k', 1.5)).toThrow(RangeError)
  })
})

describe('ConsistentHashRing', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `user:${i}`)

  it('moves only the keys of the removed node, and about 1/N of keys when one is added', () => {
    const ring = new ConsistentHashRing(['a', 'b', 'c', 'd'])
    const before = new Map(keys.map((k) => [k, ring.nodeFor(k)]))
    ring.add('e')
    const moved = keys.filter((k) => ring.nodeFor(k) !== before.get(k))
    expect(moved.every((k) => ring.nodeFor(k) === 'e')).toBe(true)
    expect(moved.length / keys.length).toBeGreaterThan(0.12)
    expect(moved.length / keys.length).toBeLessThan(0.28)
    ring.remove('e')
    expect(keys.every((k) => ring.nodeFor(k) === before.get(k))).toBe(true)
  })

  it('gives distinct nodes in the preference list', () => {
    const ring = new ConsistentHashRing(['a', 'b', 'c'])
    for (const key of keys.slice(0, 200)) {
      const list = ring.preferenceList(key, 3)
      expect(new Set(list).size).toBe(3)
      expect(list[0]).toBe(ring.nodeFor(key))
    }
    expect(ring.preferenceList('x', 5)).toHaveLength(3)
    expect(new ConsistentHashRing().nodeFor('x')).toBeUndefined()
  })
})

/** The resharding plan and the router's traffic counters, as plain logic. */
import { describe, expect, it } from 'vitest'
import { imageValue, moves, placementsAfter, planReshard } from '../../workers/databases/partitions/reshard'
import type { PartitionScheme } from '../../workers/databases/partitions/scheme'
import { SpaceSaving, WindowCounter } from '../../workers/databases/partitions/traffic'

const range: PartitionScheme = {
  shards: 3,
  tables: { events: { key: 'day', by: 'range', bounds: [10, 20] } },
}

describe('resharding plans', () => {
  it('splits a range shard into two adjacent shards and inserts the placement after it', () => {
    const plan = planReshard(range, { split: { shard: 1, at: 15 } })
    if (typeof plan === 'string') throw new Error(plan)
    expect(plan.scheme).toEqual({
      shards: 4,
      tables: { events: { key: 'day', by: 'range', bounds: [10, 15, 20] } },
    })
    expect([14, 15, 19, 20, 9].map((day) => moves(plan, 'events', day))).toEqual([
      false,
      true,
      true,
      false,
      false,
    ])
    expect(placementsAfter(plan, ['a', 'b', 'c'], 'new')).toEqual(['a', 'b', 'new', 'c'])
    const last = planReshard(range, { split: { shard: 2, at: 30 } })
    expect(typeof last === 'string' ? last : last.scheme.tables.events?.bounds).toEqual([10, 20, 30])
  })

  it('refuses splits outside the shard, of hash tables, and shards that do not exist', () => {
    for (const at of [10, 9, 20, 25])
      expect(typeof planReshard(range, { split: { shard: 1, at } })).toBe('string')
    expect(
      planReshard({ shards: 2, tables: { t: { key: 'k', by: 'hash' } } }, { split: { shard: 0, at: 1 } }),
    ).toMatch(/hash/)
    expect(typeof planReshard(range, { move: { shard: 3, node: 'n' } })).toBe('string')
    const move = planReshard(range, { move: { shard: 2, node: 'n' } })
    if (typeof move === 'string') throw new Error(move)
    expect(placementsAfter(move, ['a', 'b', 'c'], 'new')).toEqual(['a', 'b', 'new'])
  })

  it('reads partition keys back from change-log row images', () => {
    expect(imageValue('{"day":12,"what":"x"}', 'DAY')).toBe(12)
    expect(imageValue('{"day":["r","1.5"]}', 'day')).toBe(1.5)
    expect(imageValue(null, 'day')).toBeUndefined()
  })
})

describe('router traffic', () => {
  it('counts exactly what falls in the sliding window', () => {
    const counter = new WindowCounter(60)
    counter.add(0, 5)
    counter.add(30_500)
    counter.add(59_999, 2)
    expect(counter.total(59_999)).toBe(8)
    expect(counter.total(60_000)).toBe(3)
    expect(counter.total(120_000)).toBe(0)
  })

  it('keeps every key above n/capacity, with counts over by at most their error', () => {
    const sketch = new SpaceSaving(4)
    const stream = [
      ...Array(50).fill('hot'),
      ...Array.from({ length: 40 }, (_, i) => `cold${i}`),
      ...Array(30).fill('warm'),
    ]
    for (const key of stream) sketch.add(key)
    const top = sketch.top(2)
    expect(top.map((h) => h.key)).toEqual(['hot', 'warm'])
    for (const hitter of top) {
      const truth = stream.filter((key) => key === hitter.key).length
      expect(hitter.count).toBeGreaterThanOrEqual(truth)
      expect(hitter.count - hitter.error).toBeLessThanOrEqual(truth)
    }
    const exact = new SpaceSaving(8)
    for (const key of ['a', 'b', 'a', 'c', 'a']) exact.add(key)
    expect(exact.top(1)).toEqual([{ key: 'a', count: 3, error: 0 }])
  })
})

/** The resharding plan and the router's traffic counters, as plain logic. */
import { describe, expect, it } from 'vitest'
import { evenHashBounds, hashPoint } from '../../workers/databases/partitions/hash-ranges'
import {
  imageValue,
  moves,
  placementsAfter,
  planReshard,
  type ReshardPlan,
  type ReshardRequest,
} from '../../workers/databases/partitions/reshard'
import { planStatement } from '../../workers/databases/partitions/route'
import {
  newScheme,
  type PartitionedTable,
  type PartitionScheme,
  schemeProblem,
  shardOfKey,
} from '../../workers/databases/partitions/scheme'
import { SpaceSaving, WindowCounter } from '../../workers/databases/partitions/traffic'
import { partitionKeyText } from '../../workers/databases/partitions/values'
import { hash32 } from '../../workers/platform/hashing'

const range: PartitionScheme = {
  shards: 3,
  tables: { events: { key: 'day', by: 'range', bounds: [10, 20] } },
}

function planned(scheme: PartitionScheme, request: ReshardRequest): ReshardPlan {
  const plan = planReshard(scheme, request)
  if (typeof plan === 'string' || 'conflict' in plan) throw new Error(JSON.stringify(plan))
  return plan
}

describe('resharding plans', () => {
  it('splits a range shard into two adjacent shards and inserts the placement after it', () => {
    const plan = planned(range, { split: { shard: 1, at: 15 } })
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
    const last = planned(range, { split: { shard: 2, at: 30 } })
    expect(last.scheme.tables.events?.bounds).toEqual([10, 20, 30])
  })

  it('refuses range splits outside the shard or without a bound, and shards that do not exist', () => {
    for (const at of [10, 9, 20, 25, undefined])
      expect(typeof planReshard(range, { split: { shard: 1, at } })).toBe('string')
    expect(typeof planReshard(range, { move: { shard: 3, node: 'n' } })).toBe('string')
    const move = planned(range, { move: { shard: 2, node: 'n' } })
    expect(placementsAfter(move, ['a', 'b', 'c'], 'new')).toEqual(['a', 'b', 'new'])
  })

  it('reads partition keys back from change-log row images', () => {
    expect(imageValue('{"day":12,"what":"x"}', 'DAY')).toBe(12)
    expect(imageValue('{"day":["r","1.5"]}', 'day')).toBe(1.5)
    expect(imageValue(null, 'day')).toBeUndefined()
  })
})

const hashed = newScheme({ shards: 3, tables: { Users: { key: 'id', by: 'hash' } } })
const users = hashed.tables.users as PartitionedTable

describe('hash ranges', () => {
  it('gives a new database even ranges of the hash space, and routes by the range of the hash', () => {
    expect(users.bounds).toEqual([1431655765, 2863311530])
    expect(evenHashBounds(2)).toEqual([2 ** 31])
    expect(schemeProblem(hashed)).toBeUndefined()
    const counts = [0, 0, 0]
    for (let id = 0; id < 3000; id++) {
      const shard = shardOfKey(hashed, users, id)
      const point = hashPoint(id)
      expect(
        point >= [0, ...(users.bounds as number[])][shard]! &&
          point < [...(users.bounds as number[]), 2 ** 32][shard]!,
      ).toBe(true)
      counts[shard]!++
    }
    for (const count of counts) expect(count).toBeGreaterThan(850)
    // 5, 5.0, '5' and ' 5 ' are one key to SQLite: one shard.
    expect(new Set([5, 5.0, '5', ' 5 ', 5n].map((id) => shardOfKey(hashed, users, id))).size).toBe(1)
    const plan = planStatement(hashed, 'SELECT * FROM users WHERE id = ?', {
      positional: [77],
      named: new Map(),
    })
    expect(plan).toMatchObject({ kind: 'one', shard: shardOfKey(hashed, users, 77) })
  })

  it('routes a scheme stored without hash bounds exactly as before (hash mod shards)', () => {
    const legacy: PartitionScheme = { shards: 3, tables: { users: { key: 'id', by: 'hash' } } }
    expect(schemeProblem(legacy)).toBeUndefined()
    for (const id of [0, 1, 42, 'abc', '7', 7.5, null, 12345678901234n])
      expect(shardOfKey(legacy, legacy.tables.users as PartitionedTable, id)).toBe(
        hash32(partitionKeyText(id)) % 3,
      )
    const conflict = planReshard(legacy, { split: { shard: 1 } })
    expect(conflict).toMatchObject({ conflict: expect.stringMatching(/hash mod 3/) })
    expect(planned(legacy, { move: { shard: 1, node: 'n' } }).kind).toBe('move')
  })

  it('splits a hash shard at the middle of its range by default, or strictly inside it at `at`', () => {
    const plan = planned(hashed, { split: { shard: 1 } })
    const [low, high] = users.bounds as [number, number]
    const middle = Math.floor((low + high) / 2)
    expect(plan).toMatchObject({ kind: 'split', source: 1, target: 2 })
    expect(plan.scheme.shards).toBe(4)
    expect(plan.scheme.tables.users?.bounds).toEqual([low, middle, high])
    for (let id = 0; id < 500; id++) {
      const point = hashPoint(id)
      expect(moves(plan, 'users', id)).toBe(point >= middle && point < high)
      // Rows outside the split shard keep their shard index (shifted past the new one).
      const before = shardOfKey(hashed, users, id)
      const after = shardOfKey(plan.scheme, plan.scheme.tables.users as PartitionedTable, id)
      expect(after).toBe(before < 1 ? before : before === 1 ? (point < middle ? 1 : 2) : before + 1)
    }
    expect(planned(hashed, { split: { shard: 2, at: high + 1 } }).scheme.tables.users?.bounds).toEqual([
      low,
      high,
      high + 1,
    ])
    expect(planned(hashed, { split: { shard: 0 } }).scheme.tables.users?.bounds?.[0]).toBe(
      Math.floor(low / 2),
    )
  })

  it('refuses hash bounds outside the range, on its edges, or not integers; and mixed schemes (409)', () => {
    const [low, high] = users.bounds as [number, number]
    for (const at of [low, high, low - 1, high + 5, low + 0.5, '2000000000', 0, 2 ** 32])
      expect(typeof planReshard(hashed, { split: { shard: 1, at } }), String(at)).toBe('string')
    expect(typeof planReshard(hashed, { split: { shard: 3 } })).toBe('string')
    const mixed = newScheme({
      shards: 2,
      tables: { users: { key: 'id', by: 'hash' }, events: { key: 'day', by: 'range', bounds: [10] } },
    })
    expect(planReshard(mixed, { split: { shard: 0, at: 5 } })).toMatchObject({
      conflict: expect.stringMatching(/both range- and hash/),
    })
    const narrow: PartitionScheme = { shards: 2, tables: { u: { key: 'id', by: 'hash', bounds: [1] } } }
    expect(planReshard(narrow, { split: { shard: 0 } })).toMatch(/too small/)
  })

  it('checks stored hash bounds', () => {
    const scheme = (bounds: unknown[]) =>
      ({ shards: 3, tables: { u: { key: 'id', by: 'hash', bounds } } }) as PartitionScheme
    expect(schemeProblem(scheme([10, 20]))).toBeUndefined()
    expect(schemeProblem(scheme([10]))).toMatch(/2 hash bounds/)
    expect(schemeProblem(scheme([20, 10]))).toMatch(/ascending/)
    expect(schemeProblem(scheme([0, 10]))).toMatch(/integers/)
    expect(schemeProblem(scheme([10, 2 ** 32]))).toMatch(/integers/)
    expect(schemeProblem(scheme([10, 'x']))).toMatch(/integers/)
    expect(schemeProblem(scheme([10.5, 20]))).toMatch(/integers/)
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

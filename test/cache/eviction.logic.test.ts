import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LFU_INIT_VAL, LfuEviction, LruEviction } from '../../workers/cache/eviction'
import { KEY_OVERHEAD_BYTES, Keyspace } from '../../workers/cache/keyspace'
import { seededRandom } from '../support/seeded'

/** The obvious model: keys in access order, victim first. */
class LruModel {
  order: string[] = []
  touch(key: string) {
    this.order = [...this.order.filter((k) => k !== key), key]
  }
  remove(key: string) {
    this.order = this.order.filter((k) => k !== key)
  }
}

describe('LRU', () => {
  it('evicts the least recently used key, in exact order', () => {
    const lru = new LruEviction(false)
    for (const key of ['a', 'b', 'c']) lru.insert(key, false)
    lru.touch('a')
    expect(lru.victim()).toBe('b')
    lru.remove('b')
    expect(lru.victim()).toBe('c')
    lru.insert('d', true)
    lru.touch('c')
    expect(lru.victim()).toBe('a')
  })

  it('volatile-lru only ever picks keys with a TTL', () => {
    const lru = new LruEviction(true)
    lru.insert('persistent', false)
    expect(lru.victim()).toBeUndefined()
    lru.insert('v1', true)
    lru.insert('v2', true)
    lru.touch('v1')
    expect(lru.victim()).toBe('v2')
  })

  it('matches the model on random operation sequences', () => {
    const op = fc.record({
      kind: fc.constantFrom('insert', 'touch', 'remove'),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      volatile: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const lru = new LruEviction(false)
        const model = new LruModel()
        for (const { kind, key, volatile } of ops) {
          if (kind === 'insert') {
            lru.insert(key, volatile)
            model.touch(key)
          } else if (kind === 'touch') {
            lru.touch(key)
            if (model.order.includes(key)) model.touch(key)
          } else {
            lru.remove(key)
            model.remove(key)
          }
          expect(lru.victim()).toBe(model.order[0])
        }
      }),
    )
  })

  it('a keyspace under a memory budget keeps exactly the most recently used keys', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            get: fc.boolean(),
            key: fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6'),
            size: fc.integer({ min: 1, max: 40 }),
          }),
          {
            maxLength: 80,
          },
        ),
        (ops) => {
          const maxmemory = 3 * (KEY_OVERHEAD_BYTES + 2 + 20)
          const ks = new Keyspace({ maxmemory, policy: 'lru', random: Math.random })
          const model = new LruModel()
          const sizes = new Map<string, number>()
          const used = () => [...sizes.values()].reduce((a, b) => a + b, 0)
          for (const { get, key, size } of ops) {
            if (get) {
              if (ks.read(key, 0)) model.touch(key)
            } else {
              // Before a write: evict to the budget (the Redis order), then write.
              while (used() > maxmemory) {
                const victim = model.order[0] as string
                model.remove(victim)
                sizes.delete(victim)
              }
              expect(ks.makeRoom(0)).toBe(true)
              ks.put(key, { type: 'string', data: 'x'.repeat(size) }, undefined, 0)
              model.touch(key)
              sizes.set(key, KEY_OVERHEAD_BYTES + key.length + size)
            }
            expect(new Set(ks.entries.keys())).toEqual(new Set(sizes.keys()))
            expect(ks.usedMemory).toBe(used())
          }
        },
      ),
    )
  })
})

describe('LFU (Redis-style logarithmic counter with decay)', () => {
  const always = () => 0
  it('evicts the least frequently used key; the older access breaks ties', () => {
    const lfu = new LfuEviction(always, 60_000)
    for (const key of ['a', 'b', 'c']) lfu.insert(key, false, 0)
    lfu.touch('a', 0)
    lfu.touch('a', 0)
    lfu.touch('c', 0)
    expect(lfu.counter('a')).toBe(LFU_INIT_VAL + 2)
    expect(lfu.victim(0)).toBe('b')
    lfu.touch('b', 0)
    // b and c both at 6 now: c was accessed before b.
    expect(lfu.victim(0)).toBe('c')
  })

  it('matches a counting model exactly when the coin always lands', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('touch', 'insert', 'remove'), fc.constantFrom('a', 'b', 'c', 'd')),
          { maxLength: 60 },
        ),
        (ops) => {
          const lfu = new LfuEviction(always, 60_000)
          const counts = new Map<string, { count: number; at: number }>()
          let clock = 0
          for (const [kind, key] of ops) {
            clock++
            if (kind === 'remove') {
              lfu.remove(key)
              counts.delete(key)
            } else if (kind === 'insert' || counts.has(key)) {
              lfu.insert(key, false, 0)
              const current = counts.get(key)
              counts.set(key, { count: current ? current.count + 1 : LFU_INIT_VAL, at: clock })
            }
            const expected = [...counts].sort((x, y) => x[1].count - y[1].count || x[1].at - y[1].at)[0]?.[0]
            expect(lfu.victim(0)).toBe(expected)
          }
        },
      ),
    )
  })

  it('grows logarithmically: the chance of an increment falls as the counter grows', () => {
    const lfu = new LfuEviction(seededRandom(7), 60_000)
    lfu.insert('hot', false, 0)
    for (let i = 0; i < 1_000; i++) lfu.touch('hot', 0)
    const after1k = lfu.counter('hot') as number
    for (let i = 0; i < 99_000; i++) lfu.touch('hot', 0)
    const after100k = lfu.counter('hot') as number
    // Redis's table for lfu-log-factor 10: ~18 after 1k hits, ~142 after 100k.
    expect(after1k).toBeGreaterThan(10)
    expect(after1k).toBeLessThan(30)
    expect(after100k).toBeGreaterThan(100)
    expect(after100k).toBeLessThan(200)
  })

  it('decays every counter by one per period, so an old favourite can be evicted', () => {
    const lfu = new LfuEviction(always, 60_000)
    lfu.insert('old', false, 0)
    for (let i = 0; i < 5; i++) lfu.touch('old', 0) // 10
    lfu.insert('new', false, 0) // 5
    expect(lfu.victim(0)).toBe('new')
    // Six periods later: old 10 → 4, new 5 → 0 ... then new is touched three times (3).
    lfu.touch('new', 6 * 60_000)
    expect(lfu.counter('old')).toBe(4)
    expect(lfu.counter('new')).toBe(1)
    for (let i = 0; i < 4; i++) lfu.touch('new', 6 * 60_000)
    expect(lfu.victim(6 * 60_000)).toBe('old')
  })
})

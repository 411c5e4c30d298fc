import { describe, expect, it } from 'vitest'
import { BoundedHeap, selectTop } from '../../workers/search/logic/topk'

function random(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 4294967296
  }
}

describe('top-k selection', () => {
  it('keeps the k smallest, best first', () => {
    const heap = new BoundedHeap<number>(3, (a, b) => a - b)
    for (const n of [5, 1, 9, 3, 7, 2, 8]) heap.offer(n)
    expect(heap.sorted()).toEqual([1, 2, 3])
    const none = new BoundedHeap<number>(0, (a, b) => a - b)
    none.offer(1)
    expect(none.sorted()).toEqual([])
  })

  it('with lower bounds, equals sorting by the exact keys, and makes few keys exact', () => {
    const next = random(7)
    for (let round = 0; round < 50; round++) {
      const items = Array.from({ length: 200 }, (_, id) => {
        const exact = Math.floor(next() * 100)
        return { id, exact, bound: exact - Math.floor(next() * 5) }
      })
      const limit = 1 + Math.floor(next() * 20)
      const compare = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1]
      let made = 0
      const top = selectTop(
        items,
        limit,
        compare,
        (item) => [item.bound, item.id] as [number, number],
        (item) => {
          made++
          return [item.exact, item.id] as [number, number]
        },
      )
      const expected = [...items].sort((a, b) => a.exact - b.exact || a.id - b.id).slice(0, limit)
      expect(top.map((entry) => entry.item.id)).toEqual(expected.map((item) => item.id))
      expect(made).toBeLessThan(items.length)
    }
  })
})

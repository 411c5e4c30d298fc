import { describe, expect, it } from 'vitest'
import { preferenceOrder } from '../../workers/kv/coordinator'
import { gainedHomes } from '../../workers/kv/rebalance'

const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`)
const three = ['node-0', 'node-1', 'node-2']
const four = [...three, 'node-3']

describe('ring changes', () => {
  it('adding a node moves only keys to that node, and leaves every other placement alone', () => {
    const spec = { ns: 't/ns/1', replicas: 2, from: three, to: four }
    let moved = 0
    for (const key of keys) {
      const gained = gainedHomes(spec, key)
      const before = preferenceOrder(three, spec.ns, key).slice(0, 2)
      const after = preferenceOrder(four, spec.ns, key).slice(0, 2)
      if (gained.length === 0) expect(after).toEqual(before)
      else {
        moved++
        expect(gained).toEqual(['node-3'])
        // the key keeps its other home
        expect(after.filter((node) => node !== 'node-3').every((node) => before.includes(node))).toBe(true)
      }
    }
    expect(moved).toBeGreaterThan(0)
    expect(moved).toBeLessThan(keys.length)
  })

  it('removing a node moves exactly the keys it was a home of', () => {
    const spec = { ns: 't/ns/1', replicas: 2, from: four, to: three }
    for (const key of keys) {
      const before = preferenceOrder(four, spec.ns, key).slice(0, 2)
      expect(gainedHomes(spec, key).length > 0).toBe(before.includes('node-3'))
    }
  })
})

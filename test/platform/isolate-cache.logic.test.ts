import { describe, expect, it } from 'vitest'
import { IsolateCache } from '../../workers/platform/isolate-cache'

describe('IsolateCache', () => {
  it('serves an entry until its TTL ends, and not a millisecond longer', () => {
    const cache = new IsolateCache<string>(5_000)
    cache.set('k', 'v', 1_000)
    expect(cache.lookup('k', 5_999)).toEqual({ value: 'v' })
    expect(cache.lookup('k', 6_000)).toBeUndefined()
    cache.set('short', 'v', 1_000, 10)
    expect(cache.lookup('short', 1_010)).toBeUndefined()
  })

  it('tells a cached undefined from a miss', () => {
    const cache = new IsolateCache<string | undefined>(1_000)
    cache.set('none', undefined, 0)
    expect(cache.lookup('none', 1)).toEqual({ value: undefined })
    expect(cache.lookup('other', 1)).toBeUndefined()
  })

  it('holds at most maxEntries, dropping the oldest first', () => {
    const cache = new IsolateCache<number>(1_000, 2)
    cache.set('a', 1, 0)
    cache.set('b', 2, 0)
    cache.set('a', 3, 0)
    cache.set('c', 4, 0)
    expect(cache.lookup('b', 1)).toBeUndefined()
    expect(cache.lookup('a', 1)).toEqual({ value: 3 })
    expect(cache.lookup('c', 1)).toEqual({ value: 4 })
    cache.delete('c')
    expect(cache.lookup('c', 1)).toBeUndefined()
  })
})

/** The position token of a partitioned database: one log position per shard, under the map's version. */
import { describe, expect, it } from 'vitest'
import { encodeShardPositions, parseShardPositions } from '../../workers/databases/routing'

describe('shard position tokens', () => {
  it('round-trip one position per shard', () => {
    const token = encodeShardPositions(3, [41, 0, 9_007_199])
    expect(token).toBe('3:41.0.9007199')
    expect(parseShardPositions(token, 3, 3)).toEqual([41, 0, 9_007_199])
    expect(parseShardPositions(` ${token} `, 3, 3)).toEqual([41, 0, 9_007_199])
  })

  it('ask every shard primary for a token of another map or shard count', () => {
    const primaries = [Infinity, Infinity, Infinity]
    expect(parseShardPositions('2:41.0.9', 3, 3)).toEqual(primaries)
    expect(parseShardPositions('3:41.0', 3, 3)).toEqual(primaries)
  })

  it('refuse malformed tokens and take an absent one as none', () => {
    expect(parseShardPositions(undefined, 1, 3)).toBeUndefined()
    expect(parseShardPositions('', 1, 3)).toBeUndefined()
    for (const bad of ['17', '1:', '1:1..2', '1:-1.2.3', 'x:1.2.3', '1:1.2.3;', `1:${'1.'.repeat(64)}1`])
      expect(parseShardPositions(bad, 1, 3), bad).toBe('invalid')
  })
})

import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { Int64Input } from '../../schemas/counters'
import {
  admitIncarnation,
  applyIncrement,
  fitsShardShare,
  INT64_MAX,
  INT64_MIN,
  incrementShard,
  isInt64,
  MAX_SHARDS,
  memberShard,
  planShardCount,
  SHARD_MAX,
  SHARD_MIN,
  sumShards,
  toJsonInteger,
} from '../../workers/counters/counter'
import { shardFor } from '../../workers/platform/hashing'

describe('int64 escrow', () => {
  it('splits the int64 range into 64 equal shares whose sum always fits int64', () => {
    expect(SHARD_MIN).toBe(-(2n ** 57n))
    expect(SHARD_MAX).toBe(2n ** 57n - 1n)
    expect(isInt64(SHARD_MAX * BigInt(MAX_SHARDS))).toBe(true)
    expect(isInt64(SHARD_MIN * BigInt(MAX_SHARDS))).toBe(true)
    expect(SHARD_MIN * BigInt(MAX_SHARDS)).toBe(INT64_MIN)
  })

  it('applies increments inside the share and refuses those that would leave it', () => {
    expect(applyIncrement(0n, 5n)).toEqual({ applied: true, value: 5n })
    expect(applyIncrement(5n, -12n)).toEqual({ applied: true, value: -7n })
    expect(applyIncrement(SHARD_MAX - 1n, 1n)).toEqual({ applied: true, value: SHARD_MAX })
    expect(applyIncrement(SHARD_MAX, 1n)).toEqual({ applied: false, reason: 'outside_shard_share' })
    expect(applyIncrement(SHARD_MIN, -1n)).toEqual({ applied: false, reason: 'outside_shard_share' })
    expect(applyIncrement(SHARD_MAX, SHARD_MIN)).toEqual({ applied: true, value: -1n })
  })

  it('knows which by values can never be applied', () => {
    expect(fitsShardShare(SHARD_MAX)).toBe(true)
    expect(fitsShardShare(SHARD_MIN)).toBe(true)
    expect(fitsShardShare(SHARD_MAX + 1n)).toBe(false)
    expect(fitsShardShare(INT64_MAX)).toBe(false)
  })

  it('writes integers as JSON numbers only when they are safe', () => {
    expect(toJsonInteger(0n)).toBe(0)
    expect(toJsonInteger(9007199254740991n)).toBe(9007199254740991)
    expect(toJsonInteger(-9007199254740991n)).toBe(-9007199254740991)
    expect(toJsonInteger(9007199254740992n)).toBe('9007199254740992')
    expect(toJsonInteger(INT64_MIN)).toBe('-9223372036854775808')
  })
})

describe('the by schema', () => {
  const parse = (input: unknown) => v.safeParse(Int64Input, input)

  it('takes safe JSON numbers and decimal strings within int64', () => {
    expect(parse(-42).output).toBe(-42n)
    expect(parse('9223372036854775807').output).toBe(INT64_MAX)
    expect(parse('-9223372036854775808').output).toBe(INT64_MIN)
    expect(parse('0').output).toBe(0n)
  })

  it('rejects fractions, unsafe numbers, malformed strings and values beyond int64', () => {
    for (const input of [
      1.5,
      2 ** 53,
      Number.NaN,
      '1.0',
      '01',
      '-0x1',
      ' 1',
      '',
      '9223372036854775808',
      true,
      null,
    ]) {
      expect(parse(input).success, String(input)).toBe(false)
    }
  })
})

describe('placement', () => {
  const placement = { shards: 16, hashedShards: 4 }

  it('spreads keyless increments uniformly over the current shards', () => {
    expect(incrementShard(placement, 0)).toBe(0)
    expect(incrementShard(placement, 0.999999)).toBe(15)
    const hits = new Array(16).fill(0)
    for (let i = 0; i < 1600; i++) hits[incrementShard(placement, (i + 0.5) / 1600)]++
    expect(hits.every((count) => count === 100)).toBe(true)
  })

  it('hashes idempotency keys and members over the fixed hashed shards, whatever N is', () => {
    for (const key of ['a', 'order-17', 'ü', 'x'.repeat(255)]) {
      const shard = incrementShard(placement, 0.7, key)
      expect(shard).toBe(shardFor(key, 4))
      expect(incrementShard({ shards: 64, hashedShards: 4 }, 0.1, key)).toBe(shard)
      expect(memberShard({ shards: 64, hashedShards: 4 }, key)).toBe(memberShard(placement, key))
    }
  })

  it('only grows', () => {
    expect(planShardCount(4, 16)).toBe('grow')
    expect(planShardCount(4, 4)).toBe('unchanged')
    expect(planShardCount(16, 4)).toBe('shrink_refused')
  })

  it('sums shards exactly beyond 2^53', () => {
    const total = sumShards([
      { value: 2n ** 56n, members: 3 },
      { value: 2n ** 56n, members: 4 },
      { value: -1n, members: 0 },
    ])
    expect(total).toEqual({ value: 2n ** 57n - 1n, members: 7 })
  })
})

describe('incarnations', () => {
  it('adopts the first and newer incarnations, refuses older and retired ones', () => {
    expect(admitIncarnation(undefined, 1)).toBe('adopt')
    expect(admitIncarnation({ incarnation: 1, retired: false }, 1)).toBe('current')
    expect(admitIncarnation({ incarnation: 1, retired: false }, 2)).toBe('adopt')
    expect(admitIncarnation({ incarnation: 1, retired: true }, 2)).toBe('adopt')
    expect(admitIncarnation({ incarnation: 2, retired: false }, 1)).toBe('stale')
    expect(admitIncarnation({ incarnation: 2, retired: true }, 2)).toBe('retired')
  })
})

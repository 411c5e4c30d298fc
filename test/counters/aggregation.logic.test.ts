import { describe, expect, it } from 'vitest'
import {
  ageMs,
  aggregate,
  BROADCAST_INTERVAL_MS,
  coalescedDueAt,
  MAX_AGE_MS,
  mergeRecord,
  needsResum,
  type ShardRecord,
  totalChanged,
} from '../../workers/counters/aggregation'

const record = (
  shard: number,
  version: number,
  value: bigint,
  knownAt: number,
  members = 0,
): ShardRecord => ({
  shard,
  version,
  value,
  members,
  knownAt,
})

describe('records', () => {
  it('keeps the newer state and the latest knownAt, whatever order reports arrive in', () => {
    const older = record(0, 3, 30n, 1_000)
    const newer = record(0, 5, 50n, 900)
    expect(mergeRecord(undefined, older)).toEqual(older)
    expect(mergeRecord(older, newer)).toEqual({ ...newer, knownAt: 1_000 })
    expect(mergeRecord(newer, older)).toEqual({ ...newer, knownAt: 1_000 })
    expect(mergeRecord(newer, record(0, 5, 50n, 2_000)).knownAt).toBe(2_000)
  })

  it('sums shards 0..N-1; the oldest knownAt is the age, a missing shard is infinitely old', () => {
    const records = new Map([
      [0, record(0, 1, 10n, 5_000, 2)],
      [1, record(1, 1, -3n, 4_000, 1)],
      [7, record(7, 1, 100n, 6_000)],
    ])
    expect(aggregate(records, 2)).toEqual({ value: 7n, members: 3, asOf: 4_000 })
    expect(aggregate(records, 3)).toEqual({ value: 7n, members: 3, asOf: 0 })
    expect(aggregate(new Map(), 0)).toEqual({ value: 0n, members: 0, asOf: 0 })
  })
})

describe('age bound', () => {
  it('re-sums only past MAX_AGE_MS', () => {
    expect(needsResum(10_000, 10_000 + MAX_AGE_MS)).toBe(false)
    expect(needsResum(10_000, 10_000 + MAX_AGE_MS + 1)).toBe(true)
    expect(needsResum(0, 10_000)).toBe(true)
    expect(ageMs(10_000, 10_250)).toBe(250)
    expect(ageMs(10_000, 9_990)).toBe(0)
  })
})

describe('coalescing', () => {
  it('runs at once after a quiet period and no sooner than the interval after the last run', () => {
    expect(coalescedDueAt(undefined, 5_000, BROADCAST_INTERVAL_MS)).toBe(5_000)
    expect(coalescedDueAt(4_000, 5_000, BROADCAST_INTERVAL_MS)).toBe(5_000)
    expect(coalescedDueAt(4_950, 5_000, BROADCAST_INTERVAL_MS)).toBe(5_050)
  })

  it('never schedules more than 10 broadcasts in a second of constant change', () => {
    let last: number | undefined
    const runs: number[] = []
    for (let now = 0; now < 1_000; now++) {
      const due = coalescedDueAt(last, now, BROADCAST_INTERVAL_MS)
      if (due <= now) {
        runs.push(now)
        last = now
      }
    }
    expect(runs).toHaveLength(10)
  })

  it('sends only news', () => {
    expect(totalChanged(undefined, { value: 0n, members: 0 })).toBe(true)
    expect(totalChanged({ value: 1n, members: 0 }, { value: 1n, members: 0 })).toBe(false)
    expect(totalChanged({ value: 1n, members: 0 }, { value: 1n, members: 1 })).toBe(true)
  })
})

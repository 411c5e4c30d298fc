import { describe, expect, it } from 'vitest'
import { GENERATOR_LEASE_MS, grantLease, type LeaseRow, shouldRenew } from '../../workers/sequencer/leases'
import {
  composeSnowflake,
  DEFAULT_SNOWFLAKE_EPOCH_MS,
  decodeSnowflake,
  issueUnderLease,
  type LeasedSnowflakeState,
  LeaseWindowExceeded,
  MAX_ELAPSED_MS,
  MAX_SNOWFLAKE,
  parseSnowflake,
  SnowflakeGenerator,
  startingAt,
} from '../../workers/sequencer/snowflake'
import { randomInt, seededRandom } from '../support/seeded'

const EPOCH = DEFAULT_SNOWFLAKE_EPOCH_MS
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0)

function expectStrictlyIncreasing(ids: bigint[]) {
  for (let i = 1; i < ids.length; i++) {
    if (!((ids[i] as bigint) > (ids[i - 1] as bigint))) {
      throw new Error(`ids[${i}] = ${ids[i]} is not above ids[${i - 1}] = ${ids[i - 1]}`)
    }
  }
}

describe('Snowflake layout', () => {
  it('packs 41 bits of ms since the epoch, 10 bits of generator ID and 12 bits of sequence', () => {
    expect(composeSnowflake({ timestampMs: EPOCH + 1, generatorId: 1, sequence: 2 })).toBe(
      (1n << 22n) | (1n << 12n) | 2n,
    )
    const largest = { timestampMs: EPOCH + MAX_ELAPSED_MS, generatorId: 1023, sequence: 4095 }
    expect(composeSnowflake(largest)).toBe(MAX_SNOWFLAKE)
    expect(MAX_SNOWFLAKE).toBe(2n ** 63n - 1n)
    expect(decodeSnowflake(MAX_SNOWFLAKE)).toEqual(largest)
  })

  it('decodes what it composes, with any epoch', () => {
    const random = seededRandom(7)
    for (let i = 0; i < 1_000; i++) {
      const epochMs = randomInt(random, 0, T0)
      const parts = {
        timestampMs: epochMs + randomInt(random, 0, MAX_ELAPSED_MS),
        generatorId: randomInt(random, 0, 1023),
        sequence: randomInt(random, 0, 4095),
      }
      expect(decodeSnowflake(composeSnowflake(parts, epochMs), epochMs)).toEqual(parts)
    }
  })

  it('parses decimal strings in 0..2^63-1 only', () => {
    expect(parseSnowflake('0')).toBe(0n)
    expect(parseSnowflake('9223372036854775807')).toBe(MAX_SNOWFLAKE)
    for (const bad of ['', 'abc', '-1', '1.5', ' 1', '9223372036854775808', '99999999999999999999', '0x10']) {
      expect(parseSnowflake(bad), bad).toBeUndefined()
    }
  })

  it('refuses timestamps before the epoch or past 2^41 ms after it, and generator IDs past 1023', () => {
    expect(() => new SnowflakeGenerator({ generatorId: 1024 })).toThrow(RangeError)
    expect(() => new SnowflakeGenerator({ generatorId: -1 })).toThrow(RangeError)
    expect(() => new SnowflakeGenerator({ generatorId: 0 }).next(EPOCH - 1)).toThrow(RangeError)
    expect(() => new SnowflakeGenerator({ generatorId: 0 }).next(EPOCH + MAX_ELAPSED_MS + 1)).toThrow(
      RangeError,
    )
  })
})

describe('SnowflakeGenerator', () => {
  it('starts each new millisecond at sequence 0', () => {
    const generator = new SnowflakeGenerator({ generatorId: 5 })
    const first = decodeSnowflake(generator.next(T0))
    const second = decodeSnowflake(generator.next(T0 + 3))
    expect(first).toEqual({ timestampMs: T0, generatorId: 5, sequence: 0 })
    expect(second).toEqual({ timestampMs: T0 + 3, generatorId: 5, sequence: 0 })
  })

  it('overflows the sequence into the next millisecond when the clock stands still', () => {
    const generator = new SnowflakeGenerator({ generatorId: 3 })
    const ids = generator.take(10_000, T0)
    expectStrictlyIncreasing(ids)
    expect(new Set(ids).size).toBe(10_000)
    const parts = ids.map((id) => decodeSnowflake(id))
    expect(parts[4095]).toEqual({ timestampMs: T0, generatorId: 3, sequence: 4095 })
    expect(parts[4096]).toEqual({ timestampMs: T0 + 1, generatorId: 3, sequence: 0 })
    expect(parts[9999]).toEqual({ timestampMs: T0 + 2, generatorId: 3, sequence: 10_000 - 8192 - 1 })
    expect(generator.last).toEqual({ timestampMs: T0 + 2, sequence: 1807 })
  })

  it('never repeats or goes backwards with an injected clock that jumps backwards', () => {
    const random = seededRandom(42)
    const generator = new SnowflakeGenerator({ generatorId: 9 })
    let clock = T0
    let highestClock = clock
    const ids: bigint[] = []
    for (let step = 0; step < 2_000; step++) {
      const jump = random()
      if (jump < 0.2)
        clock -= randomInt(random, 1, 5_000) // NTP step backwards
      else if (jump < 0.3) clock -= 1
      else if (jump < 0.8) clock += randomInt(random, 0, 3)
      highestClock = Math.max(highestClock, clock)
      const batch = generator.take(randomInt(random, 1, 100), clock)
      ids.push(...batch)
      // never below the highest clock reading seen: no smaller ID than before
      expect(decodeSnowflake(batch[0] as bigint).timestampMs).toBeGreaterThanOrEqual(highestClock)
    }
    expectStrictlyIncreasing(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('continues above its last ID from persisted state (a restart)', () => {
    const before = new SnowflakeGenerator({ generatorId: 1 })
    const issued = before.take(5_000, T0)
    const restarted = new SnowflakeGenerator({ generatorId: 1 }, before.last)
    const after = restarted.take(5_000, T0 - 60_000) // even with a clock an hour behind
    expectStrictlyIncreasing([...issued, ...after])
  })

  it('startingAt makes the next ID the first at a floor, above the last one', () => {
    const generator = new SnowflakeGenerator(
      { generatorId: 2 },
      startingAt({ timestampMs: T0, sequence: 7 }, T0 + 50),
    )
    expect(decodeSnowflake(generator.next(T0))).toEqual({ timestampMs: T0 + 50, generatorId: 2, sequence: 0 })
    const above = new SnowflakeGenerator(
      { generatorId: 2 },
      startingAt({ timestampMs: T0, sequence: 7 }, T0 - 50),
    )
    expect(decodeSnowflake(above.next(T0))).toEqual({ timestampMs: T0 + 1, generatorId: 2, sequence: 0 })
  })
})

describe('issueUnderLease', () => {
  const lease = (generatorId: number, issueFromMs: number, expiresAtMs: number): LeaseRow => ({
    generatorId,
    holder: 'g',
    issueFromMs,
    expiresAtMs,
  })

  it('issues nothing past the lease window', () => {
    const last: LeasedSnowflakeState = { epochMs: EPOCH, generatorId: 0, timestampMs: T0 + 9, sequence: 0 }
    expect(() => issueUnderLease(last, lease(0, 0, T0 + 10), 4_096, T0)).toThrow(LeaseWindowExceeded)
    expect(issueUnderLease(last, lease(0, 0, T0 + 10), 4_095, T0).state).toMatchObject({
      timestampMs: T0 + 9,
    })
  })

  it('a new holder of a generator ID starts at the previous holder’s expiry: their IDs never meet', () => {
    const expiry = T0 + 1_000
    const a = issueUnderLease(undefined, lease(0, 0, expiry), 10_000, expiry - 3)
    const b = issueUnderLease(undefined, lease(0, expiry, expiry + GENERATOR_LEASE_MS), 10_000, T0)
    expect(b.ids[0] as bigint).toBeGreaterThan(a.ids.at(-1) as bigint)
    expect(decodeSnowflake(b.ids[0] as bigint).timestampMs).toBe(expiry)
  })

  it('taking back its old generator ID after someone else held it starts above their window', () => {
    const firstWindowEnd = T0 + GENERATOR_LEASE_MS
    const a = issueUnderLease(undefined, lease(0, 0, firstWindowEnd), 10, T0)
    const secondWindowEnd = firstWindowEnd + GENERATOR_LEASE_MS // b held ID 0 in between
    const again = issueUnderLease(
      a.state,
      lease(0, secondWindowEnd, secondWindowEnd + GENERATOR_LEASE_MS),
      10,
      T0,
    )
    expect(decodeSnowflake(again.ids[0] as bigint)).toMatchObject({
      timestampMs: secondWindowEnd,
      generatorId: 0,
    })
  })

  it('switching generator ID keeps the IDs increasing', () => {
    const first = issueUnderLease(undefined, lease(7, 0, T0 + GENERATOR_LEASE_MS), 100, T0)
    const second = issueUnderLease(first.state, lease(1, 0, T0 + GENERATOR_LEASE_MS), 100, T0)
    expect(second.ids[0] as bigint).toBeGreaterThan(first.ids.at(-1) as bigint)
    expect(second.state.generatorId).toBe(1)
  })

  it('refuses to issue under a changed epoch', () => {
    const issued = issueUnderLease(undefined, lease(0, 0, T0 + GENERATOR_LEASE_MS), 1, T0, EPOCH)
    expect(() =>
      issueUnderLease(issued.state, lease(0, 0, T0 + GENERATOR_LEASE_MS), 1, T0, EPOCH + 1),
    ).toThrow(/epoch changed/)
  })

  it('keeps IDs unique across generators that come and go, with skewed clocks and one registry', () => {
    const random = seededRandom(2024)
    let registry: LeaseRow[] = []
    let registryClock = T0
    interface Holder {
      name: string
      skewMs: number
      state?: LeasedSnowflakeState
      lease?: LeaseRow
    }
    let serial = 0
    // Clock skews up to twice the lease duration, and coarse clocks (10 s steps), so that
    // holders of one generator ID would meet on the same milliseconds without the windows.
    const newHolder = (): Holder => ({ name: `g${serial++}`, skewMs: randomInt(random, -120, 120) * 10_000 })
    const coarse = (ms: number) => Math.floor(ms / 10_000) * 10_000
    const holders = Array.from({ length: 6 }, newHolder)
    const dormant: Holder[] = []
    const seen = new Set<bigint>()
    let issued = 0
    let takeovers = 0

    const renew = (holder: Holder, holderClock: number) => {
      const granted = grantLease(registry, {
        holder: holder.name,
        holderTimeMs: Math.max(holderClock, holder.state?.timestampMs ?? 0),
        nowMs: registryClock,
        durationMs: GENERATOR_LEASE_MS,
      })
      if (!granted) throw new Error('registry full')
      if (granted.issueFromMs > 0 && granted.holder !== holder.lease?.holder) takeovers++
      registry = [
        ...registry.filter((r) => r.generatorId !== granted.generatorId && r.holder !== holder.name),
        granted,
      ]
      holder.lease = granted
    }

    for (let step = 0; step < 1_500; step++) {
      registryClock += randomInt(random, 0, 20_000)
      const index = randomInt(random, 0, holders.length - 1)
      if (random() < 0.05) {
        // The holder goes idle (its lease lingers until it expires); an idle one wakes up
        // with its persisted state, or a new one starts.
        const waking = dormant.length > 0 && random() < 0.5
        const next = waking ? dormant.splice(randomInt(random, 0, dormant.length - 1), 1)[0] : newHolder()
        dormant.push(holders[index] as Holder)
        holders[index] = next as Holder
        continue
      }
      const holder = holders[index] as Holder
      const holderClock = coarse(
        registryClock + holder.skewMs - (random() < 0.1 ? randomInt(random, 0, 30_000) : 0),
      )
      if (!holder.lease || shouldRenew(holder.lease, holderClock, GENERATOR_LEASE_MS))
        renew(holder, holderClock)
      let batch: ReturnType<typeof issueUnderLease>
      try {
        batch = issueUnderLease(
          holder.state,
          holder.lease as LeaseRow,
          randomInt(random, 1, 1_000),
          holderClock,
        )
      } catch (error) {
        if (!(error instanceof LeaseWindowExceeded)) throw error
        renew(holder, holderClock)
        batch = issueUnderLease(
          holder.state,
          holder.lease as LeaseRow,
          randomInt(random, 1, 1_000),
          holderClock,
        )
      }
      const previous = holder.state && composeSnowflake(holder.state, EPOCH)
      if (previous !== undefined) expect(batch.ids[0] as bigint).toBeGreaterThan(previous)
      for (const id of batch.ids) {
        if (seen.has(id)) throw new Error(`duplicate ${id} from ${holder.name}`)
        seen.add(id)
      }
      issued += batch.ids.length
      holder.state = batch.state
    }
    expect(seen.size).toBe(issued)
    expect(issued).toBeGreaterThan(500_000)
    expect(takeovers).toBeGreaterThan(10) // generator IDs really changed hands
    expect(new Set(registry.map((row) => row.generatorId)).size).toBe(registry.length)
  })
})

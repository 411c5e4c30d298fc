// Every load-balancing algorithm against its stated guarantee, over 10,000 seeded picks.
import { describe, expect, it } from 'vitest'
import type { Algorithm } from '../../schemas/lb'
import { type Candidate, initialPickState, nextEwma, type PickState, pick } from '../../workers/lb/algorithms'
import { maglevLookup, maglevTable } from '../../workers/platform/hashing'
import { seededRandom } from '../support/seeded'

const PICKS = 10_000

function candidates(weights: number[]): Candidate[] {
  return weights.map((weight, i) => ({ name: `o${i}`, weight, outstanding: 0, ewmaMs: undefined }))
}

/** Picks `PICKS` times; `onPick` may change the candidates (outstanding counts) between picks. */
function run(algorithm: Algorithm, list: Candidate[], seed = 1, key?: (i: number) => string) {
  const random = seededRandom(seed)
  let state: PickState = initialPickState()
  const counts = new Map<string, number>(list.map((c) => [c.name, 0]))
  const sequence: string[] = []
  for (let i = 0; i < PICKS; i++) {
    const chosen = pick(algorithm, { candidates: list, state, random, key: key?.(i) })
    state = chosen.state
    counts.set(chosen.name, (counts.get(chosen.name) ?? 0) + 1)
    sequence.push(chosen.name)
  }
  return { counts, sequence }
}

describe('round robin', () => {
  it('gives each of N origins exactly k of k·N picks, in turn', () => {
    const { counts, sequence } = run('round_robin', candidates([1, 5, 1, 1]))
    for (const count of counts.values()) expect(count).toBe(PICKS / 4)
    expect(sequence.slice(0, 8)).toEqual(['o0', 'o1', 'o2', 'o3', 'o0', 'o1', 'o2', 'o3'])
  })
})

describe('smooth weighted round robin', () => {
  it('gives exactly w_i of every W consecutive picks, without bursts', () => {
    const weights = [5, 1, 1, 3]
    const W = 10
    const { sequence } = run('weighted_round_robin', candidates(weights))
    for (let start = 0; start + W <= 1000; start += W) {
      const window = sequence.slice(start, start + W)
      weights.forEach((w, i) => {
        expect(window.filter((n) => n === `o${i}`).length).toBe(w)
      })
    }
    // nginx's example: weights 5,1,1 give a a b a c a a — never five in a row.
    const nginx = run('weighted_round_robin', candidates([5, 1, 1])).sequence.slice(0, 7)
    expect(nginx).toEqual(['o0', 'o0', 'o1', 'o0', 'o2', 'o0', 'o0'])
  })
})

describe('random', () => {
  it('lands on each origin in proportion to its weight (within 3σ)', () => {
    const weights = [1, 2, 3, 4]
    const { counts } = run('random', candidates(weights), 7)
    weights.forEach((w, i) => {
      const p = w / 10
      const sigma = Math.sqrt(PICKS * p * (1 - p))
      expect(Math.abs((counts.get(`o${i}`) ?? 0) - PICKS * p)).toBeLessThan(3 * sigma)
    })
  })
})

describe('least outstanding and power of two choices', () => {
  /** Requests that stay in flight for a while: each pick adds one, a seeded share completes. */
  function inFlight(algorithm: Algorithm, slow: string, list = candidates([1, 1, 1, 1])) {
    const random = seededRandom(3)
    let state = initialPickState()
    const counts = new Map<string, number>()
    let maxSpread = 0
    let notLeast = 0
    for (let i = 0; i < PICKS; i++) {
      const chosen = pick(algorithm, { candidates: list, state, random })
      state = chosen.state
      const c = list.find((x) => x.name === chosen.name) as Candidate
      if (c.outstanding > Math.min(...list.map((o) => o.outstanding))) notLeast++
      c.outstanding++
      counts.set(c.name, (counts.get(c.name) ?? 0) + 1)
      // Every origin finishes requests, the slow one four times less often.
      for (const o of list)
        if (o.outstanding > 0 && random() < (o.name === slow ? 0.06 : 0.25)) o.outstanding--
      const loads = list.map((o) => o.outstanding)
      maxSpread = Math.max(maxSpread, Math.max(...loads) - Math.min(...loads))
    }
    return { counts, maxSpread, notLeast }
  }

  it('least outstanding always picks an origin with the fewest in flight and sends less to a slow origin', () => {
    const { counts, notLeast } = inFlight('least_outstanding', 'o0')
    expect(notLeast).toBe(0)
    for (const name of ['o1', 'o2', 'o3']) expect(counts.get('o0') ?? 0).toBeLessThan(counts.get(name) ?? 0)
  })

  it('power of two choices sends less to the slow origin and bounds the spread', () => {
    const { counts, maxSpread } = inFlight('power_of_two', 'o0')
    expect(maxSpread).toBeLessThan(12)
    for (const name of ['o1', 'o2', 'o3']) expect(counts.get('o0') ?? 0).toBeLessThan(counts.get(name) ?? 0)
  })

  it('power of two choices spreads evenly when origins are equal (within 3σ)', () => {
    const { counts } = run('power_of_two', candidates([1, 1, 1, 1]), 11)
    const sigma = Math.sqrt(PICKS * 0.25 * 0.75)
    for (const count of counts.values()) expect(Math.abs(count - PICKS / 4)).toBeLessThan(3 * sigma)
  })
})

describe('least response time (peak EWMA)', () => {
  it('sends most traffic to the fastest origin and some to every origin under load', () => {
    const list = candidates([1, 1, 1]).map((c, i) => ({ ...c, ewmaMs: [5, 20, 80][i] }))
    const random = seededRandom(5)
    let state = initialPickState()
    const counts = new Map<string, number>()
    for (let i = 0; i < PICKS; i++) {
      const chosen = pick('least_response_time', { candidates: list, state, random })
      state = chosen.state
      const c = list.find((x) => x.name === chosen.name) as Candidate
      c.outstanding++
      counts.set(c.name, (counts.get(c.name) ?? 0) + 1)
      // An origin finishes requests at a rate inverse to its latency.
      for (const o of list) if (o.outstanding > 0 && random() < 2 / (o.ewmaMs ?? 1)) o.outstanding--
    }
    expect(counts.get('o0') ?? 0).toBeGreaterThan(counts.get('o1') ?? 0)
    expect(counts.get('o1') ?? 0).toBeGreaterThan(counts.get('o2') ?? 0)
    expect(counts.get('o2') ?? 0).toBeGreaterThan(0)
  })

  it('counts a slow answer at once and decays towards fast answers over time', () => {
    expect(nextEwma(10, 100, 1)).toBe(100)
    expect(nextEwma(100, 10, 10_000)).toBeCloseTo(100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))
    expect(nextEwma(undefined, 42, 0)).toBe(42)
  })
})

describe('ring hash and maglev', () => {
  const key = (i: number) => `client-${i}`
  for (const algorithm of ['ring_hash', 'maglev'] as const) {
    it(`${algorithm}: one key, one origin; a removed origin moves at most 1/N + ε of keys, only its own`, () => {
      const N = 5
      const all = candidates(new Array(N).fill(1))
      const before = run(algorithm, all, 1, key).sequence
      const after = run(
        algorithm,
        all.filter((c) => c.name !== 'o2'),
        1,
        key,
      ).sequence
      let moved = 0
      let movedFromOthers = 0
      before.forEach((name, i) => {
        if (after[i] !== name) {
          moved++
          if (name !== 'o2') movedFromOthers++
        }
      })
      expect(moved / PICKS).toBeLessThanOrEqual(1 / N + 0.05)
      if (algorithm === 'ring_hash') expect(movedFromOthers).toBe(0)
      else expect(movedFromOthers / PICKS).toBeLessThan(0.02)
      // Same key, same origin.
      expect(run(algorithm, all, 9, key).sequence).toEqual(before)
      // Spread: every origin owns a fair share.
      const counts = run(algorithm, all, 1, key).counts
      for (const count of counts.values())
        expect(count / PICKS).toBeGreaterThan(algorithm === 'maglev' ? 0.17 : 0.12)
    })
  }

  it('maglev fills its table evenly: every node owns ⌊M/N⌋ or ⌈M/N⌉ slots', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
    const table = maglevTable(nodes, 65_537)
    const owned = new Array(nodes.length).fill(0)
    for (const slot of table) owned[slot]++
    for (const n of owned) expect(Math.abs(n - 65_537 / nodes.length)).toBeLessThanOrEqual(1)
    expect(maglevLookup(table, nodes, 'x')).toBe(maglevLookup(table, nodes, 'x'))
  })
})

/**
 * Load-balancing algorithms: pure picks over the candidates a pool can use right now.
 * Randomness and state come in and go out; nothing here reads a clock or does I/O.
 *
 * Guarantees (N candidates, weights w_i, W = Σ w_i) and costs:
 * - `round_robin`: every candidate in turn, weights ignored; over k·N picks each gets
 *   exactly k. O(1).
 * - `weighted_round_robin` (nginx's smooth WRR): over any W consecutive picks each gets
 *   exactly w_i, spread evenly (no bursts of one origin). O(N).
 * - `random`: weighted random; each pick lands on i with probability w_i / W. O(N).
 * - `least_outstanding`: the fewest requests in flight per unit of weight; ties rotate.
 *   Keeps in-flight counts within one request of proportional. O(N).
 * - `power_of_two`: two weighted-random candidates, the one with fewer in flight
 *   (Mitzenmacher: max load log log N instead of log N). O(N).
 * - `least_response_time`: power of two over cost = EWMA latency × (in flight + 1) / weight
 *   (Finagle's and Linkerd's peak-EWMA); a slower origin gets less. O(N).
 * - `ring_hash`: consistent hashing of the request key on a ring (128 points per origin):
 *   a key stays on its origin while it is up; removing one of N origins moves only the keys
 *   it owned (≈ 1/N). O(log(128 N)) a pick, O(128 N log) to build (cached per membership).
 * - `maglev`: Maglev's table (65,537 slots): balance within one slot, ≈ 1/N disruption on
 *   removal, O(1) a pick, O(65,537) to build (cached per membership).
 */
import type { Algorithm } from '../../schemas/lb'
import { ConsistentHashRing, maglevLookup, maglevTable } from '../platform/hashing'

export interface Candidate {
  name: string
  /** Weight after slow start; > 0. */
  weight: number
  outstanding: number
  /** Latency EWMA in ms; undefined before the first answer. */
  ewmaMs: number | undefined
}

/** What an algorithm carries between picks (kept by the pool object). */
export interface PickState {
  next: number
  /** Smooth WRR's current weights by origin name. */
  current: Record<string, number>
}

export const initialPickState = (): PickState => ({ next: 0, current: {} })

export interface PickInput {
  candidates: readonly Candidate[]
  state: PickState
  /** A uniform number in [0, 1) per call. */
  random: () => number
  /** The hash key of `ring_hash` / `maglev`. */
  key?: string | undefined
}

export interface Pick {
  name: string
  state: PickState
}

function weightedRandom(candidates: readonly Candidate[], random: () => number): Candidate {
  const total = candidates.reduce((sum, c) => sum + c.weight, 0)
  let point = random() * total
  for (const candidate of candidates) {
    point -= candidate.weight
    if (point < 0) return candidate
  }
  return candidates[candidates.length - 1] as Candidate
}

function twoChoices(
  candidates: readonly Candidate[],
  random: () => number,
  cost: (c: Candidate) => number,
): Candidate {
  const first = weightedRandom(candidates, random)
  if (candidates.length === 1) return first
  const rest = candidates.filter((c) => c !== first)
  const second = weightedRandom(rest, random)
  return cost(second) < cost(first) ? second : first
}

/** Smooth weighted round robin: add each weight to its current, pick the largest, subtract W. */
function smoothWeighted(candidates: readonly Candidate[], state: PickState): Pick {
  const current: Record<string, number> = {}
  let total = 0
  let best: Candidate | undefined
  for (const candidate of candidates) {
    const value = (state.current[candidate.name] ?? 0) + candidate.weight
    current[candidate.name] = value
    total += candidate.weight
    if (!best || value > (current[best.name] ?? 0)) best = candidate
  }
  const chosen = best as Candidate
  current[chosen.name] = (current[chosen.name] ?? 0) - total
  return { name: chosen.name, state: { next: state.next, current } }
}

const hashTables = new Map<string, { ring?: ConsistentHashRing; maglev?: Uint16Array; names: string[] }>()

function hashTable(names: string[]) {
  const signature = names.join('\n')
  let entry = hashTables.get(signature)
  if (!entry) {
    if (hashTables.size >= 64) hashTables.delete(hashTables.keys().next().value as string)
    entry = { names }
    hashTables.set(signature, entry)
  }
  return entry
}

/** The pick of `algorithm`; `candidates` must not be empty. */
export function pick(algorithm: Algorithm, input: PickInput): Pick {
  const { candidates, state, random } = input
  if (candidates.length === 0) throw new RangeError('pick: no candidates')
  const rotate = (list: readonly Candidate[]) => list[state.next % list.length] as Candidate
  const advanced = { ...state, next: (state.next + 1) % 1_000_000_007 }
  switch (algorithm) {
    case 'round_robin':
      return { name: rotate(candidates).name, state: advanced }
    case 'weighted_round_robin':
      return smoothWeighted(candidates, state)
    case 'random':
      return { name: weightedRandom(candidates, random).name, state }
    case 'least_outstanding': {
      const load = (c: Candidate) => (c.outstanding + 1) / c.weight
      const least = Math.min(...candidates.map(load))
      return { name: rotate(candidates.filter((c) => load(c) === least)).name, state: advanced }
    }
    case 'power_of_two':
      return { name: twoChoices(candidates, random, (c) => c.outstanding / c.weight).name, state }
    case 'least_response_time': {
      const known = candidates.filter((c) => c.ewmaMs !== undefined)
      const mean = known.length ? known.reduce((s, c) => s + (c.ewmaMs ?? 0), 0) / known.length : 1
      // An origin without a measurement yet costs the mean, so it is tried but not flooded.
      const cost = (c: Candidate) => (((c.ewmaMs ?? mean) + 0.001) * (c.outstanding + 1)) / c.weight
      return { name: twoChoices(candidates, random, cost).name, state }
    }
    case 'ring_hash':
    case 'maglev': {
      const names = candidates.map((c) => c.name).sort()
      const table = hashTable(names)
      const key = input.key ?? String(random())
      if (algorithm === 'ring_hash') {
        table.ring ??= new ConsistentHashRing(names)
        return { name: table.ring.nodeFor(key) as string, state }
      }
      table.maglev ??= maglevTable(names)
      return { name: maglevLookup(table.maglev, names, key) as string, state }
    }
  }
}

/** Latency EWMA with a time constant (Finagle's peak EWMA decays by elapsed time, τ = 10 s). */
export function nextEwma(previous: number | undefined, sampleMs: number, elapsedMs: number, tauMs = 10_000) {
  if (previous === undefined) return sampleMs
  if (sampleMs > previous) return sampleMs // peak: a slow answer counts at once
  const decay = Math.exp(-Math.max(0, elapsedMs) / tauMs)
  return previous * decay + sampleMs * (1 - decay)
}

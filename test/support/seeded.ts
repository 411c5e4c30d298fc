/** Deterministic randomness for tests (mulberry32): same seed, same run, on every runtime. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A `RandomBytes` source drawing from `random`. */
export function seededBytes(random: () => number): (length: number) => Uint8Array {
  return (length) => Uint8Array.from({ length }, () => Math.floor(random() * 256))
}

/** An integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

/**
 * Near-duplicate detection: a 64-bit simhash over word 3-shingles (each shingle hashed
 * with FNV-1a 64), and the Hamming distance between two fingerprints. Pages whose
 * fingerprints differ in at most `NEAR_DUPLICATE_BITS` bits (of 64) are near-duplicates. Cost:
 * linear in words, 64 counters.
 */
export const NEAR_DUPLICATE_BITS = 6
const MASK = (1n << 64n) - 1n

function fnv64(text: string): bigint {
  let hash = 0xcbf29ce484222325n
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i))
    hash = (hash * 0x100000001b3n) & MASK
  }
  return hash
}

/** The fingerprint as 16 hex digits. */
export function simhash(text: string): string {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const counts = new Array<number>(64).fill(0)
  const shingles =
    words.length < 3 ? [words.join(' ')] : words.slice(2).map((_, i) => words.slice(i, i + 3).join(' '))
  for (const shingle of shingles) {
    const hash = fnv64(shingle)
    for (let bit = 0; bit < 64; bit++)
      counts[bit] = (counts[bit] ?? 0) + ((hash >> BigInt(bit)) & 1n ? 1 : -1)
  }
  let value = 0n
  for (let bit = 0; bit < 64; bit++) if ((counts[bit] ?? 0) > 0) value |= 1n << BigInt(bit)
  return value.toString(16).padStart(16, '0')
}

export function hammingDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`)
  let bits = 0
  while (x > 0n) {
    bits += Number(x & 1n)
    x >>= 1n
  }
  return bits
}

/**
 * Word positions for the ranking: phrase matches and the proximity of two query words.
 *
 * Guarantees: both read only the position lists given (term and field → sorted positions),
 * so they answer the same on any shard. Costs: a phrase check is linear in the positions of
 * its first word times the phrase length; a proximity is one merge of two sorted lists per
 * shared field.
 */

/** Proximity of two words in different fields or further apart (Meilisearch's maximum + 1). */
export const MAX_PROXIMITY = 8

/** Whether the words of `phrase` occur at consecutive positions of one field. */
export function hasPhrase(positions: Map<string, number[]>, phrase: string[]): boolean {
  const [first, ...rest] = phrase
  for (const [key, starts] of positions) {
    const [term, field] = key.split('\n') as [string, string]
    if (term !== first) continue
    if (starts.some((p) => rest.every((t, i) => positions.get(`${t}\n${field}`)?.includes(p + i + 1)))) {
      return true
    }
  }
  return false
}

/**
 * The proximity of two words: the smallest distance between a position of `a` and one of
 * `b` in the same field (a reversed pair counts one more), at least 1, at most `MAX_PROXIMITY`.
 */
export function pairProximity(a: Map<string, number[]>, b: Map<string, number[]>): number {
  let best = MAX_PROXIMITY
  for (const [field, left] of a) {
    const right = b.get(field)
    if (!right) continue
    let i = 0
    let j = 0
    while (i < left.length && j < right.length) {
      const p = left[i] as number
      const q = right[j] as number
      const distance = q >= p ? q - p : p - q + 1
      if (distance < best) best = distance
      if (p < q) i++
      else j++
    }
  }
  return Math.max(1, best)
}

/**
 * Typo tolerance: the number of typos a query word may have (Meilisearch's rule: none
 * below `oneTypo` letters, one from `oneTypo`, two from `twoTypos`), and a bounded
 * Damerau-Levenshtein distance (optimal string alignment: insertion, deletion,
 * substitution, transposition of adjacent letters).
 *
 * Cost: O(|a|·|b|) per pair, cut short as soon as a whole row exceeds the bound, and pairs
 * whose lengths differ by more than the bound are rejected without any work.
 */

export interface TypoSettings {
  enabled: boolean
  oneTypo: number
  twoTypos: number
  disableOnWords: ReadonlySet<string>
  disableOnNumbers: boolean
}

/** How many typos a query word of this form may have. */
export function allowedTypos(word: string, settings: TypoSettings): 0 | 1 | 2 {
  if (!settings.enabled || settings.disableOnWords.has(word)) return 0
  if (settings.disableOnNumbers && /^\d+$/.test(word)) return 0
  const length = [...word].length
  if (length >= settings.twoTypos) return 2
  if (length >= settings.oneTypo) return 1
  return 0
}

/** The OSA Damerau-Levenshtein distance of `a` and `b` if it is at most `max`, else `max + 1`. */
export function boundedDistance(a: string, b: string, max: number): number {
  if (a === b) return 0
  const n = a.length
  const m = b.length
  if (Math.abs(n - m) > max) return max + 1
  let beforePrevious = new Array<number>(m + 1).fill(0)
  let previous = Array.from({ length: m + 1 }, (_, j) => j)
  let current = new Array<number>(m + 1).fill(0)
  for (let i = 1; i <= n; i++) {
    current[0] = i
    let rowMin = current[0]
    for (let j = 1; j <= m; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      ) {
        value = Math.min(value, (beforePrevious[j - 2] ?? 0) + 1)
      }
      current[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > max) return max + 1
    ;[beforePrevious, previous, current] = [previous, current, beforePrevious]
  }
  const distance = previous[m] ?? max + 1
  return distance > max ? max + 1 : distance
}

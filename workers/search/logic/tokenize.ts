/**
 * Tokenizer: splits text into words of letters and digits, lower-cased with diacritics
 * removed (NFKD, combining marks dropped), so "Élan" and "elan" are the same term.
 *
 * Guarantees: every token carries its word position (0-based, per field) and its exact
 * UTF-16 offsets in the original string, so highlights and crops cut the source text at
 * the right places. Costs one pass over the text; one small NFKD per word.
 */

export interface Token {
  /** The normalized term. */
  term: string
  /** Word position in the field. */
  position: number
  /** Start offset in the original text (UTF-16 code units). */
  start: number
  /** End offset (exclusive). */
  end: number
}

const WORD = /[\p{L}\p{N}]+/gu
const MARKS = /\p{M}+/gu

/** The index form of one word: NFKD, combining marks removed, lower case. */
export function normalizeTerm(word: string): string {
  return word.normalize('NFKD').replace(MARKS, '').toLowerCase()
}

/** The tokens of a text with positions and source offsets. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let position = 0
  for (const match of text.matchAll(WORD)) {
    const term = normalizeTerm(match[0])
    if (term.length === 0) continue
    tokens.push({ term, position: position++, start: match.index, end: match.index + match[0].length })
  }
  return tokens
}

/** Only the normalized terms of a text, in order. */
export function terms(text: string): string[] {
  const out: string[] = []
  for (const match of text.matchAll(WORD)) {
    const term = normalizeTerm(match[0])
    if (term.length > 0) out.push(term)
  }
  return out
}

/**
 * Query parsing: the words of `q` (normalized), phrases in double quotes, negations
 * (`-word`, `-"a phrase"`), stop words removed, and the last word marked as a prefix when
 * the user is still typing it (no space or quote after it).
 *
 * Guarantees: the same `q` and settings always give the same plan; at most `MAX_WORDS`
 * words are kept (Meilisearch keeps 10; long natural-language queries need more).
 */
import type { SearchConfig } from './settings'
import { terms } from './tokenize'

export const MAX_WORDS = 32

export interface QueryWord {
  term: string
  /** Matches any indexed term starting with it (the last word, still being typed). */
  prefix: boolean
  /** Typos allowed are decided by the caller; words inside phrases never allow any. */
  inPhrase: boolean
}

export interface ParsedQuery {
  words: QueryWord[]
  /** Each phrase must appear as consecutive words in one field. */
  phrases: string[][]
  negatedWords: string[]
  negatedPhrases: string[][]
}

const PART = /(-?)"([^"]*)"?|(-?)([^\s"]+)/g

export function parseQuery(q: string, config: Pick<SearchConfig, 'stopWords'>): ParsedQuery {
  const parsed: ParsedQuery = { words: [], phrases: [], negatedWords: [], negatedPhrases: [] }
  const endsOpen = q.length > 0 && !/[\s"]$/.test(q)
  const parts = [...q.matchAll(PART)]
  parts.forEach((match, index) => {
    const isLast = index === parts.length - 1
    if (match[2] !== undefined) {
      const phrase = terms(match[2])
      if (phrase.length === 0) return
      if (match[1] === '-') parsed.negatedPhrases.push(phrase)
      else {
        parsed.phrases.push(phrase)
        for (const term of phrase) parsed.words.push({ term, prefix: false, inPhrase: true })
      }
      return
    }
    const negated = match[3] === '-' && (match[4] ?? '').length > 0
    const words = terms(match[4] ?? '')
    if (negated) {
      if (words.length === 1) parsed.negatedWords.push(words[0] as string)
      else if (words.length > 1) parsed.negatedPhrases.push(words)
      return
    }
    words.forEach((term, i) => {
      const prefix = isLast && endsOpen && i === words.length - 1
      if (config.stopWords.has(term) && !prefix) return
      parsed.words.push({ term, prefix, inPhrase: false })
    })
  })
  // The same word twice counts once.
  const seen = new Set<string>()
  parsed.words = parsed.words.filter((word) => {
    const key = `${word.term}\u0000${word.prefix}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  parsed.words = parsed.words.slice(0, MAX_WORDS)
  return parsed
}

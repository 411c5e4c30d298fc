/**
 * What a document contributes to a shard's inverted index: per term and field its word
 * positions, and per field its token count (for BM25 length normalization). Array values
 * of a field are spaced `VALUE_GAP` positions apart, so a phrase never spans two of them.
 *
 * Guarantees: the same document always gives the same postings (a delete recomputes them
 * from the stored body). Cost: one tokenizer pass over the document's strings.
 */
import { type Document, flattenStrings } from '../logic/fields'
import { tokenize } from '../logic/tokenize'

/** SQLite in a Durable Object binds at most 100 parameters per statement. */
export const MAX_PARAMETERS = 100

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Positions of the next string in an array field start this far after the previous one. */
const VALUE_GAP = 8

interface FieldTerms {
  /** term → field → positions */
  postings: Map<string, Map<string, number[]>>
  lengths: Record<string, number>
}

/** The postings a document contributes. */
export function analyze(document: Document): FieldTerms {
  const postings = new Map<string, Map<string, number[]>>()
  const lengths: Record<string, number> = {}
  const next: Record<string, number> = {}
  for (const [field, text] of flattenStrings(document)) {
    const base = next[field] ?? 0
    const tokens = tokenize(text)
    for (const token of tokens) {
      let byField = postings.get(token.term)
      if (!byField) {
        byField = new Map()
        postings.set(token.term, byField)
      }
      const positions = byField.get(field)
      if (positions) positions.push(base + token.position)
      else byField.set(field, [base + token.position])
    }
    lengths[field] = (lengths[field] ?? 0) + tokens.length
    next[field] = base + tokens.length + VALUE_GAP
  }
  return { postings, lengths }
}

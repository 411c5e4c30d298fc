/**
 * Result formatting: `_formatted` with highlighted (`<em>…</em>` or custom tags) and
 * cropped (`cropLength` words around the densest run of matches, `…` marking cuts)
 * attributes, and `_matchesPosition` with the exact offsets of every match.
 *
 * Guarantees: offsets are UTF-16 code units into the original field value (what
 * `String.prototype.slice` takes); a prefix completion highlights only the typed prefix.
 * Cost: one tokenization of each formatted field.
 */
import type { Document } from './fields'
import { normalizeTerm, type Token, tokenize } from './tokenize'

export interface MatchTerms {
  /** Terms matched whole (query words, their typo variants and synonyms). */
  whole: ReadonlySet<string>
  /** Words being typed: any term they begin matches, up to their length. */
  prefixes: readonly string[]
}

export interface FormatOptions {
  highlight: readonly string[]
  crop: ReadonlyMap<string, number>
  preTag: string
  postTag: string
  cropMarker: string
  matchesPosition: boolean
}

export interface MatchSpan {
  start: number
  length: number
}

/** How many UTF-16 units of `word` cover the first `normalizedLength` letters of its normalized form. */
function sourceLength(word: string, normalizedLength: number): number {
  for (let i = 1; i <= word.length; i++) {
    if (normalizeTerm(word.slice(0, i)).length >= normalizedLength) return i
  }
  return word.length
}

/** The matches in one text, in order. */
export function findMatches(text: string, terms: MatchTerms, tokens: Token[] = tokenize(text)): MatchSpan[] {
  const spans: MatchSpan[] = []
  for (const token of tokens) {
    if (terms.whole.has(token.term)) {
      spans.push({ start: token.start, length: token.end - token.start })
      continue
    }
    let best = 0
    for (const prefix of terms.prefixes)
      if (token.term.startsWith(prefix) && prefix.length > best) best = prefix.length
    if (best > 0)
      spans.push({ start: token.start, length: sourceLength(text.slice(token.start, token.end), best) })
  }
  return spans
}

function wrap(
  text: string,
  spans: MatchSpan[],
  from: number,
  to: number,
  options: FormatOptions,
  highlight: boolean,
) {
  if (!highlight) return text.slice(from, to)
  let out = ''
  let at = from
  for (const span of spans) {
    if (span.start < from || span.start + span.length > to) continue
    out +=
      text.slice(at, span.start) +
      options.preTag +
      text.slice(span.start, span.start + span.length) +
      options.postTag
    at = span.start + span.length
  }
  return out + text.slice(at, to)
}

/** One string value highlighted and/or cropped. */
export function formatText(
  text: string,
  terms: MatchTerms,
  options: FormatOptions,
  highlight: boolean,
  cropLength: number | undefined,
): string {
  const tokens = tokenize(text)
  const spans = findMatches(text, terms, tokens)
  if (cropLength === undefined || tokens.length <= cropLength)
    return wrap(text, spans, 0, text.length, options, highlight)
  if (cropLength <= 0) return options.cropMarker
  const matchedAt = new Set(spans.map((span) => span.start))
  let bestStart = 0
  let bestCount = -1
  let bestImbalance = Number.POSITIVE_INFINITY
  for (let start = 0; start + cropLength <= tokens.length; start++) {
    let count = 0
    let first = -1
    let last = -1
    for (let i = start; i < start + cropLength; i++) {
      if (!matchedAt.has((tokens[i] as Token).start)) continue
      count++
      if (first < 0) first = i
      last = i
    }
    // The most matches, then the matches closest to the middle of the window.
    const imbalance = count === 0 ? 0 : Math.abs(first - start - (start + cropLength - 1 - last))
    if (count > bestCount || (count === bestCount && imbalance < bestImbalance)) {
      bestCount = count
      bestStart = start
      bestImbalance = imbalance
    }
  }
  // With no match, Meilisearch crops from the start; with matches, center the window on them.
  if (bestCount === 0) bestStart = 0
  const first = tokens[bestStart] as Token
  const last = tokens[bestStart + cropLength - 1] as Token
  const before = bestStart > 0 ? options.cropMarker : ''
  const after = bestStart + cropLength < tokens.length ? options.cropMarker : ''
  return before + wrap(text, spans, first.start, last.end, options, highlight) + after
}

function formatValue(
  value: unknown,
  terms: MatchTerms,
  options: FormatOptions,
  highlight: boolean,
  crop: number | undefined,
): unknown {
  if (typeof value === 'string') return formatText(value, terms, options, highlight, crop)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return value.map((item) => formatValue(item, terms, options, highlight, crop))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, formatValue(item, terms, options, highlight, crop)]),
    )
  }
  return value
}

function covered(patterns: readonly string[], field: string): boolean {
  return patterns.includes('*') || patterns.includes(field)
}

/** `_formatted` for the displayed document, and `_matchesPosition` if asked. */
export function formatHit(
  displayed: Document,
  terms: MatchTerms,
  options: FormatOptions,
): { formatted?: Document; matchesPosition?: Record<string, MatchSpan[]> } {
  const out: { formatted?: Document; matchesPosition?: Record<string, MatchSpan[]> } = {}
  if (options.highlight.length > 0 || options.crop.size > 0) {
    const formatted: Document = {}
    for (const [field, value] of Object.entries(displayed)) {
      const crop = options.crop.get(field) ?? options.crop.get('*')
      const highlight = covered(options.highlight, field)
      formatted[field] =
        highlight || crop !== undefined ? formatValue(value, terms, options, highlight, crop) : value
    }
    out.formatted = formatted
  }
  if (options.matchesPosition) {
    const positions: Record<string, MatchSpan[]> = {}
    const walk = (value: unknown, path: string) => {
      if (typeof value === 'string') {
        const spans = findMatches(value, terms)
        if (spans.length > 0) positions[path] = [...(positions[path] ?? []), ...spans]
      } else if (Array.isArray(value)) for (const item of value) walk(item, path)
      else if (value !== null && typeof value === 'object') {
        for (const [key, item] of Object.entries(value)) walk(item, path ? `${path}.${key}` : key)
      }
    }
    walk(displayed, '')
    out.matchesPosition = positions
  }
  return out
}

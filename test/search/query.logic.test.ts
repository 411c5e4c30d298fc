import { describe, expect, it } from 'vitest'
import { expandWords, MAX_PREFIX_TERMS, mergeExpansions, Vocabulary } from '../../workers/search/logic/expand'
import { findMatches, formatText } from '../../workers/search/logic/format'
import { parseQuery } from '../../workers/search/logic/query'
import { defaultSettings, searchConfig } from '../../workers/search/logic/settings'
import { tokenize } from '../../workers/search/logic/tokenize'
import { allowedTypos, boundedDistance } from '../../workers/search/logic/typo'

const config = searchConfig({ ...defaultSettings(), stopWords: ['the', 'of'], synonyms: { film: ['movie'] } })

describe('tokenizer', () => {
  it('lower-cases, strips accents and keeps exact source offsets', () => {
    const tokens = tokenize('Élan, über-Café 42!')
    expect(tokens.map((t) => t.term)).toEqual(['elan', 'uber', 'cafe', '42'])
    expect(tokens.map((t) => [t.start, t.end])).toEqual([
      [0, 4],
      [6, 10],
      [11, 15],
      [16, 18],
    ])
  })
})

describe('typo tolerance', () => {
  it('allows 1 typo from 5 letters and 2 from 9', () => {
    expect(allowedTypos('four', config.typo)).toBe(0)
    expect(allowedTypos('fives', config.typo)).toBe(1)
    expect(allowedTypos('eightchr', config.typo)).toBe(1)
    expect(allowedTypos('ninechars', config.typo)).toBe(2)
  })
  it('Damerau-Levenshtein counts a transposition as one edit', () => {
    expect(boundedDistance('matrix', 'matirx', 2)).toBe(1)
    expect(boundedDistance('matrix', 'matrx', 2)).toBe(1)
    expect(boundedDistance('matrix', 'mtarx', 2)).toBe(2)
    expect(boundedDistance('matrix', 'xyz', 2)).toBe(3)
    expect(boundedDistance('kitten', 'sitting', 3)).toBe(3)
  })
})

describe('query parsing', () => {
  it('words, phrases, negations, stop words and the prefix on the last word', () => {
    const parsed = parseQuery('The "lord of" rings -orc -"dark tower" hob', config)
    expect(parsed.words).toEqual([
      { term: 'lord', prefix: false, inPhrase: true },
      { term: 'of', prefix: false, inPhrase: true },
      { term: 'rings', prefix: false, inPhrase: false },
      { term: 'hob', prefix: true, inPhrase: false },
    ])
    expect(parsed.phrases).toEqual([['lord', 'of']])
    expect(parsed.negatedWords).toEqual(['orc'])
    expect(parsed.negatedPhrases).toEqual([['dark', 'tower']])
    expect(parseQuery('hobbit ', config).words).toEqual([{ term: 'hobbit', prefix: false, inPhrase: false }])
  })
})

describe('expansion over a vocabulary', () => {
  const vocabulary = new Vocabulary(
    new Map([
      ['matrix', 3],
      ['matrices', 1],
      ['mat', 2],
      ['movie', 4],
      ['film', 1],
      ['hobbit', 2],
      ['hobbits', 1],
    ]),
  )
  it('exact, typo, synonym and prefix candidates', () => {
    const [matrx, film, hob] = expandWords(parseQuery('matrx film hob', config).words, vocabulary, config)
    expect(matrx?.map((c) => [c.term, c.typos, c.prefix])).toEqual([['matrix', 1, false]])
    expect(film?.map((c) => [c.term, c.typos])).toEqual([
      ['film', 0],
      ['movie', 0],
    ])
    expect(hob?.map((c) => [c.term, c.prefix])).toEqual([
      ['hobbit', true],
      ['hobbits', true],
    ])
  })
  it('merging shard expansions sums document frequencies and caps completions like one shard', () => {
    const a = new Vocabulary(
      new Map(Array.from({ length: 40 }, (_, i) => [`pre${String(i).padStart(2, '0')}a`, 1])),
    )
    const b = new Vocabulary(
      new Map(Array.from({ length: 40 }, (_, i) => [`pre${String(i).padStart(2, '0')}b`, 2])),
    )
    const words = parseQuery('pre', config).words
    const merged = mergeExpansions([expandWords(words, a, config), expandWords(words, b, config)], 1)
    const whole = new Vocabulary(
      new Map([
        ...Array.from({ length: 40 }, (_, i) => [`pre${String(i).padStart(2, '0')}a`, 1] as [string, number]),
        ...Array.from({ length: 40 }, (_, i) => [`pre${String(i).padStart(2, '0')}b`, 2] as [string, number]),
      ]),
    )
    expect(merged).toEqual(mergeExpansions([expandWords(words, whole, config)], 1))
    expect(merged[0]).toHaveLength(MAX_PREFIX_TERMS)
  })
})

describe('highlighting and cropping', () => {
  const terms = { whole: new Set(['matrix']), prefixes: ['reloa'] }
  const options = {
    highlight: ['*'],
    crop: new Map(),
    preTag: '<em>',
    postTag: '</em>',
    cropMarker: '…',
    matchesPosition: true,
  }
  it('reports exact UTF-16 offsets, the prefix part only for a completion', () => {
    const text = 'Ça — The Matrix Reloaded'
    const spans = findMatches(text, terms)
    expect(spans).toEqual([
      { start: 9, length: 6 },
      { start: 16, length: 5 },
    ])
    expect(spans.map((s) => text.slice(s.start, s.start + s.length))).toEqual(['Matrix', 'Reloa'])
    expect(formatText(text, terms, options, true, undefined)).toBe(
      'Ça — The <em>Matrix</em> <em>Reloa</em>ded',
    )
  })
  it('crops around the matches with markers', () => {
    const text = 'one two three four five six matrix seven eight nine ten eleven'
    expect(formatText(text, terms, { ...options, highlight: [] }, false, 3)).toBe('…six matrix seven…')
    expect(formatText(text, terms, options, true, 4)).toBe('…five six <em>matrix</em> seven…')
    expect(formatText('a b c d', terms, options, true, 2)).toBe('a b…')
  })
})

/**
 * CSS selectors for the host's HTMLRewriter, compiled once into a matcher over an element
 * and its open ancestors: comma lists of compound selectors (`*`, type, `#id`, `.class`,
 * attribute tests `[a]`, `[a=v]`, `[a~=v]`, `[a^=v]`, `[a$=v]`, `[a*=v]`, `[a|=v]`, each
 * with an optional ` i` flag) joined by descendant (space) or child (`>`) combinators.
 * Anything else (pseudo-classes, `+`, `~`) throws at compile time, as workerd rejects a
 * selector it cannot run. Cost: a match is O(selector length × ancestors).
 */
export interface MatchableElement {
  tagName: string
  attributes: Map<string, string>
}

export type Selector = (element: MatchableElement, ancestors: readonly MatchableElement[]) => boolean

type Test = (element: MatchableElement) => boolean
interface Step {
  tests: Test[]
  /** How this compound relates to the one on its right: ' ' descendant, '>' child. */
  combinator: ' ' | '>'
}

const IDENT = '-?[_a-zA-Z][-_a-zA-Z0-9]*'
const COMPOUND = new RegExp(
  `^(?:\\*|${IDENT})?(?:#${IDENT}|\\.${IDENT}|\\[\\s*${IDENT}\\s*(?:[~^$*|]?=\\s*(?:"[^"]*"|'[^']*'|[^\\]\\s]+)\\s*(?:[iI]\\s*)?)?\\])*`,
)

function attributeTest(source: string): Test {
  const match =
    /^\[\s*([^\s~^$*|=\]]+)\s*(?:([~^$*|]?=)\s*("([^"]*)"|'([^']*)'|([^\]\s]+))\s*([iI])?\s*)?\]$/.exec(
      source,
    )
  if (!match?.[1]) throw new TypeError(`Unsupported attribute selector ${source}`)
  const name = match[1].toLowerCase()
  const operator = match[2]
  const fold = match[7] !== undefined
  const wanted = (match[4] ?? match[5] ?? match[6] ?? '').toString()
  const norm = (value: string) => (fold ? value.toLowerCase() : value)
  const expected = norm(wanted)
  return (element) => {
    const raw = element.attributes.get(name)
    if (raw === undefined) return false
    if (!operator) return true
    const value = norm(raw)
    switch (operator) {
      case '=':
        return value === expected
      case '~=':
        return value.split(/\s+/).includes(expected)
      case '^=':
        return expected !== '' && value.startsWith(expected)
      case '$=':
        return expected !== '' && value.endsWith(expected)
      case '*=':
        return expected !== '' && value.includes(expected)
      default:
        return value === expected || value.startsWith(`${expected}-`)
    }
  }
}

function compound(source: string): Test[] {
  const tests: Test[] = []
  const type = /^(\*|-?[_a-zA-Z][-_a-zA-Z0-9]*)/.exec(source)?.[1]
  if (type && type !== '*') {
    const tag = type.toLowerCase()
    tests.push((element) => element.tagName === tag)
  }
  for (const part of source.slice(type?.length ?? 0).matchAll(/#([^#.[]+)|\.([^#.[]+)|(\[[^\]]*\])/g)) {
    if (part[1]) {
      const id = part[1]
      tests.push((element) => element.attributes.get('id') === id)
    } else if (part[2]) {
      const name = part[2]
      tests.push((element) => (element.attributes.get('class') ?? '').split(/\s+/).includes(name))
    } else if (part[3]) tests.push(attributeTest(part[3]))
  }
  return tests
}

function compileOne(source: string): Selector {
  const steps: Step[] = []
  let rest = source.trim()
  let combinator: ' ' | '>' = ' '
  while (rest.length > 0) {
    const match = COMPOUND.exec(rest)?.[0] ?? ''
    if (!match) throw new TypeError(`Unsupported selector "${source}"`)
    steps.push({ tests: compound(match), combinator })
    rest = rest.slice(match.length)
    const joiner = /^\s*(>)?\s*/.exec(rest)?.[0] ?? ''
    if (rest.length > 0 && joiner.length === 0) throw new TypeError(`Unsupported selector "${source}"`)
    combinator = joiner.includes('>') ? '>' : ' '
    rest = rest.slice(joiner.length)
    if (rest.length === 0 && joiner.includes('>')) throw new TypeError(`Unsupported selector "${source}"`)
  }
  if (steps.length === 0) throw new TypeError('Empty selector')
  const matches = (step: Step, element: MatchableElement) => step.tests.every((test) => test(element))
  /** Matches steps[0..index] with steps[index] at ancestors[depth] (or the element itself). */
  const matchFrom = (index: number, chain: readonly MatchableElement[], depth: number): boolean => {
    const step = steps[index]
    const element = chain[depth]
    if (!step || !element || !matches(step, element)) return false
    if (index === 0) return true
    if (step.combinator === '>') return matchFrom(index - 1, chain, depth - 1)
    for (let d = depth - 1; d >= 0; d--) if (matchFrom(index - 1, chain, d)) return true
    return false
  }
  return (element, ancestors) => {
    const chain = [...ancestors, element]
    return matchFrom(steps.length - 1, chain, chain.length - 1)
  }
}

export function compileSelector(source: string): Selector {
  const parts: string[] = []
  let depth = 0
  let quote = ''
  let start = 0
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (quote) quote = c === quote ? '' : quote
    else if (c === '"' || c === "'") quote = c
    else if (c === '[') depth++
    else if (c === ']') depth--
    else if (c === ',' && depth === 0) {
      parts.push(source.slice(start, i).trim())
      start = i + 1
    }
  }
  parts.push(source.slice(start).trim())
  if (parts.some((part) => part.length === 0)) throw new TypeError(`Unsupported selector "${source}"`)
  const selectors = parts.map(compileOne)
  return (element, ancestors) => selectors.some((selector) => selector(element, ancestors))
}

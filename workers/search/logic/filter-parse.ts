/**
 * The Meilisearch filter language, parsed into a small tree:
 *   expr := or;  or := and ("OR" and)*;  and := not ("AND" not)*;  not := "NOT" not | primary
 *   primary := "(" expr ")" | attr op value | attr value "TO" value | attr ["NOT"] "IN" [v, …]
 *            | attr ["NOT"] "EXISTS" | attr "IS" ["NOT"] ("NULL" | "EMPTY")
 * with op one of = != > >= < <=, values bare words or quoted ('…' or "…", backslash escapes),
 * keywords in any case. The array form `[["a = 1", "b = 2"], "c = 3"]` is (a OR b) AND c.
 *
 * Guarantees: a string either parses completely or throws a `FilterSyntaxError` whose
 * message says what was expected and where (`1:5`-style columns), like Meilisearch's.
 * Cost: linear in the filter's length; nesting is capped at 100 levels.
 */

import { checkLatitude, checkLongitude, type LatLng } from './geo'

export type Comparison = '=' | '!=' | '>' | '>=' | '<' | '<='

export type FilterNode =
  | { kind: 'and' | 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  | { kind: 'compare'; attribute: string; op: Comparison; value: string }
  | { kind: 'range'; attribute: string; from: string; to: string }
  | { kind: 'in'; attribute: string; values: string[] }
  | { kind: 'exists' | 'null' | 'empty'; attribute: string }
  | { kind: 'geoRadius'; attribute: '_geo'; center: LatLng; meters: number }
  | { kind: 'geoBox'; attribute: '_geo'; topRight: LatLng; bottomLeft: LatLng }

export class FilterSyntaxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FilterSyntaxError'
  }
}

interface Lexeme {
  text: string
  quoted: boolean
  start: number
  end: number
}

const PUNCTUATION = new Set(['(', ')', '[', ']', ','])
const MAX_DEPTH = 100
const OPERATIONS =
  '`=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`'

function lex(source: string): Lexeme[] {
  const out: Lexeme[] = []
  let i = 0
  while (i < source.length) {
    const ch = source[i] as string
    if (/\s/.test(ch)) {
      i++
      continue
    }
    const start = i
    if (PUNCTUATION.has(ch)) {
      out.push({ text: ch, quoted: false, start, end: ++i })
    } else if (ch === '=' || ch === '!' || ch === '<' || ch === '>') {
      const two = source.slice(i, i + 2)
      const op = two === '!=' || two === '>=' || two === '<=' ? two : ch
      if (op === '!') throw syntax(source, start, start + 1, `Was expecting an operation ${OPERATIONS}`)
      i += op.length
      out.push({ text: op, quoted: false, start, end: i })
    } else if (ch === '"' || ch === "'") {
      let text = ''
      i++
      while (i < source.length && source[i] !== ch) {
        if (source[i] === '\\' && i + 1 < source.length) i++
        text += source[i]
        i++
      }
      if (i >= source.length)
        throw syntax(
          source,
          start,
          source.length,
          `Expression \`${source.slice(start)}\` is missing the following closing delimiter: \`${ch}\``,
        )
      i++
      out.push({ text, quoted: true, start, end: i })
    } else {
      while (i < source.length && !/[\s()[\],=!<>"']/.test(source[i] as string)) i++
      out.push({ text: source.slice(start, i), quoted: false, start, end: i })
    }
  }
  return out
}

function syntax(source: string, start: number, end: number, message: string): FilterSyntaxError {
  return new FilterSyntaxError(`${message}.\n${start + 1}:${end + 1} ${source}`)
}

class Parser {
  private at = 0
  constructor(
    private readonly source: string,
    private readonly lexemes: Lexeme[],
  ) {}

  parse(): FilterNode {
    const node = this.or(0)
    const extra = this.peek()
    if (extra)
      throw this.fail(
        extra,
        `Found unexpected characters at the end of the filter: \`${this.source.slice(extra.start)}\`. You probably forgot an \`OR\` or an \`AND\` rule`,
      )
    return node
  }

  private peek(offset = 0): Lexeme | undefined {
    return this.lexemes[this.at + offset]
  }

  private keyword(word: string, offset = 0): boolean {
    const lexeme = this.peek(offset)
    return lexeme !== undefined && !lexeme.quoted && lexeme.text.toUpperCase() === word
  }

  private fail(lexeme: Lexeme | undefined, message: string): FilterSyntaxError {
    const start = lexeme?.start ?? this.source.length
    return syntax(this.source, start, lexeme?.end ?? start, message)
  }

  private or(depth: number): FilterNode {
    const items = [this.and(depth)]
    while (this.keyword('OR')) {
      this.at++
      items.push(this.and(depth))
    }
    return items.length === 1 ? (items[0] as FilterNode) : { kind: 'or', items }
  }

  private and(depth: number): FilterNode {
    const items = [this.not(depth)]
    while (this.keyword('AND')) {
      this.at++
      items.push(this.not(depth))
    }
    return items.length === 1 ? (items[0] as FilterNode) : { kind: 'and', items }
  }

  private not(depth: number): FilterNode {
    if (depth > MAX_DEPTH)
      throw this.fail(
        this.peek(),
        'The filter exceeded the maximum depth limit. Try rewriting the filter so that it contains fewer nested conditions',
      )
    if (this.keyword('NOT')) {
      this.at++
      return { kind: 'not', item: this.not(depth + 1) }
    }
    return this.primary(depth)
  }

  private primary(depth: number): FilterNode {
    const first = this.peek()
    if (first?.text === '(' && !first.quoted) {
      this.at++
      const node = this.or(depth + 1)
      const close = this.peek()
      if (close?.text !== ')' || close.quoted)
        throw this.fail(first, 'Expression `(` is missing the following closing delimiter: `)`')
      this.at++
      return node
    }
    if (!first || (!first.quoted && (PUNCTUATION.has(first.text) || /^[=!<>]/.test(first.text)))) {
      throw this.fail(first, 'Was expecting a value but instead got nothing')
    }
    this.at++
    const attribute = first.text
    if (!first.quoted && (attribute === '_geoRadius' || attribute === '_geoBoundingBox'))
      return this.geo(first)
    if (!first.quoted && attribute === '_geo')
      throw this.fail(
        first,
        "`_geo` is a reserved keyword and thus can't be used as a filter expression. Use the `_geoRadius(latitude, longitude, distance)` or `_geoBoundingBox([latitude, longitude], [latitude, longitude])` built-in rules to filter on `_geo` coordinates",
      )
    const next = this.peek()
    if (!next) throw this.fail(first, `Was expecting an operation ${OPERATIONS} at \`${attribute}\``)
    if (!next.quoted && ['=', '!=', '>', '>=', '<', '<='].includes(next.text)) {
      this.at++
      return { kind: 'compare', attribute, op: next.text as Comparison, value: this.value() }
    }
    if (this.keyword('EXISTS')) {
      this.at++
      return { kind: 'exists', attribute }
    }
    if (this.keyword('IN')) {
      this.at++
      return { kind: 'in', attribute, values: this.list() }
    }
    if (this.keyword('NOT') && (this.keyword('IN', 1) || this.keyword('EXISTS', 1))) {
      const isIn = this.keyword('IN', 1)
      this.at += 2
      const inner: FilterNode = isIn
        ? { kind: 'in', attribute, values: this.list() }
        : { kind: 'exists', attribute }
      return { kind: 'not', item: inner }
    }
    if (this.keyword('IS')) {
      this.at++
      const negate = this.keyword('NOT')
      if (negate) this.at++
      const what = this.peek()
      if (!this.keyword('NULL') && !this.keyword('EMPTY'))
        throw this.fail(what ?? next, 'Was expecting `NULL` or `EMPTY` after `IS`')
      this.at++
      const node: FilterNode = { kind: this.keyword('NULL', -1) ? 'null' : 'empty', attribute }
      return negate ? { kind: 'not', item: node } : node
    }
    if (!next.quoted && PUNCTUATION.has(next.text))
      throw this.fail(first, `Was expecting an operation ${OPERATIONS} at \`${attribute}\``)
    // `attr from TO to`
    if (this.keyword('TO', 1)) {
      const from = this.value()
      this.at++
      return { kind: 'range', attribute, from, to: this.value() }
    }
    throw this.fail(first, `Was expecting an operation ${OPERATIONS} at \`${attribute}\``)
  }

  /** `_geoRadius(lat, lng, meters)` or `_geoBoundingBox([lat, lng], [lat, lng])`, after its name. */
  private geo(name: Lexeme): FilterNode {
    const radius = name.text === '_geoRadius'
    const usage = radius
      ? 'The `_geoRadius` filter expects three arguments: `_geoRadius(latitude, longitude, radius)`'
      : 'The `_geoBoundingBox` filter expects two pairs of arguments: `_geoBoundingBox([latitude, longitude], [latitude, longitude])`'
    const args: string[] = []
    const expect = (text: string) => {
      const lexeme = this.peek()
      if (lexeme?.text !== text || lexeme.quoted) throw this.fail(name, usage)
      this.at++
    }
    const number = () => {
      const lexeme = this.peek()
      if (!lexeme || lexeme.quoted || PUNCTUATION.has(lexeme.text)) throw this.fail(name, usage)
      this.at++
      args.push(lexeme.text)
    }
    const fail = (message: string) => this.fail(name, message)
    expect('(')
    if (radius) {
      number()
      expect(',')
      number()
      expect(',')
      number()
      expect(')')
      const meters = Number(args[2])
      if (!Number.isFinite(meters) || meters < 0) throw this.fail(name, usage)
      const center: LatLng = [checkLatitude(args[0] as string, fail), checkLongitude(args[1] as string, fail)]
      return { kind: 'geoRadius', attribute: '_geo', center, meters }
    }
    for (const i of [0, 1]) {
      if (i === 1) expect(',')
      expect('[')
      number()
      expect(',')
      number()
      expect(']')
    }
    expect(')')
    const [a, b, c, d] = args as [string, string, string, string]
    const topRight: LatLng = [checkLatitude(a, fail), checkLongitude(b, fail)]
    const bottomLeft: LatLng = [checkLatitude(c, fail), checkLongitude(d, fail)]
    if (topRight[0] < bottomLeft[0])
      throw this.fail(name, `The top latitude \`${a}\` is below the bottom latitude \`${c}\``)
    return { kind: 'geoBox', attribute: '_geo', topRight, bottomLeft }
  }

  private value(): string {
    const lexeme = this.peek()
    if (!lexeme || (!lexeme.quoted && (PUNCTUATION.has(lexeme.text) || /^[=!<>]/.test(lexeme.text)))) {
      throw this.fail(lexeme, 'Was expecting a value but instead got nothing')
    }
    this.at++
    return lexeme.text
  }

  private list(): string[] {
    const open = this.peek()
    if (open?.text !== '[' || open.quoted) throw this.fail(open, 'Expected `[` after `IN` keyword')
    this.at++
    const values: string[] = []
    while (true) {
      const lexeme = this.peek()
      if (lexeme?.text === ']' && !lexeme.quoted) {
        this.at++
        return values
      }
      values.push(this.value())
      const separator = this.peek()
      if (separator?.text === ',' && !separator.quoted) this.at++
      else if (separator?.text !== ']' || separator.quoted)
        throw this.fail(open, 'Expected matching `]` after the list of values')
    }
  }
}

/** Parses a filter string; an empty string is no filter (`undefined`). */
export function parseFilterString(source: string): FilterNode | undefined {
  const lexemes = lex(source)
  if (lexemes.length === 0) return undefined
  return new Parser(source, lexemes).parse()
}

/** A filter as Meilisearch accepts it: a string, or an array (AND) of strings or arrays of strings (OR). */
export type FilterInput = string | Array<string | string[]>

export function parseFilter(input: FilterInput | null | undefined): FilterNode | undefined {
  if (input === null || input === undefined) return undefined
  if (typeof input === 'string') return parseFilterString(input)
  const items: FilterNode[] = []
  for (const entry of input) {
    if (typeof entry === 'string') {
      const node = parseFilterString(entry)
      if (node) items.push(node)
    } else {
      const alternatives = entry
        .map(parseFilterString)
        .filter((node): node is FilterNode => node !== undefined)
      if (alternatives.length > 0)
        items.push(
          alternatives.length === 1 ? (alternatives[0] as FilterNode) : { kind: 'or', items: alternatives },
        )
    }
  }
  if (items.length === 0) return undefined
  return items.length === 1 ? items[0] : { kind: 'and', items }
}

/** Every attribute a filter names, for the filterable check. */
export function filterAttributes(node: FilterNode | undefined, out: string[] = []): string[] {
  if (!node) return out
  if ('items' in node) {
    for (const item of node.items) filterAttributes(item, out)
  } else if (node.kind === 'not') {
    filterAttributes(node.item, out)
  } else {
    out.push(node.attribute)
  }
  return out
}

/**
 * A LogQL parser for the subset in ast.ts: stream selectors (= != =~ !~), line filters
 * (|= != |~ !~), `| json`, `| logfmt`, label filters (string and numeric comparisons joined
 * by `and`, `or`, `,`), `| line_format "{{.name}}"`, range aggregations (count_over_time,
 * rate, bytes_over_time, bytes_rate) over `[duration]`, vector aggregations (sum, avg, max,
 * min, count with `by`/`without`, before or after the argument) and topk/bottomk.
 *
 * Guarantees: the whole input is consumed or a `LogQLError` names the position; regular
 * expressions are compiled here, so a bad one is a parse error. Cost: O(length).
 */
import type {
  CompareOp,
  LabelFilter,
  LogQuery,
  Matcher,
  MetricQuery,
  Query,
  RangeFunction,
  Stage,
  VectorOp,
} from './ast'

export class LogQLError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LogQLError'
  }
}

type Token = { kind: 'ident' | 'string' | 'number' | 'duration' | 'op'; text: string; at: number }

const OPERATORS = [
  '|=',
  '|~',
  '!=',
  '!~',
  '=~',
  '==',
  '>=',
  '<=',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '|',
  '=',
  '>',
  '<',
]
const DURATION = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$/

function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < input.length) {
    const c = input[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '"' || c === '`') {
      const end = c === '`' ? input.indexOf('`', i + 1) : closingQuote(input, i)
      if (end < 0) throw new LogQLError(`unterminated string at ${i}`)
      const raw = input.slice(i, end + 1)
      let text: string
      try {
        text = c === '`' ? raw.slice(1, -1) : (JSON.parse(raw) as string)
      } catch {
        throw new LogQLError(`invalid string at ${i}`)
      }
      tokens.push({ kind: 'string', text, at: i })
      i = end + 1
      continue
    }
    const word = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(input.slice(i))?.[0]
    if (word) {
      tokens.push({ kind: 'ident', text: word, at: i })
      i += word.length
      continue
    }
    const number = /^-?\d+(?:\.\d+)?(?:(?:ms|s|m|h|d|w|y)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))*)?/.exec(
      input.slice(i),
    )?.[0]
    if (number) {
      tokens.push({ kind: DURATION.test(number) ? 'duration' : 'number', text: number, at: i })
      i += number.length
      continue
    }
    const op = OPERATORS.find((candidate) => input.startsWith(candidate, i))
    if (!op) throw new LogQLError(`unexpected "${c}" at ${i}`)
    tokens.push({ kind: 'op', text: op, at: i })
    i += op.length
  }
  return tokens
}

function closingQuote(input: string, start: number): number {
  for (let i = start + 1; i < input.length; i++) {
    if (input[i] === '\\') i++
    else if (input[i] === '"') return i
  }
  return -1
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
}

/** `5m`, `1h30m`, `250ms` → milliseconds. */
export function parseDuration(text: string): number {
  if (!DURATION.test(text)) throw new LogQLError(`invalid duration "${text}"`)
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g))
    total += Number(amount) * (UNIT_MS[unit as string] as number)
  return total
}

const RANGE_FUNCTIONS = new Set<RangeFunction>(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate'])
const VECTOR_OPS = new Set<VectorOp>(['sum', 'avg', 'max', 'min', 'count'])

class Parser {
  private pos = 0
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset]
  }

  take(): Token {
    const token = this.tokens[this.pos++]
    if (!token) throw new LogQLError('unexpected end of query')
    return token
  }

  accept(text: string): boolean {
    const token = this.peek()
    if (token && (token.kind === 'op' || token.kind === 'ident') && token.text === text) {
      this.pos++
      return true
    }
    return false
  }

  expect(text: string): void {
    const token = this.peek()
    if (!this.accept(text))
      throw new LogQLError(`expected "${text}" at ${token ? `"${token.text}" (${token.at})` : 'the end'}`)
  }

  string(): string {
    const token = this.take()
    if (token.kind !== 'string') throw new LogQLError(`expected a string at ${token.at}`)
    return token.text
  }

  ident(): string {
    const token = this.take()
    if (token.kind !== 'ident') throw new LogQLError(`expected a name at ${token.at}`)
    return token.text
  }

  done(): boolean {
    return this.pos >= this.tokens.length
  }

  query(): Query {
    const token = this.peek()
    if (token?.kind === 'op' && token.text === '{') return this.logQuery()
    return this.metric()
  }

  metric(): MetricQuery {
    const name = this.ident()
    if (RANGE_FUNCTIONS.has(name as RangeFunction)) {
      this.expect('(')
      const query = this.logQuery()
      this.expect('[')
      const duration = this.take()
      if (duration.kind !== 'duration') throw new LogQLError(`expected a range like [5m] at ${duration.at}`)
      this.expect(']')
      this.expect(')')
      const rangeMs = parseDuration(duration.text)
      if (rangeMs <= 0) throw new LogQLError('the range must be positive')
      return { type: 'range', fn: name as RangeFunction, query, rangeMs }
    }
    if (VECTOR_OPS.has(name as VectorOp) || name === 'topk' || name === 'bottomk') {
      let grouping = this.grouping()
      this.expect('(')
      let k = 0
      if (name === 'topk' || name === 'bottomk') {
        const count = this.take()
        k = Number(count.text)
        if (count.kind !== 'number' || !Number.isInteger(k) || k < 1)
          throw new LogQLError(`${name} needs a whole k ≥ 1`)
        this.expect(',')
      }
      const inner = this.metric()
      this.expect(')')
      grouping ??= this.grouping()
      if (name === 'topk' || name === 'bottomk') return { type: name, k, grouping, inner }
      return { type: 'vector', op: name as VectorOp, grouping, inner }
    }
    throw new LogQLError(`unknown function "${name}"`)
  }

  grouping(): { mode: 'by' | 'without'; labels: string[] } | undefined {
    const mode = this.accept('by') ? 'by' : this.accept('without') ? 'without' : undefined
    if (!mode) return undefined
    this.expect('(')
    const labels: string[] = []
    while (!this.accept(')')) {
      labels.push(this.ident())
      if (!this.accept(',')) {
        this.expect(')')
        break
      }
    }
    return { mode, labels }
  }

  logQuery(): LogQuery {
    this.expect('{')
    const selector: Matcher[] = []
    while (!this.accept('}')) {
      const name = this.ident()
      const op = this.take().text
      if (op !== '=' && op !== '!=' && op !== '=~' && op !== '!~')
        throw new LogQLError(`invalid matcher operator "${op}"`)
      const value = this.string()
      if (op === '=~' || op === '!~') compileRegex(value, true)
      selector.push({ name, op, value })
      if (!this.accept(',')) {
        this.expect('}')
        break
      }
    }
    if (selector.length === 0) throw new LogQLError('a stream selector needs at least one matcher')
    if (
      !selector.some(
        (m) => (m.op === '=' && m.value !== '') || (m.op === '=~' && !compileRegex(m.value, true).test('')),
      )
    ) {
      throw new LogQLError('queries require at least one matcher that does not match the empty string')
    }
    return { type: 'log', selector, stages: this.stages() }
  }

  stages(): Stage[] {
    const stages: Stage[] = []
    for (;;) {
      const token = this.peek()
      if (token?.kind !== 'op') return stages
      if (token.text === '|=' || token.text === '!=' || token.text === '|~' || token.text === '!~') {
        this.take()
        const value = this.string()
        if (token.text === '|~' || token.text === '!~') compileRegex(value, false)
        stages.push({ kind: 'line', op: token.text, value })
        continue
      }
      if (token.text !== '|') return stages
      this.take()
      const next = this.peek()
      if (
        next?.kind === 'ident' &&
        (next.text === 'json' || next.text === 'logfmt') &&
        !isCompare(this.peek(1))
      ) {
        this.take()
        stages.push({ kind: next.text })
      } else if (next?.kind === 'ident' && next.text === 'line_format' && this.peek(1)?.kind === 'string') {
        this.take()
        stages.push({ kind: 'line_format', template: this.string() })
      } else {
        stages.push({ kind: 'label', filter: this.labelFilter() })
      }
    }
  }

  labelFilter(): LabelFilter {
    let left = this.labelAnd()
    while (this.accept('or')) left = { kind: 'or', left, right: this.labelAnd() }
    return left
  }

  labelAnd(): LabelFilter {
    let left = this.labelPrimary()
    while (this.accept('and') || this.accept(',')) left = { kind: 'and', left, right: this.labelPrimary() }
    return left
  }

  labelPrimary(): LabelFilter {
    if (this.accept('(')) {
      const inner = this.labelFilter()
      this.expect(')')
      return inner
    }
    const name = this.ident()
    const op = this.take()
    if (!isCompare(op)) throw new LogQLError(`expected a comparison after "${name}" at ${op.at}`)
    const value = this.take()
    if (value.kind === 'string') {
      if (!['=', '!=', '=~', '!~'].includes(op.text))
        throw new LogQLError(`"${op.text}" compares numbers, not strings`)
      if (op.text === '=~' || op.text === '!~') compileRegex(value.text, true)
      return { kind: 'compare', name, op: op.text as CompareOp, value: value.text }
    }
    if (value.kind === 'number' || value.kind === 'duration') {
      const number = value.kind === 'number' ? Number(value.text) : parseDuration(value.text) / 1000
      if (op.text === '=~' || op.text === '!~') throw new LogQLError('regular expressions compare strings')
      return { kind: 'compare', name, op: (op.text === '=' ? '==' : op.text) as CompareOp, value: number }
    }
    throw new LogQLError(`expected a value at ${value.at}`)
  }
}

function isCompare(token: Token | undefined): boolean {
  return token?.kind === 'op' && ['=', '!=', '=~', '!~', '==', '>', '>=', '<', '<='].includes(token.text)
}

/** A LogQL regular expression in JavaScript: label matchers are anchored (RE2 full match), line filters are not. */
export function compileRegex(pattern: string, anchored: boolean): RegExp {
  try {
    return new RegExp(anchored ? `^(?:${pattern})$` : pattern, 'su')
  } catch {
    throw new LogQLError(`invalid regular expression "${pattern}"`)
  }
}

export function parseLogQL(input: string): Query {
  const parser = new Parser(tokenize(input))
  const query = parser.query()
  if (!parser.done()) throw new LogQLError(`unexpected "${parser.peek()?.text}" at ${parser.peek()?.at}`)
  return query
}

/**
 * A PromQL parser: selectors with matchers, offset, range vectors, function calls,
 * aggregations (`by`/`without` before or after the arguments), binary operators with
 * Prometheus's precedence (`^` right-associative) and vector matching (`bool`,
 * `on`/`ignoring`, `group_left`/`group_right`), unary minus, number and string literals,
 * durations such as `1h30m`, subqueries `expr[range:step]` and the `@` modifier.
 *
 * Guarantees: any input either parses or throws `PromQLError` (a Prometheus `bad_data`);
 * never loops. Cost: O(query length).
 */
import {
  type At,
  anchored,
  type Expr,
  type Matcher,
  matches,
  type VectorMatching,
  type VectorSelector,
} from './ast'
import { lex, PromQLError, parseDuration, type Token } from './lexer'

export { PromQLError, parseDuration }

export const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'topk',
  'bottomk',
  'quantile',
  'stddev',
  'stdvar',
  'group',
])
const PRECEDENCE: Array<string[]> = [
  ['or'],
  ['and', 'unless'],
  ['==', '!=', '<=', '<', '>=', '>'],
  ['+', '-'],
  ['*', '/', '%'],
  ['^'],
]
const COMPARISON = new Set(['==', '!=', '<=', '<', '>=', '>'])

class Parser {
  private i = 0
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i] as Token
  }
  private next(): Token {
    return this.tokens[this.i++] as Token
  }
  private is(v: string): boolean {
    const t = this.peek()
    return (t.t === 'op' || t.t === 'id') && t.v === v
  }
  /** Consumes the token when it is `v`. */
  private accept(v: string): boolean {
    if (!this.is(v)) return false
    this.i++
    return true
  }
  private expect(v: string): void {
    const t = this.next()
    if (t.v !== v)
      throw new PromQLError(`expected "${v}" at position ${t.pos}, found "${t.v || 'end of input'}"`)
  }

  parse(): Expr {
    const expr = this.binary(0)
    const t = this.peek()
    if (t.t !== 'eof') throw new PromQLError(`unexpected "${t.v}" at position ${t.pos}`)
    return expr
  }

  private binary(level: number): Expr {
    if (level >= PRECEDENCE.length) return this.unary()
    let lhs = this.binary(level + 1)
    const ops = PRECEDENCE[level] as string[]
    while (ops.some((o) => this.is(o))) {
      const op = this.next().v
      const bool = this.accept('bool')
      if (bool && !COMPARISON.has(op))
        throw new PromQLError('bool modifier can only be used on comparison operators')
      const matching = this.matching()
      // `^` is right-associative: its right side binds at the same level.
      const rhs = op === '^' ? this.binary(level) : this.binary(level + 1)
      lhs = { kind: 'binary', op, lhs, rhs, bool, matching }
      if (op === '^') break
    }
    return lhs
  }

  private matching(): VectorMatching | undefined {
    if (!this.is('on') && !this.is('ignoring')) return undefined
    const on = this.next().v === 'on'
    const labels = this.labelList()
    let group: 'left' | 'right' | undefined
    let include: string[] = []
    if (this.is('group_left') || this.is('group_right')) {
      group = this.next().v === 'group_left' ? 'left' : 'right'
      if (this.is('(')) include = this.labelList()
    }
    return { on, labels, group, include }
  }

  private labelList(): string[] {
    this.expect('(')
    const labels: string[] = []
    while (!this.is(')')) {
      const t = this.next()
      if (t.t !== 'id') throw new PromQLError(`expected a label name at position ${t.pos}`)
      labels.push(t.v)
      if (!this.is(')')) this.expect(',')
    }
    this.expect(')')
    return labels
  }

  private unary(): Expr {
    if (this.is('-') || this.is('+')) {
      const sign = this.next().v
      // Unary minus binds looser than `^` (`-2 ^ 2` is -4), as in Prometheus.
      const expr = this.binary(PRECEDENCE.length - 1)
      if (sign === '+') return expr
      return expr.kind === 'number' ? { kind: 'number', value: -expr.value } : { kind: 'unary', expr }
    }
    return this.postfix(this.primary())
  }

  /** Ranges (`[5m]`), subqueries (`[30m:1m]`) and `offset`/`@` in either order, each once. */
  private postfix(expr: Expr): Expr {
    let out = expr
    for (;;) {
      if (this.accept('[')) {
        const range = this.next()
        if (range.t !== 'dur') throw new PromQLError(`expected a duration at position ${range.pos}`)
        const rangeMs = parseDuration(range.v)
        if (this.accept(':')) {
          let stepMs: number | undefined
          if (this.peek().t === 'dur') stepMs = parseDuration(this.next().v)
          this.expect(']')
          if (stepMs === 0) throw new PromQLError('zero step in subquery')
          if (out.kind === 'matrix' || out.kind === 'subquery')
            throw new PromQLError('subquery is only allowed on instant vector, got range vector')
          out = { kind: 'subquery', expr: out, rangeMs, stepMs, offsetMs: 0 }
          continue
        }
        this.expect(']')
        if (out.kind !== 'selector' || out.offsetMs !== 0 || out.at !== undefined)
          throw new PromQLError('ranges are only allowed for vector selectors')
        out = { kind: 'matrix', selector: out, rangeMs }
      } else if (this.is('offset') || this.is('@')) {
        const target = out.kind === 'matrix' ? out.selector : out
        if (target.kind !== 'selector' && target.kind !== 'subquery')
          throw new PromQLError(
            `${this.peek().v} modifier must be preceded by an instant vector selector or range vector selector or a subquery`,
          )
        if (this.next().v === 'offset') {
          if (target.offsetMs !== 0) throw new PromQLError('offset may not be set multiple times')
          const negative = this.accept('-')
          const d = this.next()
          if (d.t !== 'dur') throw new PromQLError(`expected a duration after offset at position ${d.pos}`)
          target.offsetMs = parseDuration(d.v) * (negative ? -1 : 1)
        } else {
          if (target.at !== undefined) throw new PromQLError('@ <timestamp> may not be set multiple times')
          target.at = this.at()
        }
      } else return out
    }
  }

  /** After `@`: a Unix time in seconds, `start()` or `end()`. */
  private at(): At {
    if (this.is('start') || this.is('end')) {
      const which = this.next().v as 'start' | 'end'
      this.expect('(')
      this.expect(')')
      return which
    }
    const negative = this.accept('-')
    const n = this.next()
    const seconds = Number(n.v)
    if (n.t !== 'num' || !Number.isFinite(seconds))
      throw new PromQLError(`expected a timestamp after @ at position ${n.pos}`)
    return Math.round(seconds * 1000) * (negative ? -1 : 1)
  }

  private primary(): Expr {
    const t = this.next()
    if (t.t === 'num') return { kind: 'number', value: Number(t.v.toLowerCase() === 'inf' ? Infinity : t.v) }
    if (t.t === 'str') return { kind: 'string', value: t.v }
    if (t.t === 'op' && t.v === '(') {
      const expr = this.binary(0)
      this.expect(')')
      return expr
    }
    if (t.t === 'op' && t.v === '{') return this.selector(undefined)
    if (t.t === 'id' && (t.v === 'Inf' || t.v === 'NaN'))
      return { kind: 'number', value: Number(t.v === 'Inf' ? Infinity : Number.NaN) }
    if (t.t === 'id' && AGGREGATIONS.has(t.v) && (this.is('(') || this.is('by') || this.is('without')))
      return this.aggregate(t.v)
    if (t.t === 'id' && this.is('(')) {
      this.next()
      const args: Expr[] = []
      while (!this.is(')')) {
        args.push(this.binary(0))
        if (!this.is(')')) this.expect(',')
      }
      this.expect(')')
      return { kind: 'call', name: t.v, args }
    }
    if (t.t === 'id') {
      if (this.is('{')) {
        this.next()
        return this.selector(t.v)
      }
      return { kind: 'selector', matchers: [{ name: '__name__', op: '=', value: t.v }], offsetMs: 0 }
    }
    throw new PromQLError(`unexpected "${t.v || 'end of input'}" at position ${t.pos}`)
  }

  private aggregate(op: string): Expr {
    let grouping: string[] | undefined
    let without = false
    const clause = () => {
      if (this.is('by') || this.is('without')) {
        without = this.next().v === 'without'
        grouping = this.labelList()
      }
    }
    clause()
    this.expect('(')
    const args: Expr[] = []
    while (!this.is(')')) {
      args.push(this.binary(0))
      if (!this.is(')')) this.expect(',')
    }
    this.expect(')')
    clause()
    const wantsParam = op === 'topk' || op === 'bottomk' || op === 'quantile'
    if (args.length !== (wantsParam ? 2 : 1))
      throw new PromQLError(`wrong number of arguments for aggregate expression ${op}`)
    const expr = args[args.length - 1] as Expr
    return { kind: 'aggregate', op, without, grouping, param: wantsParam ? args[0] : undefined, expr }
  }

  /** After `{`: matchers up to `}`. */
  private selector(name: string | undefined): VectorSelector {
    const matchers: Matcher[] = name ? [{ name: '__name__', op: '=', value: name }] : []
    while (!this.is('}')) {
      const label = this.next()
      if (label.t !== 'id') throw new PromQLError(`expected a label name at position ${label.pos}`)
      const op = this.next()
      if (!['=', '!=', '=~', '!~'].includes(op.v))
        throw new PromQLError(`expected a matcher operator at position ${op.pos}`)
      const value = this.next()
      if (value.t !== 'str') throw new PromQLError(`expected a string at position ${value.pos}`)
      if (op.v.includes('~')) {
        try {
          anchored(value.v)
        } catch {
          throw new PromQLError(`invalid regular expression "${value.v}"`)
        }
      }
      matchers.push({ name: label.v, op: op.v as Matcher['op'], value: value.v })
      if (!this.is('}')) this.expect(',')
    }
    this.expect('}')
    if (matchers.every((m) => matches(m, ''))) {
      throw new PromQLError('vector selector must contain at least one non-empty matcher')
    }
    return { kind: 'selector', matchers, offsetMs: 0 }
  }
}

export function parsePromQL(query: string): Expr {
  return new Parser(lex(query)).parse()
}

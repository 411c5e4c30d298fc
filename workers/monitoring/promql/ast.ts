/** The PromQL syntax tree (the subset this block evaluates; see parser.ts). */

export type MatchOp = '=' | '!=' | '=~' | '!~'

export interface Matcher {
  name: string
  op: MatchOp
  value: string
}

/** An `@` modifier: a Unix time in ms, or the query's `start()`/`end()`. */
export type At = number | 'start' | 'end'

export interface VectorSelector {
  kind: 'selector'
  matchers: Matcher[]
  offsetMs: number
  at?: At
}

export interface MatrixSelector {
  kind: 'matrix'
  selector: VectorSelector
  rangeMs: number
}

/** `expr[range:step]`: `expr` evaluated every `stepMs` (aligned to multiples of it) over the range. */
export interface Subquery {
  kind: 'subquery'
  expr: Expr
  rangeMs: number
  stepMs?: number
  offsetMs: number
  at?: At
}

export interface VectorMatching {
  on: boolean
  labels: string[]
  group?: 'left' | 'right'
  include: string[]
}

export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | VectorSelector
  | MatrixSelector
  | Subquery
  | { kind: 'call'; name: string; args: Expr[] }
  | {
      kind: 'aggregate'
      op: string
      without: boolean
      grouping: string[] | undefined
      param?: Expr
      expr: Expr
    }
  | { kind: 'binary'; op: string; lhs: Expr; rhs: Expr; bool: boolean; matching?: VectorMatching }
  | { kind: 'unary'; expr: Expr }

/** Whether a label value satisfies a matcher (regexes are anchored, as in Prometheus). */
export function matches(m: Matcher, value: string | undefined, regex?: RegExp): boolean {
  const v = value ?? ''
  switch (m.op) {
    case '=':
      return v === m.value
    case '!=':
      return v !== m.value
    case '=~':
      return (regex ?? anchored(m.value)).test(v)
    case '!~':
      return !(regex ?? anchored(m.value)).test(v)
  }
}

/** A Go (RE2) pattern as an anchored JS RegExp; Go's `(?P<name>…)` becomes `(?<name>…)`. */
export function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern.replace(/\(\?P</g, '(?<')})$`, 's')
}

/** Every vector selector of an expression, with the widest lookback it needs. */
export function selectorsOf(expr: Expr, out: Array<{ selector: VectorSelector; rangeMs: number }> = []) {
  switch (expr.kind) {
    case 'selector':
      out.push({ selector: expr, rangeMs: 0 })
      break
    case 'matrix':
      out.push({ selector: expr.selector, rangeMs: expr.rangeMs })
      break
    case 'call':
      for (const a of expr.args) selectorsOf(a, out)
      break
    case 'aggregate':
      if (expr.param) selectorsOf(expr.param, out)
      selectorsOf(expr.expr, out)
      break
    case 'binary':
      selectorsOf(expr.lhs, out)
      selectorsOf(expr.rhs, out)
      break
    case 'unary':
    case 'subquery':
      selectorsOf(expr.expr, out)
      break
  }
  return out
}

/**
 * PromQL binary operators between instant vectors and scalars, as Prometheus 2.x applies
 * them: arithmetic drops the metric name, comparisons filter (or answer 0/1 with `bool`),
 * `and`/`or`/`unless` are set operations on the match signature, and one-to-one or
 * `group_left`/`group_right` matching on `on(...)`/`ignoring(...)` labels, with
 * Prometheus's errors for duplicate matches. Cost: O(lhs + rhs) per step.
 */
import { type Labels, seriesKey } from '../series'
import type { Expr, VectorMatching } from './ast'
import { PromQLError } from './parser'
import type { Sample } from './sample'

/** The labels without the metric name. */
export const withoutName = (labels: Labels): Labels => {
  const { __name__: _, ...rest } = labels
  return rest
}

export const ARITHMETIC = new Set(['+', '-', '*', '/', '%', '^'])

export function operate(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b
    case '-':
      return a - b
    case '*':
      return a * b
    case '/':
      return a / b
    case '%':
      return a % b
    case '^':
      return a ** b
    case '==':
      return a === b ? 1 : 0
    case '!=':
      return a !== b ? 1 : 0
    case '>':
      return a > b ? 1 : 0
    case '<':
      return a < b ? 1 : 0
    case '>=':
      return a >= b ? 1 : 0
    case '<=':
      return a <= b ? 1 : 0
  }
  throw new PromQLError(`operator "${op}" not allowed between these operands`)
}

function signature(labels: Labels, m: VectorMatching | undefined): string {
  if (m?.on)
    return seriesKey(
      Object.fromEntries(m.labels.filter((l) => l in labels).map((l) => [l, labels[l] as string])),
    )
  const drop = new Set(['__name__', ...(m?.labels ?? [])])
  return seriesKey(Object.fromEntries(Object.entries(labels).filter(([k]) => !drop.has(k))))
}

export function withScalar(v: Sample[], s: number, op: string, bool: boolean, scalarLeft: boolean): Sample[] {
  if (op === 'and' || op === 'or' || op === 'unless')
    throw new PromQLError(`set operator "${op}" not allowed in binary scalar expression`)
  const out: Sample[] = []
  for (const x of v) {
    const value = scalarLeft ? operate(op, s, x.value) : operate(op, x.value, s)
    if (ARITHMETIC.has(op)) out.push({ labels: withoutName(x.labels), value })
    else if (bool) out.push({ labels: withoutName(x.labels), value })
    else if (value === 1) out.push({ labels: x.labels, value: x.value })
  }
  return out
}

export function vectors(lhs: Sample[], rhs: Sample[], expr: Extract<Expr, { kind: 'binary' }>): Sample[] {
  const { op, bool, matching: m } = expr
  const rhsSigs = new Set(rhs.map((s) => signature(s.labels, m)))
  if (op === 'and') return lhs.filter((s) => rhsSigs.has(signature(s.labels, m)))
  if (op === 'unless') return lhs.filter((s) => !rhsSigs.has(signature(s.labels, m)))
  if (op === 'or') {
    const lhsSigs = new Set(lhs.map((s) => signature(s.labels, m)))
    return [...lhs, ...rhs.filter((s) => !lhsSigs.has(signature(s.labels, m)))]
  }
  const right = m?.group === 'right'
  const [many, one] = right ? [rhs, lhs] : [lhs, rhs]
  const oneBySig = new Map<string, Sample>()
  for (const s of one) {
    const sig = signature(s.labels, m)
    if (oneBySig.has(sig)) {
      throw new PromQLError(
        m?.group
          ? `found duplicate series for the match group on the ${right ? 'left' : 'right'} hand-side of the operation`
          : 'found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side',
        'execution',
      )
    }
    oneBySig.set(sig, s)
  }
  const seen = new Set<string>()
  const out: Sample[] = []
  for (const s of many) {
    const sig = signature(s.labels, m)
    const other = oneBySig.get(sig)
    if (!other) continue
    if (!m?.group) {
      if (seen.has(sig))
        throw new PromQLError(
          'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
          'execution',
        )
      seen.add(sig)
    }
    const [l, r] = right ? [other, s] : [s, other]
    const value = operate(op, l.value, r.value)
    const comparison = !ARITHMETIC.has(op)
    if (comparison && !bool && value !== 1) continue
    let labels: Labels = { ...s.labels }
    if (ARITHMETIC.has(op) || bool) labels = withoutName(labels)
    if (!m?.group) {
      if (m?.on)
        labels = Object.fromEntries(m.labels.filter((k) => k in labels).map((k) => [k, labels[k] as string]))
      else for (const k of m?.labels ?? []) delete labels[k]
    }
    for (const k of m?.include ?? []) {
      const v = other.labels[k]
      if (v) labels[k] = v
      else delete labels[k]
    }
    out.push({ labels, value: comparison && !bool ? l.value : value })
  }
  return out
}

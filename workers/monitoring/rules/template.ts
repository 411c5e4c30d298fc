/**
 * The subset of Prometheus's alert templates (Go text/template) that rule labels and
 * annotations use: `{{ $labels.name }}` (or `.Labels.name`), `{{ $value }}` (or `.Value`),
 * `{{ humanize $value }}` / `{{ $value | humanize }}`, `{{ printf "%.2f" $value }}`, and the
 * whitespace-trimming markers `{{-` / `-}}`. Anything else is refused when a rule file is
 * uploaded, so evaluation never meets an unknown action.
 *
 * Guarantees: `compileTemplate` throws `TemplateError` for unsupported or unbalanced
 * actions; `$value` prints as Go's `%v` of a float64 (`1e+06`, `0.5`, `NaN`, `+Inf`).
 * Cost: one regex pass at compile time, linear in the text at expansion.
 */
import type { Labels } from '../series'

export class TemplateError extends Error {}

type Arg = { kind: 'value' } | { kind: 'label'; name: string }
type Part =
  | { kind: 'text'; text: string }
  | { kind: 'arg'; arg: Arg; format: 'plain' | 'humanize' | { printf: string } }

export type Template = Part[]

function parseArg(text: string): Arg {
  if (text === '$value' || text === '.Value') return { kind: 'value' }
  const label = /^(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(text)
  if (label) return { kind: 'label', name: label[1] as string }
  throw new TemplateError(`unsupported template argument "${text}"`)
}

function parseAction(action: string): Part {
  const piped = /^(.+?)\s*\|\s*humanize$/.exec(action)
  if (piped) return { kind: 'arg', arg: parseArg(piped[1] as string), format: 'humanize' }
  const humanize = /^humanize\s+(\S+)$/.exec(action)
  if (humanize) return { kind: 'arg', arg: parseArg(humanize[1] as string), format: 'humanize' }
  const printf = /^printf\s+"(%[-+ 0#]*\d*(?:\.\d+)?[fgesdv])"\s+(\S+)$/.exec(action)
  if (printf)
    return { kind: 'arg', arg: parseArg(printf[2] as string), format: { printf: printf[1] as string } }
  return { kind: 'arg', arg: parseArg(action), format: 'plain' }
}

export function compileTemplate(text: string): Template {
  const parts: Template = []
  let rest = text
  for (;;) {
    const open = rest.indexOf('{{')
    if (open < 0) {
      if (rest.includes('}}')) throw new TemplateError('unexpected "}}"')
      if (rest !== '') parts.push({ kind: 'text', text: rest })
      return parts
    }
    let before = rest.slice(0, open)
    const close = rest.indexOf('}}', open)
    if (close < 0) throw new TemplateError('unclosed action "{{"')
    let inner = rest.slice(open + 2, close)
    let after = rest.slice(close + 2)
    if (inner.startsWith('-') && /^-\s/.test(inner)) {
      before = before.trimEnd()
      inner = inner.slice(1)
    }
    if (/\s-$/.test(inner)) {
      after = after.trimStart()
      inner = inner.slice(0, -1)
    }
    if (before !== '') parts.push({ kind: 'text', text: before })
    const action = inner.trim()
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) throw new TemplateError('unclosed comment')
    } else parts.push(parseAction(action))
    rest = after
  }
}

/** Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6. */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf'
  if (v === 0) return Object.is(v, -0) ? '-0' : '0'
  const [mantissa, exp] = v.toExponential().split('e') as [string, string]
  const e = Number(exp)
  if (e < -4 || e >= 6) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  return String(v)
}

/** Go's `%.Ng`: N significant digits, trailing zeros dropped. */
function goPrecision(v: number, digits: number): string {
  if (!Number.isFinite(v)) return goFloat(v)
  const [mantissa, exp] = v.toExponential(Math.max(0, digits - 1)).split('e') as [string, string]
  const e = Number(exp)
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s)
  if (e < -4 || e >= digits)
    return `${trim(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  return trim(v.toFixed(Math.max(0, digits - 1 - e)))
}

/** Prometheus's `humanize`: SI prefixes with four significant digits. */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return goPrecision(v, 4)
  const abs = Math.abs(v)
  if (abs >= 1) {
    const prefixes = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']
    let i = 0
    while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
      v /= 1000
      i++
    }
    return goPrecision(v, 4) + prefixes[i]
  }
  const prefixes = ['', 'm', 'u', 'n', 'p', 'f', 'a', 'z', 'y']
  let i = 0
  while (Math.abs(v) < 1 && i < prefixes.length - 1) {
    v *= 1000
    i++
  }
  return goPrecision(v, 4) + prefixes[i]
}

function printf(format: string, v: number | string): string {
  if (typeof v === 'string') return v
  const spec = /%[-+ 0#]*(\d*)(?:\.(\d+))?([fgesdv])/.exec(format)
  const precision = spec?.[2] === undefined ? undefined : Number(spec[2])
  switch (spec?.[3]) {
    case 'f':
      return Number.isFinite(v) ? v.toFixed(precision ?? 6) : goFloat(v)
    case 'e':
      return Number.isFinite(v)
        ? v.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2')
        : goFloat(v)
    case 'g':
      return precision === undefined ? goFloat(v) : goPrecision(v, precision)
    case 'd':
      return Number.isFinite(v) ? String(Math.trunc(v)) : goFloat(v)
    default:
      return goFloat(v)
  }
}

export function expandTemplate(template: Template, labels: Labels, value: number): string {
  let out = ''
  for (const part of template) {
    if (part.kind === 'text') {
      out += part.text
      continue
    }
    const arg: number | string = part.arg.kind === 'value' ? value : (labels[part.arg.name] ?? '')
    if (part.format === 'plain') out += typeof arg === 'number' ? goFloat(arg) : arg
    else if (part.format === 'humanize') out += typeof arg === 'number' ? humanize(arg) : arg
    else out += printf(part.format.printf, arg)
  }
  return out
}

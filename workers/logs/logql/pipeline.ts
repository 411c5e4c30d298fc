/**
 * Evaluating a log query's pipeline on one line: stream matchers, line filters, the `json`
 * and `logfmt` parsers, label filters and `line_format`, with Loki's semantics where they
 * matter: label matchers and label-filter regexes match the whole value, line filters are
 * substring / unanchored; parsed nested JSON keys join with `_`, arrays are skipped, a
 * parsed name that clashes with a stream label gets `_extracted`; a line that fails to
 * parse keeps going with `__error__` set; a missing label compares as "".
 *
 * Guarantees: pure and deterministic; compile once per query, run per line. Cost: per line,
 * the stages in order (parsers O(line length)).
 */
import { sanitizeLabelName } from '../entries'
import type { LabelFilter, LogQuery, Matcher, Stage } from './ast'
import { compileRegex } from './parser'

export type Labels = Record<string, string>

/** A line after the pipeline: its text and its labels (stream + metadata + parsed). */
export interface Processed {
  line: string
  labels: Labels
}

export type Pipeline = (line: string, labels: Labels) => Processed | undefined

export function compileMatchers(matchers: Matcher[]): (labels: Labels) => boolean {
  const tests = matchers.map((m) => {
    if (m.op === '=') return (labels: Labels) => (labels[m.name] ?? '') === m.value
    if (m.op === '!=') return (labels: Labels) => (labels[m.name] ?? '') !== m.value
    const regex = compileRegex(m.value, true)
    return m.op === '=~'
      ? (labels: Labels) => regex.test(labels[m.name] ?? '')
      : (labels: Labels) => !regex.test(labels[m.name] ?? '')
  })
  return (labels) => tests.every((test) => test(labels))
}

function compileFilter(filter: LabelFilter): (labels: Labels) => boolean {
  if (filter.kind !== 'compare') {
    const [left, right] = [compileFilter(filter.left), compileFilter(filter.right)]
    return filter.kind === 'and'
      ? (labels) => left(labels) && right(labels)
      : (labels) => left(labels) || right(labels)
  }
  return compileComparison(filter)
}

function compileComparison(filter: Extract<LabelFilter, { kind: 'compare' }>): (labels: Labels) => boolean {
  const { name, op, value } = filter
  if (typeof value === 'string') {
    if (op === '=~' || op === '!~') {
      const regex = compileRegex(value, true)
      return op === '=~'
        ? (labels) => regex.test(labels[name] ?? '')
        : (labels) => !regex.test(labels[name] ?? '')
    }
    return op === '='
      ? (labels) => (labels[name] ?? '') === value
      : (labels) => (labels[name] ?? '') !== value
  }
  return (labels) => {
    const text = labels[name]
    if (text === undefined || text.trim() === '') return false
    const actual = Number(text)
    if (Number.isNaN(actual)) return false
    switch (op) {
      case '==':
        return actual === value
      case '!=':
        return actual !== value
      case '>':
        return actual > value
      case '>=':
        return actual >= value
      case '<':
        return actual < value
      case '<=':
        return actual <= value
      default:
        return false
    }
  }
}

function addParsed(labels: Labels, name: string, value: string, original: Labels): void {
  const key = sanitizeLabelName(name)
  labels[key in original ? `${key}_extracted` : key] = value
}

/** Top-level and nested JSON fields as label pairs (`a.b` → `a_b`); undefined when the line is no JSON object. */
export function jsonFields(line: string): Array<[string, string]> | undefined {
  if (!line.startsWith('{')) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const fields: Array<[string, string]> = []
  const walk = (value: unknown, prefix: string) => {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const name = prefix ? `${prefix}_${key}` : key
      if (item === null) fields.push([name, ''])
      else if (Array.isArray(item)) continue
      else if (typeof item === 'object') walk(item, name)
      else fields.push([name, String(item)])
    }
  }
  walk(parsed, '')
  return fields
}

/** `key=value key2="quoted value"` pairs; undefined when the line has a stray token. */
export function logfmtFields(line: string): Array<[string, string]> | undefined {
  const fields: Array<[string, string]> = []
  const pair = /\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?/y
  let at = 0
  while (at < line.length) {
    pair.lastIndex = at
    const match = pair.exec(line)
    if (!match) {
      if (line.slice(at).trim() === '') break
      return undefined
    }
    const [, key, raw = ''] = match
    let value = raw
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string
      } catch {
        value = raw.slice(1, -1)
      }
    }
    fields.push([key as string, value])
    at = pair.lastIndex
  }
  return fields
}

/** `{{.name}}`, `{{ .name }}` and `{{__line__}}` (Go template field references). */
export function renderTemplate(template: string, line: string, labels: Labels): string {
  return template.replace(/\{\{\s*(\.?[A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, ref: string) => {
    if (ref === '__line__') return line
    return ref.startsWith('.') ? (labels[ref.slice(1)] ?? '') : ''
  })
}

function compileStage(stage: Stage): (state: Processed, original: Labels) => boolean {
  switch (stage.kind) {
    case 'line': {
      const { op, value } = stage
      if (op === '|=') return (s) => s.line.includes(value)
      if (op === '!=') return (s) => !s.line.includes(value)
      const regex = compileRegex(value, false)
      return op === '|~' ? (s) => regex.test(s.line) : (s) => !regex.test(s.line)
    }
    case 'json':
    case 'logfmt': {
      const parse = stage.kind === 'json' ? jsonFields : logfmtFields
      const error = stage.kind === 'json' ? 'JSONParserErr' : 'LogfmtParserErr'
      return (s, original) => {
        const fields = parse(s.line)
        if (!fields) s.labels.__error__ = error
        else for (const [name, value] of fields) addParsed(s.labels, name, value, original)
        return true
      }
    }
    case 'label': {
      const test = compileFilter(stage.filter)
      return (s) => test(s.labels)
    }
    case 'line_format':
      return (s) => {
        s.line = renderTemplate(stage.template, s.line, s.labels)
        return true
      }
  }
}

/** The pipeline of a log query (its selector is applied to streams separately). */
export function compilePipeline(query: LogQuery): Pipeline {
  const stages = query.stages.map(compileStage)
  return (line, labels) => {
    const state: Processed = { line, labels: { ...labels } }
    for (const stage of stages) if (!stage(state, labels)) return undefined
    return state
  }
}

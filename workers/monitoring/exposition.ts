/**
 * The Prometheus text exposition format 0.0.4: parsing pushed bodies (pushgateway style,
 * grouping labels added to every series) and rendering series (the platform's `/metrics`).
 *
 * Guarantees: a malformed line throws `SampleError` naming the line, so a push is all or
 * nothing; `# HELP`/`# TYPE` lines are checked for shape and otherwise informational.
 * Samples without a timestamp get `nowMs`. Cost: O(body bytes).
 */
import { type Labels, mergeSeries, SampleError, type Series } from './series'

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/

function parseValue(text: string, line: number): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY
    case '-Inf':
      return Number.NEGATIVE_INFINITY
    case 'NaN':
      return Number.NaN
  }
  const value = Number(text)
  if (text === '' || Number.isNaN(value))
    throw new SampleError(`line ${line}: invalid value ${JSON.stringify(text)}`)
  return value
}

function parseLabels(text: string, line: number): { labels: Labels; rest: string } {
  const labels: Labels = {}
  let rest = text.slice(1).trimStart()
  while (!rest.startsWith('}')) {
    const name = LABEL.exec(rest)?.[0]
    if (!name) throw new SampleError(`line ${line}: invalid label name`)
    rest = rest.slice(name.length).trimStart()
    if (!rest.startsWith('="')) throw new SampleError(`line ${line}: expected =" after ${name}`)
    rest = rest.slice(2)
    let value = ''
    let i = 0
    for (; i < rest.length && rest[i] !== '"'; i++) {
      if (rest[i] === '\\') {
        const next = rest[++i]
        value += next === 'n' ? '\n' : next === '\\' ? '\\' : next === '"' ? '"' : `\\${next ?? ''}`
      } else value += rest[i]
    }
    if (i >= rest.length) throw new SampleError(`line ${line}: unterminated label value`)
    if (name in labels) throw new SampleError(`line ${line}: duplicate label ${name}`)
    labels[name] = value
    rest = rest.slice(i + 1).trimStart()
    if (rest.startsWith(',')) rest = rest.slice(1).trimStart()
    else if (!rest.startsWith('}')) throw new SampleError(`line ${line}: expected , or }`)
  }
  return { labels, rest: rest.slice(1) }
}

/** Parses a text-format body into series; `grouping` labels override the body's (pushgateway rule). */
export function parseExposition(body: string, nowMs: number, grouping: Labels = {}): Series[] {
  const out: Series[] = []
  body.split('\n').forEach((raw, index) => {
    const line = index + 1
    const text = raw.trim()
    if (text === '') return
    if (text.startsWith('#')) {
      const parts = text.split(/\s+/)
      if ((parts[1] === 'TYPE' || parts[1] === 'HELP') && (parts[2] === undefined || !NAME.test(parts[2]))) {
        throw new SampleError(`line ${line}: invalid ${parts[1]} line`)
      }
      return
    }
    const name = NAME.exec(text)?.[0]
    if (!name) throw new SampleError(`line ${line}: invalid metric name`)
    let rest = text.slice(name.length)
    let labels: Labels = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line))
    const fields = rest.trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') {
      throw new SampleError(`line ${line}: expected a value and an optional timestamp`)
    }
    const value = parseValue(fields[0] as string, line)
    const time = fields[1] === undefined ? nowMs : Number(fields[1])
    if (!Number.isSafeInteger(time)) throw new SampleError(`line ${line}: invalid timestamp`)
    out.push({ labels: { ...labels, ...grouping, __name__: name }, times: [time], values: [value] })
  })
  return mergeSeries(out)
}

/** A value in the text format (and in Prometheus's JSON answers). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

export interface MetricFamily {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  samples: Array<{ suffix?: string; labels: Labels; value: number }>
}

/** Renders families in the text format 0.0.4. */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = []
  for (const f of families) {
    lines.push(
      `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${f.name} ${f.type}`,
    )
    for (const s of f.samples) {
      const pairs = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeValue(v)}"`)
      const labels = pairs.length > 0 ? `{${pairs.join(',')}}` : ''
      lines.push(`${f.name}${s.suffix ?? ''}${labels} ${formatValue(s.value)}`)
    }
  }
  return `${lines.join('\n')}\n`
}

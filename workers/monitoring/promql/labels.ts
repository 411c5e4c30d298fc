/**
 * `label_replace` and `label_join` with Prometheus 2.x semantics: the regex is fully
 * anchored (`^(?s:…)$`, as for matchers), the replacement expands `$1`, `${1}`, `$name`,
 * `${name}` and `$$` like Go's `Regexp.ExpandString` (an unknown group expands to nothing,
 * a malformed reference stays literal), an empty result removes the label, and an invalid
 * label name or regex is a `bad_data` error with Prometheus's message.
 * Cost: one regex match (or one join) per sample.
 */
import { type Labels, seriesKey } from '../series'
import { anchored } from './ast'
import { PromQLError } from './parser'
import type { Sample } from './sample'

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Go's template expansion (`regexp.Regexp.ExpandString`) over one JS match. */
export function expand(template: string, match: RegExpExecArray): string {
  let out = ''
  let i = 0
  while (i < template.length) {
    const dollar = template.indexOf('$', i)
    if (dollar < 0) break
    out += template.slice(i, dollar)
    i = dollar + 1
    if (template[i] === '$') {
      out += '$'
      i++
      continue
    }
    const ref = /^(?:\{(\w+)\}|(\w+))/.exec(template.slice(i))
    if (!ref) {
      out += '$'
      continue
    }
    i += ref[0].length
    const name = (ref[1] ?? ref[2]) as string
    const group = /^\d+$/.test(name) ? match[Number(name)] : match.groups?.[name]
    out += group ?? ''
  }
  return out + template.slice(i)
}

function withLabel(labels: Labels, name: string, value: string): Labels {
  const { [name]: _, ...rest } = labels
  return value === '' ? rest : { ...rest, [name]: value }
}

export function labelReplace(
  samples: Sample[],
  dst: string,
  replacement: string,
  src: string,
  regex: string,
) {
  let re: RegExp
  try {
    re = anchored(regex)
  } catch {
    throw new PromQLError(`invalid regular expression in label_replace(): ${regex}`)
  }
  if (!LABEL_NAME.test(dst))
    throw new PromQLError(`invalid destination label name in label_replace(): ${dst}`)
  return unique(
    samples.map((s) => {
      const match = re.exec(s.labels[src] ?? '')
      return match ? { labels: withLabel(s.labels, dst, expand(replacement, match)), value: s.value } : s
    }),
  )
}

export function labelJoin(samples: Sample[], dst: string, separator: string, srcs: string[]) {
  for (const src of srcs)
    if (!LABEL_NAME.test(src)) throw new PromQLError(`invalid source label name in label_join(): ${src}`)
  if (!LABEL_NAME.test(dst)) throw new PromQLError(`invalid destination label name in label_join(): ${dst}`)
  return unique(
    samples.map((s) => ({
      labels: withLabel(s.labels, dst, srcs.map((l) => s.labels[l] ?? '').join(separator)),
      value: s.value,
    })),
  )
}

/** Prometheus refuses a function result holding one label set twice. */
function unique(samples: Sample[]): Sample[] {
  const seen = new Set<string>()
  for (const s of samples) {
    const key = seriesKey(s.labels)
    if (seen.has(key))
      throw new PromQLError('vector cannot contain metrics with the same labelset', 'execution')
    seen.add(key)
  }
  return samples
}

/**
 * The PromQL lexer: numbers (hex, exponents, Inf/NaN), strings in three quotes with escapes,
 * identifiers (`:` too, except right after a duration, where it starts a subquery step),
 * durations such as `1h30m`, operators, `#` comments. Also the error every stage throws.
 *
 * Guarantees: any input either lexes or throws `PromQLError`. Cost: O(query length).
 */
export class PromQLError extends Error {
  constructor(
    message: string,
    readonly errorType: 'bad_data' | 'execution' = 'bad_data',
  ) {
    super(message)
    this.name = 'PromQLError'
  }
}

export type Token = { t: 'num' | 'str' | 'id' | 'dur' | 'op' | 'eof'; v: string; pos: number }

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+/
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1e3,
  m: 60e3,
  h: 3600e3,
  d: 86400e3,
  w: 604800e3,
  y: 31536000e3,
}
const OPS = [
  '==',
  '!=',
  '>=',
  '<=',
  '=~',
  '!~',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '>',
  '<',
  '=',
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '@',
]

export function parseDuration(text: string): number {
  if (!DURATION.test(text) || DURATION.exec(text)?.[0] !== text)
    throw new PromQLError(`invalid duration "${text}"`)
  let ms = 0
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g))
    ms += Number(n) * (UNIT_MS[unit as string] as number)
  return ms
}

export function lex(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++
      continue
    }
    const rest = src.slice(i)
    const dur = DURATION.exec(rest)
    const num = /^(0x[0-9a-fA-F]+|\d*\.?\d+(e[+-]?\d+)?|Inf|NaN)/i.exec(rest)
    if (dur && !/^[a-zA-Z0-9_.]/.test(rest.slice(dur[0].length))) {
      out.push({ t: 'dur', v: dur[0], pos: i })
      i += dur[0].length
    } else if (num && /^[\d.]/.test(c)) {
      out.push({ t: 'num', v: num[0], pos: i })
      i += num[0].length
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1
      let value = ''
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && c !== '`') {
          j++
          const e = src[j]
          value += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '')
        } else value += src[j]
        j++
      }
      if (j >= src.length) throw new PromQLError(`unterminated string at position ${i}`)
      out.push({ t: 'str', v: value, pos: i })
      i = j + 1
    } else if (/[a-zA-Z_]/.test(c) || (c === ':' && out[out.length - 1]?.t !== 'dur')) {
      const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)?.[0] as string
      out.push({ t: 'id', v: id, pos: i })
      i += id.length
    } else {
      const op = OPS.find((o) => rest.startsWith(o))
      if (!op) throw new PromQLError(`unexpected character "${c}" at position ${i}`)
      out.push({ t: 'op', v: op, pos: i })
      i += op.length
    }
  }
  out.push({ t: 'eof', v: '', pos: src.length })
  return out
}

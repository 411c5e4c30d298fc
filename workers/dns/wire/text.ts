/**
 * Presentation-format pieces shared by RDATA and zone files (RFC 1035 §5.1): tokens,
 * character strings with `\X` / `\DDD` escapes, IPv4 and IPv6 addresses, hex and base64.
 */
import { base64ToBytes, bytesToBase64 } from '../../platform/encoding'

export interface Token {
  /** The token as written, escapes kept (names and strings decode them themselves). */
  text: string
  quoted: boolean
}

/** Thrown on presentation text that does not parse; the API answers 400 with its message. */
export class PresentationError extends Error {}

/** One logical line of presentation text (parentheses join physical lines, RFC 1035 §5.1). */
export interface Line {
  tokens: Token[]
  /** The line starts with a blank: a zone file entry that reuses the previous owner. */
  indented: boolean
  /** 1-based number of the physical line it starts on. */
  number: number
}

/**
 * Splits text into logical lines of tokens: whitespace separates, `"…"` quotes (a
 * `key="a b"` token stays whole), `\` escapes the next character, `;` starts a comment,
 * `(` … `)` continue a line over newlines.
 */
export function scanLines(text: string): Line[] {
  const lines: Line[] = []
  let current: Line = { tokens: [], indented: false, number: 1 }
  let depth = 0
  let lineNumber = 1
  let atLineStart = true
  let i = 0
  const endLine = () => {
    if (current.tokens.length > 0) lines.push(current)
    current = { tokens: [], indented: false, number: lineNumber }
    atLineStart = true
  }
  while (i < text.length) {
    const char = text[i] as string
    if (char === '\n') {
      lineNumber++
      i++
      if (depth === 0) endLine()
      continue
    }
    if (char === ' ' || char === '\t' || char === '\r') {
      if (atLineStart && depth === 0 && current.tokens.length === 0) current.indented = true
      atLineStart = false
      i++
      continue
    }
    atLineStart = false
    if (char === ';') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (char === '(') {
      depth++
      i++
    } else if (char === ')') {
      if (depth === 0) throw new PresentationError(`Unbalanced ")" on line ${lineNumber}`)
      depth--
      i++
    } else if (char === '"') {
      const close = closingQuote(text, i)
      current.tokens.push({ text: text.slice(i + 1, close), quoted: true })
      lineNumber += countNewlines(text.slice(i, close))
      i = close + 1
    } else {
      let token = ''
      while (i < text.length && !/[\s;"()]/.test(text[i] as string)) {
        if (text[i] === '\\' && i + 1 < text.length) token += text[i++]
        token += text[i++]
        // `key="a value"` (SVCB parameters) stays one token, quotes included.
        if (token.endsWith('=') && text[i] === '"') {
          const close = closingQuote(text, i)
          token += text.slice(i, close + 1)
          i = close + 1
        }
      }
      current.tokens.push({ text: token, quoted: false })
    }
  }
  if (depth !== 0) throw new PresentationError('Unbalanced "(" at the end')
  endLine()
  return lines
}

function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') return i
  }
  throw new PresentationError('Unterminated quoted string')
}

function countNewlines(text: string): number {
  return text.split('\n').length - 1
}

/** The tokens of one record's text (newlines and parentheses allowed). */
export function tokenize(text: string): Token[] {
  return scanLines(text).flatMap((line) => line.tokens)
}

const encoder = new TextEncoder()

/** A character string's bytes: `\DDD` and `\X` escapes decoded, other text as UTF-8. */
export function unescapeBytes(text: string): Uint8Array {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    if (char === '\\') {
      const digits = text.slice(i + 1, i + 4)
      if (/^\d{3}$/.test(digits)) {
        if (Number(digits) > 255) throw new PresentationError(`Bad escape \\${digits}`)
        bytes.push(Number(digits))
        i += 3
      } else if (i + 1 < text.length) {
        bytes.push(...encoder.encode(text[++i] as string))
      } else throw new PresentationError('Dangling escape')
    } else {
      const code = text.codePointAt(i) as number
      if (code > 0xffff) i++
      bytes.push(...encoder.encode(String.fromCodePoint(code)))
    }
  }
  return Uint8Array.from(bytes)
}

/** A character string in quotes, printable ASCII as is, `"` and `\` escaped, other bytes `\DDD`. */
export function quoteBytes(bytes: Uint8Array): string {
  let text = '"'
  for (const byte of bytes) {
    if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`
    else if (byte < 32 || byte >= 127) text += `\\${String(byte).padStart(3, '0')}`
    else text += String.fromCharCode(byte)
  }
  return `${text}"`
}

export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255))
    throw new PresentationError(`"${text}" is not an IPv4 address`)
  return Uint8Array.from(parts.map(Number))
}

export function formatIpv4(bytes: Uint8Array): string {
  return Array.from(bytes).join('.')
}

export function parseIpv6(text: string): Uint8Array {
  const fail = () => new PresentationError(`"${text}" is not an IPv6 address`)
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) throw fail()
  let tail4: number[] = []
  let body = text
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted?.[1]) {
    tail4 = Array.from(parseIpv4(dotted[1]))
    body = `${text.slice(0, dotted.index)}:0:0`
  }
  const halves = body.split('::')
  if (halves.length > 2) throw fail()
  const head = halves[0] ? halves[0].split(':') : []
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw fail()
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (!groups.every((group) => /^[0-9A-Fa-f]{1,4}$/.test(group))) throw fail()
  const bytes = new Uint8Array(16)
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16)
    bytes[i * 2] = value >> 8
    bytes[i * 2 + 1] = value & 0xff
  })
  if (tail4.length === 4) bytes.set(tail4, 12)
  return bytes
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from(
    { length: 8 },
    (_, i) => ((bytes[i * 2] as number) << 8) | (bytes[i * 2 + 1] as number),
  )
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((group) => group.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

export function parseHex(text: string): Uint8Array {
  if (!/^([0-9A-Fa-f]{2})*$/.test(text)) throw new PresentationError('Expected hexadecimal octets')
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
}

export function formatHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
}

export function parseBase64(text: string): Uint8Array {
  const bytes = base64ToBytes(text)
  if (!bytes) throw new PresentationError('Expected base64')
  return bytes
}

export const formatBase64 = bytesToBase64

/** An unsigned decimal integer of at most `max`. */
export function parseUint(text: string, max: number, what = 'number'): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > max)
    throw new PresentationError(`Expected a ${what} from 0 to ${max}, got "${text}"`)
  return Number(text)
}

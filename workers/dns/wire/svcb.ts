/**
 * SVCB / HTTPS service parameters (RFC 9460 §2.1, §7): `key=value` pairs in presentation,
 * sorted by key number on the wire. Known keys: mandatory, alpn, no-default-alpn, port,
 * ipv4hint, ech, ipv6hint; any other as `key<N>="<text>"`.
 */
import type { Reader, Writer } from './bytes'
import {
  formatBase64,
  formatIpv4,
  formatIpv6,
  PresentationError,
  parseBase64,
  parseIpv4,
  parseIpv6,
  parseUint,
  quoteBytes,
  type Token,
  unescapeBytes,
} from './text'

const KEYS = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint'] as const

function keyNumber(text: string): number {
  const known = (KEYS as readonly string[]).indexOf(text)
  if (known >= 0) return known
  const generic = /^key(\d{1,5})$/.exec(text)?.[1]
  if (generic !== undefined && Number(generic) <= 65535) return Number(generic)
  throw new PresentationError(`Unknown service parameter "${text}"`)
}

function keyText(key: number): string {
  return KEYS[key] ?? `key${key}`
}

function encodeValue(key: number, value: string): Uint8Array {
  const parts = () => value.split(',').filter((part) => part.length > 0)
  const out: number[] = []
  switch (key) {
    case 0:
      for (const part of parts()) out.push(keyNumber(part) >> 8, keyNumber(part) & 0xff)
      break
    case 1:
      for (const part of parts()) {
        const bytes = unescapeBytes(part)
        if (bytes.length > 255) throw new PresentationError('An ALPN id is over 255 octets')
        out.push(bytes.length, ...bytes)
      }
      break
    case 2:
      if (value !== '') throw new PresentationError('no-default-alpn takes no value')
      break
    case 3: {
      const port = parseUint(value, 65535, 'port')
      out.push(port >> 8, port & 0xff)
      break
    }
    case 4:
      for (const part of parts()) out.push(...parseIpv4(part))
      break
    case 5:
      out.push(...parseBase64(value))
      break
    case 6:
      for (const part of parts()) out.push(...parseIpv6(part))
      break
    default:
      out.push(...unescapeBytes(value))
  }
  return Uint8Array.from(out)
}

export function writeSvcParams(w: Writer, tokens: Token[]): void {
  const params = new Map<number, Uint8Array>()
  for (const token of tokens) {
    const at = token.text.indexOf('=')
    const key = keyNumber(at < 0 ? token.text : token.text.slice(0, at))
    if (params.has(key)) throw new PresentationError(`Service parameter ${keyText(key)} given twice`)
    params.set(key, encodeValue(key, at < 0 ? '' : token.text.slice(at + 1).replace(/^"(.*)"$/, '$1')))
  }
  for (const key of [...params.keys()].sort((a, b) => a - b)) {
    const value = params.get(key) as Uint8Array
    w.u16(key)
    w.u16(value.length)
    w.bytes(value)
  }
}

export function readSvcParams(r: Reader): string[] {
  const params: string[] = []
  let previous = -1
  while (r.remaining > 0) {
    const key = r.u16()
    if (key <= previous) throw new PresentationError('Service parameters out of order')
    previous = key
    const value = r.take(r.u16())
    const list = (size: number, format: (bytes: Uint8Array) => string) => {
      const items: string[] = []
      for (let i = 0; i + size <= value.length; i += size) items.push(format(value.subarray(i, i + size)))
      return items.join(',')
    }
    switch (key) {
      case 0:
        params.push(`mandatory=${list(2, (b) => keyText(((b[0] as number) << 8) | (b[1] as number)))}`)
        break
      case 1: {
        const ids: string[] = []
        for (let i = 0; i < value.length; i += 1 + (value[i] as number))
          ids.push(String.fromCharCode(...value.subarray(i + 1, i + 1 + (value[i] as number))))
        params.push(`alpn="${ids.join(',')}"`)
        break
      }
      case 2:
        params.push('no-default-alpn')
        break
      case 3:
        params.push(`port=${((value[0] ?? 0) << 8) | (value[1] ?? 0)}`)
        break
      case 4:
        params.push(`ipv4hint=${list(4, formatIpv4)}`)
        break
      case 5:
        params.push(`ech=${formatBase64(value)}`)
        break
      case 6:
        params.push(`ipv6hint=${list(16, formatIpv6)}`)
        break
      default:
        params.push(`${keyText(key)}=${quoteBytes(value)}`)
    }
  }
  return params
}

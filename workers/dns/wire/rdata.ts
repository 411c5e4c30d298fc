/**
 * RDATA of each known type as a list of fields, and the three conversions every field
 * supports: presentation text → wire, wire (possibly compressed, from a message) → the
 * stored form, and stored form → presentation text. The stored form is the wire form with
 * every name uncompressed, so it can be signed, compared and re-encoded anywhere.
 * Unknown types use RFC 3597's `\# <length> <hex>` in both directions.
 */
import { Reader, Writer } from './bytes'
import { fqdn } from './names'
import { formatTime, parseTime, readBitmap, writeBitmap } from './nsec-rrsig'
import { readSvcParams, writeSvcParams } from './svcb'
import {
  formatBase64,
  formatHex,
  formatIpv4,
  formatIpv6,
  PresentationError,
  parseBase64,
  parseHex,
  parseIpv4,
  parseIpv6,
  parseUint,
  quoteBytes,
  type Token,
  unescapeBytes,
} from './text'
import { TYPE, typeCode, typeName } from './types'

type Field =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'a'
  | 'aaaa'
  | 'name'
  | 'strings'
  | 'tag'
  | 'rest-text'
  | 'hex'
  | 'base64'
  | 'type'
  | 'time'
  | 'bitmap'
  | 'svcparams'

const FIELDS: Record<number, Field[]> = {
  [TYPE.A]: ['a'],
  [TYPE.NS]: ['name'],
  [TYPE.CNAME]: ['name'],
  [TYPE.SOA]: ['name', 'name', 'u32', 'u32', 'u32', 'u32', 'u32'],
  [TYPE.PTR]: ['name'],
  [TYPE.MX]: ['u16', 'name'],
  [TYPE.TXT]: ['strings'],
  [TYPE.AAAA]: ['aaaa'],
  [TYPE.SRV]: ['u16', 'u16', 'u16', 'name'],
  [TYPE.DS]: ['u16', 'u8', 'u8', 'hex'],
  [TYPE.RRSIG]: ['type', 'u8', 'u8', 'u32', 'time', 'time', 'u16', 'name', 'base64'],
  [TYPE.NSEC]: ['name', 'bitmap'],
  [TYPE.DNSKEY]: ['u16', 'u8', 'u8', 'base64'],
  [TYPE.SVCB]: ['u16', 'name', 'svcparams'],
  [TYPE.HTTPS]: ['u16', 'name', 'svcparams'],
  [TYPE.CAA]: ['u8', 'tag', 'rest-text'],
  [TYPE.URI]: ['u16', 'u16', 'rest-text'],
}

/** Whether RDATA of this type has a field list here (else it is RFC 3597 opaque data). */
export function isKnownType(type: number): boolean {
  return Object.hasOwn(FIELDS, type)
}

/** Resolves a name token: absolute with a trailing dot, `@` the origin, else relative to `origin`. */
export function absoluteName(text: string, origin: string | undefined): string {
  if (text === '@') {
    if (origin === undefined) throw new PresentationError('"@" needs an origin')
    return origin
  }
  if (text.endsWith('.') && !text.endsWith('\\.')) return text === '.' ? '' : text.slice(0, -1)
  if (origin === undefined || origin === '') return text
  return `${text}.${origin}`
}

/** Presentation tokens → stored RDATA. `origin` completes relative names (zone files). */
export function parseRdata(type: number, tokens: Token[], origin?: string): Uint8Array {
  const w = new Writer()
  if (tokens[0]?.text === '\\#' && !tokens[0].quoted) {
    const length = parseUint(tokens[1]?.text ?? '', 65535, 'length')
    const data = parseHex(
      tokens
        .slice(2)
        .map((t) => t.text)
        .join(''),
    )
    if (data.length !== length) throw new PresentationError(`\\# says ${length} octets, found ${data.length}`)
    return data
  }
  const fields = FIELDS[type]
  if (!fields) throw new PresentationError(`Type ${typeName(type)} needs the generic \\# form (RFC 3597)`)
  let i = 0
  const next = (): Token => {
    const token = tokens[i++]
    if (!token) throw new PresentationError(`Too few fields for ${typeName(type)}`)
    return token
  }
  const rest = (): Token[] => {
    const taken = tokens.slice(i)
    i = tokens.length
    return taken
  }
  for (const field of fields) {
    switch (field) {
      case 'u8':
        w.u8(parseUint(next().text, 255))
        break
      case 'u16':
        w.u16(parseUint(next().text, 65535))
        break
      case 'u32':
        w.u32(parseUint(next().text, 4294967295))
        break
      case 'a':
        w.bytes(parseIpv4(next().text))
        break
      case 'aaaa':
        w.bytes(parseIpv6(next().text))
        break
      case 'name':
        w.name(absoluteName(next().text, origin), false)
        break
      case 'strings': {
        const strings = rest()
        if (strings.length === 0) throw new PresentationError('Expected at least one string')
        for (const token of strings) {
          const bytes = unescapeBytes(token.text)
          if (bytes.length > 255) throw new PresentationError('A character string is over 255 octets')
          w.u8(bytes.length)
          w.bytes(bytes)
        }
        break
      }
      case 'tag': {
        const tag = next().text
        if (!/^[A-Za-z0-9]{1,15}$/.test(tag))
          throw new PresentationError('A CAA tag is 1–15 letters or digits')
        w.u8(tag.length)
        w.bytes(unescapeBytes(tag))
        break
      }
      case 'rest-text':
        w.bytes(unescapeBytes(next().text))
        break
      case 'hex':
        w.bytes(
          parseHex(
            rest()
              .map((t) => t.text)
              .join(''),
          ),
        )
        break
      case 'base64':
        w.bytes(
          parseBase64(
            rest()
              .map((t) => t.text)
              .join(''),
          ),
        )
        break
      case 'type': {
        const code = typeCode(next().text)
        if (code === undefined) throw new PresentationError('Unknown type mnemonic')
        w.u16(code)
        break
      }
      case 'time':
        w.u32(parseTime(next().text))
        break
      case 'bitmap':
        writeBitmap(
          w,
          rest().map((t) => {
            const code = typeCode(t.text)
            if (code === undefined) throw new PresentationError(`Unknown type "${t.text}"`)
            return code
          }),
        )
        break
      case 'svcparams':
        writeSvcParams(w, rest())
        break
    }
  }
  if (i < tokens.length) throw new PresentationError(`Too many fields for ${typeName(type)}`)
  return w.finish()
}

/** RDATA read from a message (names decompressed) into its stored form; throws WireError. */
export function readRdata(reader: Reader, type: number, length: number): Uint8Array {
  const end = reader.offset + length
  reader.need(length)
  const fields = FIELDS[type]
  if (!fields?.includes('name')) return reader.take(length)
  const w = new Writer()
  for (const field of fields) {
    if (field === 'name') w.name(reader.name(), false)
    else if (field === 'u8') w.u8(reader.u8())
    else if (field === 'u16' || field === 'type') w.u16(reader.u16())
    else if (field === 'u32' || field === 'time') w.u32(reader.u32())
    else w.bytes(reader.take(end - reader.offset))
    if (reader.offset > end) throw new PresentationError('RDATA overruns its length')
  }
  if (reader.offset !== end) reader.take(end - reader.offset)
  return w.finish()
}

/** Stored RDATA → presentation text; unknown or malformed data as `\# <length> <hex>`. */
export function formatRdata(type: number, data: Uint8Array): string {
  const fields = FIELDS[type]
  if (fields) {
    try {
      return formatFields(fields, new Reader(data))
    } catch {
      // Falls through to the generic form: the data does not fit the type's fields.
    }
  }
  return data.length === 0 ? '\\# 0' : `\\# ${data.length} ${formatHex(data)}`
}

function formatFields(fields: Field[], r: Reader): string {
  const parts: string[] = []
  for (const field of fields) {
    switch (field) {
      case 'u8':
        parts.push(String(r.u8()))
        break
      case 'u16':
        parts.push(String(r.u16()))
        break
      case 'u32':
        parts.push(String(r.u32()))
        break
      case 'a':
        parts.push(formatIpv4(r.take(4)))
        break
      case 'aaaa':
        parts.push(formatIpv6(r.take(16)))
        break
      case 'name':
        parts.push(fqdn(r.name()))
        break
      case 'strings':
        do parts.push(quoteBytes(r.take(r.u8())))
        while (r.remaining > 0)
        break
      case 'tag':
        parts.push(String.fromCharCode(...r.take(r.u8())))
        break
      case 'rest-text':
        parts.push(quoteBytes(r.take(r.remaining)))
        break
      case 'hex':
        parts.push(formatHex(r.take(r.remaining)))
        break
      case 'base64':
        parts.push(formatBase64(r.take(r.remaining)))
        break
      case 'type':
        parts.push(typeName(r.u16()))
        break
      case 'time':
        parts.push(formatTime(r.u32()))
        break
      case 'bitmap':
        parts.push(...readBitmap(r).map(typeName))
        break
      case 'svcparams':
        parts.push(...readSvcParams(r))
        break
    }
  }
  if (r.remaining !== 0) throw new PresentationError('Trailing RDATA')
  return parts.join(' ')
}

/** The names inside stored RDATA of the types that point at other names (targets, glue). */
export function rdataTarget(type: number, data: Uint8Array): string | undefined {
  const skip: Record<number, number> = {
    [TYPE.CNAME]: 0,
    [TYPE.NS]: 0,
    [TYPE.PTR]: 0,
    [TYPE.MX]: 2,
    [TYPE.SRV]: 6,
    [TYPE.SVCB]: 2,
    [TYPE.HTTPS]: 2,
  }
  const before = skip[type]
  if (before === undefined) return undefined
  const r = new Reader(data)
  r.take(before)
  return r.name()
}

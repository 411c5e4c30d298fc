/**
 * SQS message attributes (typed: String, Number, Binary, with custom `.suffix` types) and
 * the digests SQS returns for them, over the queue block's plain string attributes.
 *
 * Storage: each attribute keeps its name; String/Number values are stored as is, Binary
 * as base64; the data types that are not plain `String` are kept in one reserved
 * attribute (`sqs.types`), so the native API sees ordinary strings and SQS gets the types
 * back. `MD5OfMessageAttributes` is SQS's algorithm: names sorted, each encoded as
 * length-prefixed name, length-prefixed type, a transport byte (1 string, 2 binary) and the
 * length-prefixed value. Costs: one MD5 over the attributes' bytes.
 */
import { md5 } from '../../platform/checksums'
import { base64ToBytes, bytesToBase64 } from '../../platform/encoding'
import { SqsError } from './errors'

export const TYPES_ATTRIBUTE = 'sqs.types'
const MAX_ATTRIBUTES = 10
const NAME = /^[A-Za-z0-9_\-.]{1,256}$/
/** The characters SQS allows in bodies and string values (XML 1.0's). */
export const XML_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u

export interface SqsAttributeValue {
  DataType: string
  StringValue?: string
  BinaryValue?: string
}

const encoder = new TextEncoder()

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

export function md5OfText(text: string): string {
  return toHex(md5(encoder.encode(text)))
}

function invalid(message: string): SqsError {
  return new SqsError('InvalidParameterValue', message)
}

/** Checks one attribute and returns its value bytes and transport byte. */
function checkedValue(name: string, value: SqsAttributeValue): { bytes: Uint8Array; transport: number } {
  const type = value.DataType
  if (typeof type !== 'string' || !/^(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,255})?$/.test(type))
    throw invalid(`The message attribute '${name}' has an invalid message attribute type.`)
  if (type.startsWith('Binary')) {
    const bytes = typeof value.BinaryValue === 'string' ? base64ToBytes(value.BinaryValue) : undefined
    if (!bytes)
      throw invalid(`The message attribute '${name}' must contain a non-empty message attribute value.`)
    return { bytes, transport: 2 }
  }
  if (typeof value.StringValue !== 'string' || value.StringValue === '')
    throw invalid(`The message attribute '${name}' must contain a non-empty message attribute value.`)
  if (!XML_TEXT.test(value.StringValue))
    throw invalid(`Message (user) attribute '${name}' value contains invalid characters.`)
  if (type.startsWith('Number') && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.StringValue))
    throw invalid(`Can't cast the value of message (user) attribute '${name}' to a number.`)
  return { bytes: encoder.encode(value.StringValue), transport: 1 }
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array[] {
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, bytes.length)
  return [length, bytes]
}

/** SQS's MD5OfMessageAttributes; undefined when there are none. */
export function md5OfAttributes(attributes: Record<string, SqsAttributeValue>): string | undefined {
  const names = Object.keys(attributes).sort()
  if (names.length === 0) return undefined
  const parts: Uint8Array[] = []
  for (const name of names) {
    const value = attributes[name] as SqsAttributeValue
    const { bytes, transport } = checkedValue(name, value)
    parts.push(...lengthPrefixed(encoder.encode(name)), ...lengthPrefixed(encoder.encode(value.DataType)))
    parts.push(Uint8Array.of(transport), ...lengthPrefixed(bytes))
  }
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    all.set(part, offset)
    offset += part.length
  }
  return toHex(md5(all))
}

/** Validates SQS attributes and flattens them into the queue block's string attributes. */
export function toNativeAttributes(
  attributes: Record<string, SqsAttributeValue> | undefined,
): Record<string, string> | undefined {
  const entries = Object.entries(attributes ?? {})
  if (entries.length === 0) return undefined
  if (entries.length > MAX_ATTRIBUTES)
    throw invalid(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`,
    )
  const native: Record<string, string> = {}
  const types: Record<string, string> = {}
  for (const [name, value] of entries) {
    if (!NAME.test(name) || name.toLowerCase().startsWith('aws.') || name === TYPES_ATTRIBUTE)
      throw invalid(`The message attribute name '${name}' is invalid.`)
    if (typeof value !== 'object' || value === null)
      throw invalid(`The message attribute '${name}' is invalid.`)
    const { bytes, transport } = checkedValue(name, value)
    native[name] = transport === 2 ? bytesToBase64(bytes) : (value.StringValue as string)
    if (value.DataType !== 'String') types[name] = value.DataType
  }
  if (Object.keys(types).length > 0) native[TYPES_ATTRIBUTE] = JSON.stringify(types)
  return native
}

/** The typed SQS attributes of a stored message (native attributes read as `String`). */
export function fromNativeAttributes(native: Record<string, string>): Record<string, SqsAttributeValue> {
  let types: Record<string, string> = {}
  try {
    types = native[TYPES_ATTRIBUTE] ? (JSON.parse(native[TYPES_ATTRIBUTE]) as Record<string, string>) : {}
  } catch {
    types = {}
  }
  const typed: Record<string, SqsAttributeValue> = {}
  for (const [name, value] of Object.entries(native)) {
    if (name === TYPES_ATTRIBUTE) continue
    const type = typeof types[name] === 'string' ? (types[name] as string) : 'String'
    typed[name] = type.startsWith('Binary')
      ? { DataType: type, BinaryValue: value }
      : { DataType: type, StringValue: value }
  }
  return typed
}

/** Keeps the attributes a ReceiveMessage asked for (`All`, `.*`, names, `prefix.*`). */
export function selectAttributes<T>(all: Record<string, T>, names: string[] | undefined): Record<string, T> {
  if (!names || names.length === 0) return {}
  const picked: Record<string, T> = {}
  for (const [name, value] of Object.entries(all)) {
    const wanted = names.some(
      (pattern) =>
        pattern === 'All' ||
        pattern === '.*' ||
        pattern === name ||
        (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
    )
    if (wanted) picked[name] = value
  }
  return picked
}

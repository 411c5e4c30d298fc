/**
 * CloudEvents 1.0 in and out of a topic.
 *
 * In: an event arrives in structured mode (`application/cloudevents+json`, or a batch as
 * `application/cloudevents-batch+json`) or binary mode (`ce-*` headers + the data as the
 * body). Either way it is stored as a message the way the Pub/Sub protocol binding of
 * CloudEvents does it: every context attribute becomes a `ce-<name>` attribute,
 * `datacontenttype` becomes `content-type`, the data becomes the message data. The
 * `partitionkey` extension (the Partitioning extension) is the ordering key, and `source`
 * + `id` (which the spec says identify an event) is the deduplication id.
 *
 * Out: a message that carries that binding is that event again; any other message is
 * wrapped in a synthesized event of type `edgeblocks.pubsub.v1.messagePublished` whose
 * data is `{ message, subscription }` (as Eventarc wraps Pub/Sub messages). The event is
 * then written in structured mode (JSON), binary mode (HTTP headers + body), or as a
 * message with `ce-*` attributes (binary mode of the Pub/Sub binding).
 *
 * Guarantees: structured ↔ stored ↔ structured keeps every attribute and the data (JSON
 * data stays JSON, text stays text, other bytes travel as `data_base64`); binary header
 * values are percent-encoded and decoded per the HTTP binding (§3.1.3.2).
 * Cost: linear in the event size.
 */

import { ATTRIBUTE_NAME } from '../../schemas/pubsub'
import { base64ToBytes, bytesToBase64 } from '../platform/encoding'
import type { MessageDraft, StoredMessage } from './messages'
import { textBytes, toPubsubMessage, utf8OrUndefined } from './messages'

export const SPEC_VERSION = '1.0'
export const STRUCTURED_MEDIA_TYPE = 'application/cloudevents+json'
export const BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json'
export const MESSAGE_PUBLISHED_TYPE = 'edgeblocks.pubsub.v1.messagePublished'

const REQUIRED = ['specversion', 'id', 'source', 'type'] as const
const ATTRIBUTE_PREFIX = 'ce-'
const MAX_VALUE_LENGTH = 1024

/** An event with every context attribute as its canonical string and the data as bytes. */
export interface CloudEvent {
  attributes: Record<string, string>
  data?: Uint8Array
}

/** A structured-mode event after schema validation. */
export interface StructuredEventInput {
  specversion: string
  id: string
  source: string
  type: string
  datacontenttype?: string | undefined
  data?: unknown
  data_base64?: string | undefined
  [extension: string]: unknown
}

export interface EventProblem {
  path: string
  message: string
}

export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
  return media === 'application/json' || media === 'text/json' || media.endsWith('+json')
}

function isTextMediaType(contentType: string | undefined): boolean {
  const media = contentType?.split(';')[0]?.trim().toLowerCase() ?? ''
  return media.startsWith('text/') || media.endsWith('+xml') || media === 'application/xml'
}

/** Structured mode in: the schema checked types and bounds; this maps values to strings. */
export function eventFromStructured(input: StructuredEventInput): CloudEvent {
  const attributes: Record<string, string> = {}
  for (const [name, value] of Object.entries(input)) {
    if (name === 'data' || name === 'data_base64' || value === undefined || value === null) continue
    attributes[name] = typeof value === 'string' ? value : String(value)
  }
  if (input.data_base64 !== undefined) {
    return { attributes, data: base64ToBytes(input.data_base64) ?? new Uint8Array() }
  }
  if (input.data === undefined) return { attributes }
  const contentType = input.datacontenttype
  if (typeof input.data === 'string' && contentType !== undefined && !isJsonMediaType(contentType)) {
    return { attributes, data: textBytes(input.data) }
  }
  if (contentType === undefined) attributes.datacontenttype = 'application/json'
  return { attributes, data: textBytes(JSON.stringify(input.data)) }
}

/** Decodes a percent-encoded header value (UTF-8); undefined when malformed. */
export function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

/** Percent-encodes space, `"`, `%` and everything outside printable ASCII (as UTF-8). */
export function percentEncode(value: string): string {
  let encoded = ''
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0
    if (code > 0x20 && code < 0x7f && char !== '"' && char !== '%') encoded += char
    else for (const byte of textBytes(char)) encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return encoded
}

/** Binary mode in: `ce-*` headers (lowercase names) and the body. */
export function eventFromBinary(
  headers: Record<string, string>,
  body: Uint8Array,
): { event: CloudEvent } | { problems: EventProblem[] } {
  const attributes: Record<string, string> = {}
  const problems: EventProblem[] = []
  for (const [header, raw] of Object.entries(headers)) {
    if (!header.startsWith(ATTRIBUTE_PREFIX)) continue
    const name = header.slice(ATTRIBUTE_PREFIX.length)
    const value = percentDecode(raw)
    if (!ATTRIBUTE_NAME.test(name) || name === 'datacontenttype') {
      problems.push({ path: `header/${header}`, message: 'Not a CloudEvents context attribute header' })
    } else if (value === undefined) {
      problems.push({ path: `header/${header}`, message: 'Malformed percent-encoding' })
    } else if (value.length > MAX_VALUE_LENGTH) {
      problems.push({ path: `header/${header}`, message: `At most ${MAX_VALUE_LENGTH} characters` })
    } else attributes[name] = value
  }
  const contentType = headers['content-type']
  if (contentType) attributes.datacontenttype = contentType
  problems.push(...contextProblems(attributes, 'header/ce-'))
  if (problems.length > 0) return { problems }
  return { event: body.byteLength > 0 ? { attributes, data: body } : { attributes } }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i

/** Required attributes present and non-empty, the spec version 1.0, `time` RFC 3339. */
export function contextProblems(attributes: Record<string, string>, pathPrefix: string): EventProblem[] {
  const problems: EventProblem[] = []
  for (const name of REQUIRED) {
    if (!attributes[name]) problems.push({ path: `${pathPrefix}${name}`, message: 'Required' })
  }
  if (attributes.specversion && attributes.specversion !== SPEC_VERSION) {
    problems.push({ path: `${pathPrefix}specversion`, message: 'Only CloudEvents 1.0 is accepted' })
  }
  if (attributes.time !== undefined && !RFC3339.test(attributes.time)) {
    problems.push({ path: `${pathPrefix}time`, message: 'An RFC 3339 timestamp' })
  }
  return problems
}

/** The message that stores an event (the Pub/Sub protocol binding). */
export function eventToDraft(event: CloudEvent): MessageDraft {
  const attributes: Record<string, string> = {}
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === 'datacontenttype') attributes['content-type'] = value
    else attributes[ATTRIBUTE_PREFIX + name] = value
  }
  return {
    data: event.data ?? new Uint8Array(),
    attributes,
    orderingKey: event.attributes.partitionkey || undefined,
    deduplicationId: `ce:${event.attributes.source}#${event.attributes.id}`,
  }
}

export interface EventOrigin {
  topic: string
  subscription: string
}

/** True when the message's attributes carry a CloudEvent (the Pub/Sub binding). */
export function carriesEvent(attributes: Record<string, string>): boolean {
  return REQUIRED.every((name) => Boolean(attributes[ATTRIBUTE_PREFIX + name]))
}

/** The event a message is delivered as: its own, or a `messagePublished` wrapper. */
export function eventOfMessage(message: StoredMessage, origin: EventOrigin): CloudEvent {
  if (carriesEvent(message.attributes)) {
    const attributes: Record<string, string> = {}
    for (const [key, value] of Object.entries(message.attributes)) {
      if (key === 'content-type') attributes.datacontenttype = value
      else if (key.startsWith(ATTRIBUTE_PREFIX) && ATTRIBUTE_NAME.test(key.slice(ATTRIBUTE_PREFIX.length))) {
        attributes[key.slice(ATTRIBUTE_PREFIX.length)] = value
      }
    }
    return message.data.byteLength > 0 ? { attributes, data: message.data } : { attributes }
  }
  const envelope = { message: toPubsubMessage(message), subscription: origin.subscription }
  return {
    attributes: {
      specversion: SPEC_VERSION,
      id: String(message.seq),
      source: `/v1/pubsub/topics/${origin.topic}`,
      type: MESSAGE_PUBLISHED_TYPE,
      time: new Date(message.publishedAt).toISOString(),
      datacontenttype: 'application/json',
    },
    data: textBytes(JSON.stringify(envelope)),
  }
}

/** Structured mode out: JSON data inline, text as a string, other bytes as `data_base64`. */
export function toStructured(event: CloudEvent): Record<string, unknown> {
  const structured: Record<string, unknown> = { ...event.attributes }
  if (!event.data) return structured
  const contentType = event.attributes.datacontenttype
  const text = utf8OrUndefined(event.data)
  if (text !== undefined && isJsonMediaType(contentType)) {
    try {
      structured.data = JSON.parse(text)
      return structured
    } catch {
      // Declared JSON but is not: keep the bytes exactly.
    }
  } else if (text !== undefined && isTextMediaType(contentType)) {
    structured.data = text
    return structured
  }
  structured.data_base64 = bytesToBase64(event.data)
  return structured
}

/** Binary mode out: `ce-*` headers (percent-encoded) and `content-type`. */
export function binaryHeaders(event: CloudEvent): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === 'datacontenttype') headers['content-type'] = value
    else headers[ATTRIBUTE_PREFIX + name] = percentEncode(value)
  }
  return headers
}

/** Binary mode of the Pub/Sub binding: the event as a message with `ce-*` attributes. */
export function toBindingMessage(event: CloudEvent, message: StoredMessage): StoredMessage {
  const attributes: Record<string, string> = {}
  for (const [name, value] of Object.entries(event.attributes)) {
    attributes[name === 'datacontenttype' ? 'content-type' : ATTRIBUTE_PREFIX + name] = value
  }
  return { ...message, attributes, data: event.data ?? new Uint8Array() }
}

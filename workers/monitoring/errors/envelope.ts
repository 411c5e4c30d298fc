/**
 * Sentry envelopes (https://develop.sentry.dev/sdk/envelopes/) and DSN auth.
 *
 * `parseEnvelope`: a header line (JSON object), then items, each an item-header line (JSON
 * object with `type`) and a payload of exactly `length` bytes (then an optional newline), or
 * without `length`, up to the next newline or the end. The whole body is checked before
 * anything is returned, so a malformed envelope stores nothing. Item types other than
 * event, transaction, session and sessions are skipped (attachments, client reports…).
 *
 * `sentryKey`: the public key from `?sentry_key=`, `X-Sentry-Auth: Sentry sentry_key=…`,
 * or the envelope header's `dsn`. A public key is 32 random hex digits followed by the hex
 * of the tenant's name, so the key alone names the tenant (its random part, checked by the
 * project's object, is what authenticates).
 *
 * Cost: O(body bytes), one JSON parse per header and per kept payload.
 */

export class EnvelopeError extends Error {}

export type ItemType = 'event' | 'transaction' | 'session' | 'sessions'
export interface EnvelopeItem {
  type: ItemType
  payload: unknown
}
export interface Envelope {
  header: Record<string, unknown>
  items: EnvelopeItem[]
}

const KEPT = new Set<string>(['event', 'transaction', 'session', 'sessions'])
const NEWLINE = 10
const decoder = new TextDecoder()

function jsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new EnvelopeError(`${what} is not valid JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new EnvelopeError(`${what} is not a JSON object`)
  return value as Record<string, unknown>
}

function lineEnd(body: Uint8Array, from: number): number {
  const at = body.indexOf(NEWLINE, from)
  return at === -1 ? body.length : at
}

export function parseEnvelope(body: Uint8Array, maxItems: number): Envelope {
  if (body.length === 0) throw new EnvelopeError('empty envelope')
  let end = lineEnd(body, 0)
  const header = jsonObject(body.subarray(0, end), 'envelope header')
  let at = end + 1
  const items: EnvelopeItem[] = []
  let count = 0
  while (at < body.length) {
    end = lineEnd(body, at)
    const line = body.subarray(at, end)
    at = end + 1
    if (line.length === 0 || (line.length === 1 && line[0] === 13)) continue // blank line between items
    const itemHeader = jsonObject(line, `item header ${count + 1}`)
    if (typeof itemHeader.type !== 'string') throw new EnvelopeError(`item ${count + 1} has no type`)
    if (++count > maxItems) throw new EnvelopeError(`more than ${maxItems} items`)
    let payload: Uint8Array
    if (itemHeader.length !== undefined) {
      const length = itemHeader.length
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 0)
        throw new EnvelopeError(`item ${count} has an invalid length`)
      if (at + length > body.length)
        throw new EnvelopeError(`item ${count} is shorter than its length ${length}`)
      payload = body.subarray(at, at + length)
      at += length
      if (at < body.length) {
        if (body[at] !== NEWLINE) throw new EnvelopeError(`item ${count} is longer than its length ${length}`)
        at += 1
      }
    } else {
      end = lineEnd(body, at)
      payload = body.subarray(at, end)
      at = end + 1
    }
    if (!KEPT.has(itemHeader.type)) continue
    items.push({ type: itemHeader.type as ItemType, payload: jsonObject(payload, `item ${count} payload`) })
  }
  return { header, items }
}

/** The body of the legacy store endpoint: one event as JSON. */
export function parseStoreBody(body: Uint8Array): Envelope {
  return { header: {}, items: [{ type: 'event', payload: jsonObject(body, 'event') }] }
}

const KEY = /^[0-9a-f]{32,512}$/

/** The public key of a request, or undefined when it carries none. */
export function sentryKey(
  query: URLSearchParams,
  authHeader: string | undefined,
  envelopeHeader?: Record<string, unknown>,
): string | undefined {
  const fromQuery = query.get('sentry_key')
  if (fromQuery) return fromQuery
  if (authHeader) {
    const match = /sentry_key=([^,\s]+)/.exec(authHeader)
    if (match?.[1]) return match[1]
  }
  const dsn = envelopeHeader?.dsn
  if (typeof dsn === 'string') {
    try {
      return new URL(dsn).username || undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

/** A new public key for `tenant`; `random` is 16 random bytes. */
export function newPublicKey(tenant: string, random: Uint8Array): string {
  return hex(random) + hex(new TextEncoder().encode(tenant))
}

/** The tenant a public key names, or undefined for a malformed key. */
export function tenantOfKey(key: string): string | undefined {
  if (!KEY.test(key) || key.length % 2 !== 0 || key.length === 32) return undefined
  const tail = key.slice(32)
  const bytes = new Uint8Array(tail.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(tail.slice(2 * i, 2 * i + 2), 16)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    return undefined
  }
}

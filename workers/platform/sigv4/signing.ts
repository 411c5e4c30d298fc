/**
 * AWS Signature Version 4: the canonical request, the string to sign and the signing key,
 * exactly as the AWS SDKs (`@smithy/signature-v4`) build them.
 *
 * Guarantees: the same bytes the SDK signs are rebuilt from what the server received
 * (decoded path segments re-encoded with RFC 3986 unreserved characters; S3 paths encoded
 * once, every other service twice; query pairs sorted by encoded name then value; header
 * values trimmed with inner runs of spaces folded to one). Costs: four HMAC-SHA256 for the
 * signing key (cache it per key, day, region and service) and one SHA-256 per request.
 */

export const ALGORITHM = 'AWS4-HMAC-SHA256'
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const encoder = new TextEncoder()

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  let out = ''
  for (const byte of view) out += byte.toString(16).padStart(2, '0')
  return out
}

export async function sha256(data: string | Uint8Array): Promise<Uint8Array> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))
}

export async function sha256HexOf(data: string | Uint8Array): Promise<string> {
  return toHex(await sha256(data))
}

export async function hmac(key: Uint8Array, data: string | Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    'raw',
    key as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const bytes = typeof data === 'string' ? encoder.encode(data) : data
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, bytes as BufferSource))
}

/** RFC 3986 percent-encoding as SigV4 defines it: everything but `A-Za-z0-9-._~` (and `/` when asked). */
export function uriEncode(text: string, keepSlash = false): string {
  let out = ''
  for (const byte of encoder.encode(text)) {
    const char = String.fromCharCode(byte)
    if (/[A-Za-z0-9\-._~]/.test(char) || (keepSlash && char === '/')) out += char
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Percent-decoding that leaves malformed escapes as they are (S3 keys may hold `%`). */
export function uriDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * The canonical URI of a raw (still encoded) path. S3 signs the path encoded once; other
 * services (SQS) sign the encoded path encoded again, after removing dot segments.
 */
export function canonicalUri(rawPath: string, service: string): string {
  const segments = rawPath.split('/').map(uriDecode)
  if (service === 's3') return segments.map((segment) => uriEncode(segment)).join('/') || '/'
  const normalized: string[] = []
  for (const segment of segments) {
    if (segment === '.') continue
    if (segment === '..') normalized.pop()
    else normalized.push(segment)
  }
  const path = normalized.map((segment) => uriEncode(uriEncode(segment))).join('/')
  return path.startsWith('/') ? path : `/${path}`
}

/** Sorted, encoded `name=value` pairs of a raw query string, without the signature itself. */
export function canonicalQuery(rawQuery: string, omit = 'X-Amz-Signature'): string {
  const pairs: [string, string][] = []
  for (const part of rawQuery.replace(/^\?/, '').split('&')) {
    if (!part) continue
    const at = part.indexOf('=')
    const name = uriDecode((at < 0 ? part : part.slice(0, at)).replace(/\+/g, '%20'))
    if (name === omit) continue
    const value = at < 0 ? '' : uriDecode(part.slice(at + 1).replace(/\+/g, '%20'))
    pairs.push([uriEncode(name), uriEncode(value)])
  }
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([name, value]) => `${name}=${value}`).join('&')
}

/** `name:value\n` lines of the signed headers, values trimmed and inner spaces folded. */
export function canonicalHeaders(headers: Headers, signed: readonly string[]): string {
  return signed.map((name) => `${name}:${(headers.get(name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
}

export interface CanonicalParts {
  method: string
  rawPath: string
  rawQuery: string
  headers: Headers
  signedHeaders: readonly string[]
  payloadHash: string
  service: string
}

export function canonicalRequest(parts: CanonicalParts): string {
  return [
    parts.method,
    canonicalUri(parts.rawPath, parts.service),
    canonicalQuery(parts.rawQuery),
    canonicalHeaders(parts.headers, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n')
}

/** `<date>/<region>/<service>/aws4_request`. */
export interface CredentialScope {
  date: string
  region: string
  service: string
}

export function scopeString(scope: CredentialScope): string {
  return `${scope.date}/${scope.region}/${scope.service}/aws4_request`
}

export async function stringToSign(
  amzDate: string,
  scope: CredentialScope,
  canonical: string,
): Promise<string> {
  return [ALGORITHM, amzDate, scopeString(scope), await sha256HexOf(canonical)].join('\n')
}

export async function signingKey(secret: string, scope: CredentialScope): Promise<Uint8Array> {
  const dateKey = await hmac(encoder.encode(`AWS4${secret}`), scope.date)
  const regionKey = await hmac(dateKey, scope.region)
  const serviceKey = await hmac(regionKey, scope.service)
  return hmac(serviceKey, 'aws4_request')
}

export async function signatureOf(key: Uint8Array, toSign: string): Promise<string> {
  return toHex(await hmac(key, toSign))
}

/** Compares two hex signatures in time independent of where they differ. */
export function sameSignature(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** `20150830T123600Z` → milliseconds since the epoch; NaN when malformed. */
export function parseAmzDate(text: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (!match) return Number.NaN
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[]
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s)
}

export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

/**
 * Base64url (RFC 4648 §5, unpadded) for opaque cursors and receipt handles, and standard
 * base64 (§4, padded) for message payloads and webhook signatures.
 */
import { isBase64 } from '../../schemas/base64'

export function bytesToBase64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Returns undefined for anything that is not base64url. */
export function base64urlToBytes(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(binary, (char) => char.charCodeAt(0))
  } catch {
    return undefined
  }
}

export function textToBase64url(text: string): string {
  return bytesToBase64url(new TextEncoder().encode(text))
}

export function base64urlToText(text: string): string | undefined {
  const bytes = base64urlToBytes(text)
  if (!bytes) return undefined
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    return undefined
  }
}

/** Standard base64, padded. */
export function bytesToBase64(bytes: Uint8Array): string {
  const url = bytesToBase64url(bytes).replace(/-/g, '+').replace(/_/g, '/')
  return url + '='.repeat((4 - (url.length % 4)) % 4)
}

/** Standard padded base64 to bytes; undefined when the text is not base64. */
export function base64ToBytes(text: string): Uint8Array | undefined {
  if (!isBase64(text)) return undefined
  return base64urlToBytes(text.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))
}

/** SHA-256 of the UTF-8 text (or of the bytes), as lowercase hex (content hashes, request fingerprints). */
export async function sha256Hex(text: string | Uint8Array): Promise<string> {
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** `a` followed by `b` (`b` itself when `a` is empty, so appending to nothing copies nothing). */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

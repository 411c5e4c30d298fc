/**
 * Platform batons: the storage node's Hrana baton wrapped with the tenant, the database's
 * namespace and an HMAC-SHA256 signature under the platform's secret. Any isolate can
 * verify one and route the next request of the stream to the right node; a baton from
 * another tenant or database, or altered in any byte, is refused. Cost: one HMAC per request.
 */
import { base64urlToBytes, base64urlToText, bytesToBase64url, textToBase64url } from '../platform/encoding'

interface BatonClaims {
  t: string
  n: string
  b: string
}

const keys = new Map<string, Promise<CryptoKey>>()

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    key = crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(`databases-baton\n${secret}`),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )
    keys.set(secret, key)
  }
  return key
}

export async function signBaton(
  secret: string,
  tenant: string,
  namespace: string,
  backend: string,
): Promise<string> {
  const payload = textToBase64url(
    JSON.stringify({ t: tenant, n: namespace, b: backend } satisfies BatonClaims),
  )
  const mac = await crypto.subtle.sign('HMAC', await keyFor(secret), new TextEncoder().encode(payload))
  return `${payload}.${bytesToBase64url(new Uint8Array(mac))}`
}

/** The node's baton, or undefined when the baton is not one this platform signed for this database. */
export async function openBaton(
  secret: string,
  tenant: string,
  namespace: string,
  baton: string,
): Promise<string | undefined> {
  const [payload, mac, ...rest] = baton.split('.')
  if (!payload || !mac || rest.length > 0) return undefined
  const signature = base64urlToBytes(mac)
  if (!signature) return undefined
  const valid = await crypto.subtle.verify(
    'HMAC',
    await keyFor(secret),
    signature,
    new TextEncoder().encode(payload),
  )
  if (!valid) return undefined
  const text = base64urlToText(payload)
  if (!text) return undefined
  const claims = JSON.parse(text) as BatonClaims
  return claims.t === tenant && claims.n === namespace && typeof claims.b === 'string' ? claims.b : undefined
}

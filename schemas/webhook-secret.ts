/**
 * Standard Webhooks secrets (https://www.standardwebhooks.com): `whsec_` followed by standard
 * base64 of the key. Accepted keys carry at least 16 bytes.
 */
import { isBase64 } from './base64'

export const WEBHOOK_SECRET_PREFIX = 'whsec_'

/** The key bytes of a `whsec_<base64>` secret; undefined when the secret has another shape. */
export function webhookSecretBytes(secret: string): Uint8Array | undefined {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined
  const body = secret.slice(WEBHOOK_SECRET_PREFIX.length)
  if (!isBase64(body)) return undefined
  return Uint8Array.from(atob(body), (char) => char.charCodeAt(0))
}

export function isWebhookSecret(secret: string): boolean {
  return (webhookSecretBytes(secret)?.length ?? 0) >= 16
}

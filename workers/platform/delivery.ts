/**
 * Delivery machinery shared by the queue, pub-sub and the scheduler.
 *
 * - `signWebhook`: Standard Webhooks signatures (https://www.standardwebhooks.com):
 *   `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64
 *   HMAC-SHA256 of "id.timestamp.body">`, keyed by a `whsec_<base64>` secret. Receivers
 *   verify with any Standard Webhooks library and drop duplicates by `webhook-id`.
 * - `backoffDelayMs`: exponential backoff with "full jitter" (a uniform delay in
 *   [0, min(cap, base·2^attempt)]), which spreads retries so failing endpoints are not hit
 *   in lockstep. Randomness is an argument, so tests are deterministic.
 * - `deliver`: one HTTP attempt with a timeout; any non-2xx, network error or timeout is a
 *   failed attempt. At-least-once: callers keep the work until an attempt succeeds and
 *   dead-letter it after their last retry, never drop it.
 */
import { WEBHOOK_SECRET_PREFIX, webhookSecretBytes } from '../../schemas/webhook-secret'
import { bytesToBase64 } from './encoding'

/** A new random secret in the Standard Webhooks format (24 random bytes). */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + bytesToBase64(crypto.getRandomValues(new Uint8Array(24)))
}

const keyCache = new Map<string, Promise<CryptoKey>>()

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret)
  if (!key) {
    const raw = webhookSecretBytes(secret)
    if (!raw) throw new Error('The webhook secret is not "whsec_" followed by base64')
    key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    if (keyCache.size > 1000) keyCache.clear()
    keyCache.set(secret, key)
  }
  return key
}

export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** Signs `body` for delivery `id` at `timestampSeconds`. */
export async function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<WebhookHeaders> {
  const signed = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`)
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), signed)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${bytesToBase64(new Uint8Array(signature))}`,
  }
}

export interface BackoffPolicy {
  /** Delay scale of the first retry, in ms. */
  baseMs: number
  /** Largest delay, in ms. */
  capMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 15 * 60_000 }

/**
 * Full-jitter delay before retry number `attempt` (1 = the first retry), in ms:
 * uniform in [0, min(cap, base·2^(attempt-1))]. `random` is in [0, 1).
 */
export function backoffDelayMs(
  attempt: number,
  random: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.floor(random * ceiling)
}

export interface DeliveryRequest {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  timeoutMs: number
}

export interface DeliveryOutcome {
  ok: boolean
  /** HTTP status, absent when no response arrived. */
  status?: number
  /** Why the attempt failed (network error, timeout, non-2xx). */
  error?: string
  durationMs: number
}

/** One attempt; never throws. `fetcher` is injectable for tests and service bindings. */
export async function deliver(
  request: DeliveryRequest,
  fetcher: (input: Request) => Promise<Response> = (input) => fetch(input),
): Promise<DeliveryOutcome> {
  const started = Date.now()
  try {
    const response = await fetcher(
      new Request(request.url, {
        method: request.method ?? 'POST',
        headers: request.headers ?? {},
        ...(request.body !== undefined ? { body: request.body } : {}),
        signal: AbortSignal.timeout(request.timeoutMs),
      }),
    )
    await response.body?.cancel()
    const durationMs = Date.now() - started
    if (response.ok) return { ok: true, status: response.status, durationMs }
    return { ok: false, status: response.status, error: `HTTP ${response.status}`, durationMs }
  } catch (error) {
    const durationMs = Date.now() - started
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    if (!timedOut) {
      // The runtime's own text (e.g. "internal error; reference = …") goes to logs only.
      console.warn(
        JSON.stringify({ level: 'warn', event: 'delivery_failed', url: request.url, error: String(error) }),
      )
    }
    return {
      ok: false,
      error: timedOut ? `timed out after ${request.timeoutMs} ms` : describeFetchFailure(error),
      durationMs,
    }
  }
}

const FETCH_FAILURES: Array<[RegExp, string]> = [
  [
    /ENOTFOUND|EAI_AGAIN|dns|name (?:not )?resolv|lookup|no such host/i,
    'DNS lookup failed: the host name did not resolve',
  ],
  [/ECONNREFUSED|refused/i, 'connection refused by the target'],
  [/tls|ssl|certificate|handshake/i, 'TLS handshake with the target failed'],
  [
    /ECONNRESET|reset|connection lost|disconnected|socket hang up|closed/i,
    'the connection was lost before a response',
  ],
  [/timed? ?out|ETIMEDOUT/i, 'the connection timed out'],
]

/**
 * What went wrong with a fetch that got no response, in our words: DNS, refused, TLS,
 * lost connection, timeout, or a generic sentence; never the runtime's raw text (workerd's
 * "internal error; reference = …"), which is logged instead.
 */
export function describeFetchFailure(error: unknown): string {
  const text =
    error instanceof Error ? `${error.name} ${error.message} ${String(error.cause ?? '')}` : String(error)
  for (const [pattern, description] of FETCH_FAILURES) if (pattern.test(text)) return description
  return 'the request failed before any response arrived (network error)'
}

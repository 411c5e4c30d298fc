/**
 * Helpers for tests that run inside workerd: mint tokens with the test secret and call
 * the Worker through `SELF` the way a client would.
 */
import { env, SELF } from 'cloudflare:test'
import { mintToken } from '../workers/platform/auth/token'

/** A token for `tenant` with `scopes` (default: admin), signed with the test secret. */
export async function tokenFor(
  tenant: string,
  scopes: string[] = ['admin'],
  ttlSeconds = 3600,
): Promise<string> {
  const secret = env.JWT_SECRET
  if (!secret) throw new Error('JWT_SECRET is not bound in the test pool')
  return (await mintToken(secret, { tenant, scopes, ttlSeconds })).token
}

/** A fresh tenant name, so tests sharing storage never see each other's data. */
export function uniqueTenant(prefix = 't'): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}`
}

export interface CallOptions {
  method?: string
  token?: string
  body?: unknown
  headers?: Record<string, string>
}

/** Calls the Worker; JSON bodies are encoded, the response JSON is parsed when present. */
export async function call<T = Record<string, unknown>>(
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const response = await SELF.fetch(`http://edge.test${path}`, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body !== undefined ? { body } : {}),
  })
  const text = await response.text()
  let parsed: unknown = text
  if (text && /json/.test(response.headers.get('content-type') ?? '')) parsed = JSON.parse(text)
  return { status: response.status, headers: response.headers, body: parsed as T }
}

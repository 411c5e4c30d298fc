/** Calls of the rate limiter's API shared by its workerd tests. */
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface CheckBody {
  policy: string
  allowed: boolean
  limit: number
  remaining: number
  resetAfterMs: number
  retryAfterMs: number
  delayMs: number
  reason: string
  deniedKeys: string[]
  shadow: boolean
  shadowDenied: boolean
}

/** A fresh tenant and an admin token for it. */
export async function newTenant(scopes: string[] = ['admin']) {
  const tenant = uniqueTenant('rl')
  return { tenant, token: await tokenFor(tenant, scopes) }
}

export function putPolicy(token: string, name: string, body: unknown) {
  return call<Record<string, unknown>>(`/v1/ratelimit/policies/${name}`, { method: 'PUT', token, body })
}

export function check(token: string, body: Record<string, unknown>) {
  return call<CheckBody>('/v1/ratelimit/check', { method: 'POST', token, body })
}

/** The problem `type` of a response ends with its error code. */
export function problemCode(body: unknown): string {
  return (
    String((body as { type?: string }).type ?? '')
      .split(':')
      .at(-1) ?? ''
  )
}

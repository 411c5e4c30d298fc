/**
 * Helpers for the CDN tests in workerd: a tenant with a token, a site over a counting
 * origin of the origin farm, and requests through `/v1/cdn/sites/{site}/fetch/*`.
 */
import { SELF } from 'cloudflare:test'
import { expect } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { startOrigin, type TestOrigin } from '../lb/support'

export interface CdnClient {
  tenant: string
  token: string
  origin: TestOrigin
  site: string
  get(path: string, init?: RequestInit): Promise<Response>
  purge(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>
  /** Requests the origin saw for a path. */
  originCount(path: string): Promise<number>
}

/** Origin query for response headers: `q({ 'cache-control': 'max-age=60' })` → `?h-cache-control=max-age%3D60`. */
export function q(headers: Record<string, string>, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra)
  for (const [name, value] of Object.entries(headers)) params.set(`h-${name}`, value)
  return `?${params.toString()}`
}

export async function cdnClient(settings: Record<string, unknown> = {}): Promise<CdnClient> {
  const tenant = uniqueTenant('cdn')
  const token = await tokenFor(tenant, ['cdn:read', 'cdn:write', 'lb:read', 'lb:write'])
  const origin = await startOrigin(`origin-${tenant}`)
  const site = 'www'
  const created = await call(`/v1/cdn/sites/${site}`, {
    method: 'PUT',
    token,
    body: { originUrl: origin.url, ...settings },
  })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return {
    tenant,
    token,
    origin,
    site,
    get(path, init = {}) {
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${token}`)
      return SELF.fetch(`http://edge.test/v1/cdn/sites/${site}/fetch${path}`, { ...init, headers })
    },
    purge: (body) => call(`/v1/cdn/sites/${site}/purge`, { token, body }),
    async originCount(path) {
      return (await origin.stats()).byPath[path] ?? 0
    },
  }
}

/** The parameters of this cache's Cache-Status entry. */
export function cacheStatusOf(response: Response): Record<string, string | true> {
  const entries = (response.headers.get('cache-status') ?? '').split(',')
  const ours = entries.map((e) => e.trim()).find((e) => e.startsWith('edgeblocks')) ?? ''
  const params: Record<string, string | true> = {}
  for (const part of ours.split(';').slice(1)) {
    const [name, ...value] = part.trim().split('=')
    if (name) params[name] = value.length ? value.join('=').replace(/^"|"$/g, '') : true
  }
  return params
}

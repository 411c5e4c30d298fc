/**
 * Helpers for the cache's workerd tests: a tenant with a token, and the Upstash wire
 * (`POST /v1/cache/{cache}`, `/pipeline`, `/multi-exec`) through the Worker.
 */
import { env } from 'cloudflare:test'
import type { CacheNode } from '../../workers/cache/object'
import { objectName } from '../../workers/platform/tenancy'
import { call, tokenFor, uniqueTenant } from '../helpers'

export type Outcome = { result?: unknown; error?: string }

export interface CacheTester {
  tenant: string
  token: string
  cache: string
  /** One command: `{status, body}` with body `{result}` or `{error}`. */
  cmd(...args: Array<string | number>): Promise<{ status: number; headers: Headers; body: Outcome }>
  /** One command's result; throws with the Redis error. */
  r(...args: Array<string | number>): Promise<unknown>
  pipeline(commands: Array<Array<string | number>>): Promise<{ status: number; body: Outcome[] | Outcome }>
  multi(commands: Array<Array<string | number>>): Promise<{ status: number; body: Outcome[] | Outcome }>
  configure(
    settings: Record<string, unknown>,
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>
}

export async function cacheTester(scopes = ['cache:read', 'cache:write']): Promise<CacheTester> {
  const tenant = uniqueTenant('c')
  const token = await tokenFor(tenant, scopes)
  const cache = `c-${crypto.randomUUID().slice(0, 8)}`
  const path = `/v1/cache/${cache}`
  const tester: CacheTester = {
    tenant,
    token,
    cache,
    cmd: (...args) => call<Outcome>(path, { token, body: args }),
    async r(...args) {
      const { body } = await tester.cmd(...args)
      if (body.error) throw new Error(body.error)
      return body.result
    },
    pipeline: (commands) => call<Outcome[] | Outcome>(`${path}/pipeline`, { token, body: commands }),
    multi: (commands) => call<Outcome[] | Outcome>(`${path}/multi-exec`, { token, body: commands }),
    configure: (settings) => call(path, { method: 'PUT', token, body: settings }),
  }
  return tester
}

export function nodeStub(tenant: string, cache: string, index: number): DurableObjectStub<CacheNode> {
  return env.CACHE_NODES.get(env.CACHE_NODES.idFromName(objectName(tenant, 'cache', cache, index)))
}

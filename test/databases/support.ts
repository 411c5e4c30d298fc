/** Helpers of the databases tests: a tenant with a database and `@libsql/client` aimed at the platform. */

import { SELF } from 'cloudflare:test'
import { createClient, type IntMode } from '@libsql/client/web'
import { expect } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'

export async function newDatabase(scopes = ['databases:read', 'databases:write']) {
  const tenant = uniqueTenant('db')
  const token = await tokenFor(
    tenant,
    scopes.includes('databases:write') ? scopes : ['databases:write', ...scopes],
  )
  const name = `db-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/databases', { token, body: { name } })
  expect(created.status).toBe(201)
  return { tenant, token, name, url: `http://edge.test${created.body.url as string}` }
}

/** The official client pointed at `/v1/databases/{db}/`, its HTTP going through the Worker. */
export function platformClient(url: string, token: string, intMode: IntMode = 'number') {
  return createClient({
    url,
    authToken: token,
    intMode,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => SELF.fetch(new Request(input, init)),
  })
}

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

/** A Hrana value as the wire carries it. */
export type HranaValue = { type: string; value?: unknown; base64?: string }

/**
 * One statement over raw Hrana, so the replication headers can be seen. `position` is sent as
 * `edgeblocks-replication-position`; the answer's header comes back as text ('' when absent).
 */
export async function runStatement(
  db: { url: string; token: string },
  sql: string,
  options: { replica?: string; position?: number | string; args?: HranaValue[] } = {},
) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${db.token}`,
    'content-type': 'application/json',
  }
  if (options.position !== undefined) headers['edgeblocks-replication-position'] = String(options.position)
  const query = options.replica ? `?replica=${options.replica}` : ''
  const response = await SELF.fetch(`${db.url}v3/pipeline${query}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      baton: null,
      requests: [{ type: 'execute', stmt: { sql, args: options.args ?? [] } }, { type: 'close' }],
    }),
  })
  const body = (await response.json()) as {
    results: Array<{ type: string; response?: { result: { rows: HranaValue[][] } }; error?: unknown }>
    replication_position?: number | string
  }
  const result = body.results[0]
  if (result?.type !== 'ok') throw new Error(`${sql}: ${JSON.stringify(body)}`)
  return {
    rows: result.response?.result.rows ?? [],
    position: response.headers.get('edgeblocks-replication-position') ?? '',
    servedBy: response.headers.get('edgeblocks-served-by'),
    field: body.replication_position,
  }
}

/** Promises that resolve when a condition on a load's counters holds (checked after every write). */
export class Conditions {
  private pending: Array<{ holds: () => boolean; resolve: () => void }> = []
  until(holds: () => boolean): Promise<void> {
    if (holds()) return Promise.resolve()
    return new Promise((resolve) => this.pending.push({ holds, resolve }))
  }
  check(): void {
    this.pending = this.pending.filter((p) => {
      if (!p.holds()) return true
      p.resolve()
      return false
    })
  }
}

/** Helpers of the databases tests: a tenant with a database and `@libsql/client` aimed at the platform. */

import { env, runInDurableObject, SELF } from 'cloudflare:test'
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

/**
 * Runs the replicator `name` until every replica has applied every change. A replica that
 * met an error (the nodes busy under concurrent writers) waits out a back-off of 1 s and up
 * before its retry: the replicator's clock is moved past it, never slept through. Returns the
 * errors met on the way, for a failing comparison to name.
 */
export async function settleReplicas(name: string): Promise<string[]> {
  const replicator = env.DATABASE_REPLICATORS.get(env.DATABASE_REPLICATORS.idFromName(name))
  const errors: string[] = []
  for (let round = 0; round < 8; round++) {
    const statuses = await runInDurableObject(replicator, async (object) => {
      object.clock = () => Date.now() + round * 61_000
      try {
        await object.sync()
        return await object.status()
      } finally {
        object.clock = () => Date.now()
      }
    })
    errors.push(...statuses.flatMap((status) => (status.error ? [status.error] : [])))
    if (statuses.every((status) => status.error === null && status.lagChanges === 0)) return errors
  }
  throw new Error(`the replicas of ${name} did not catch up; errors met: ${errors.join(' | ')}`)
}

/**
 * Helpers for the load balancer tests in workerd: real origins through the origin farm
 * (test/setup/origins.ts), a tenant with a token, pool and balancer calls, traffic through
 * `/v1/lb/{name}/proxy/*`, and a pool's object for its clock and alarm.
 */
import { env, runDurableObjectAlarm, SELF } from 'cloudflare:test'
import { expect, inject } from 'vitest'
import type { LbPool } from '../../workers/lb/object'
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface TestOrigin {
  id: string
  name: string
  url: string
  down(): Promise<void>
  up(): Promise<void>
  stats(): Promise<{
    requests: number
    bytesReceived: number
    byPath: Record<string, number>
    lastHeaders: Record<string, string>
    ranges: Record<string, string[]>
  }>
}

const farm = () => inject('originFarmUrl')

export async function startOrigin(name: string): Promise<TestOrigin> {
  const response = await fetch(`${farm()}/origins`, { method: 'POST', body: JSON.stringify({ name }) })
  const { id, url } = (await response.json()) as { id: string; url: string }
  const control = async (action: string) => {
    const r = await fetch(`${farm()}/origins/${id}/${action}`, {
      method: action === 'stats' ? 'GET' : 'POST',
    })
    return r.json()
  }
  return {
    id,
    name,
    url,
    down: async () => void (await control('down')),
    up: async () => void (await control('up')),
    stats: () => control('stats') as ReturnType<TestOrigin['stats']>,
  }
}

export async function startOrigins(count: number, prefix = 'o'): Promise<TestOrigin[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startOrigin(`${prefix}${i}`)))
}

export async function openGate(id: string): Promise<void> {
  await fetch(`${farm()}/gates/${id}`, { method: 'POST' })
}

export interface LbClient {
  tenant: string
  token: string
  putPool(
    name: string,
    settings: Record<string, unknown>,
  ): Promise<{ status: number; body: Record<string, unknown> }>
  putBalancer(
    name: string,
    settings: Record<string, unknown>,
  ): Promise<{ status: number; body: Record<string, unknown> }>
  /** A pool over `origins` and a balancer of the same name over it. */
  setup(
    name: string,
    origins: TestOrigin[],
    pool?: Record<string, unknown>,
    balancer?: Record<string, unknown>,
  ): Promise<void>
  proxy(name: string, path?: string, init?: RequestInit): Promise<Response>
  health(pool: string): Promise<{
    state: string
    healthy: number
    origins: Array<Record<string, unknown>>
    events: Array<Record<string, unknown>>
  }>
}

export async function lbClient(): Promise<LbClient> {
  const tenant = uniqueTenant('lb')
  const token = await tokenFor(tenant, ['lb:read', 'lb:write'])
  const client: LbClient = {
    tenant,
    token,
    putPool: (name, settings) => call(`/v1/lb/pools/${name}`, { method: 'PUT', token, body: settings }),
    putBalancer: (name, settings) =>
      call(`/v1/lb/balancers/${name}`, { method: 'PUT', token, body: settings }),
    async setup(name, origins, pool = {}, balancer = {}) {
      const p = await client.putPool(name, {
        origins: origins.map((o) => ({ name: o.name, url: o.url })),
        ...pool,
      })
      expect(p.status, JSON.stringify(p.body)).toBe(201)
      const b = await client.putBalancer(name, { pools: [name], ...balancer })
      expect(b.status, JSON.stringify(b.body)).toBe(201)
    },
    proxy(name, path = '/', init = {}) {
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${token}`)
      return SELF.fetch(`http://edge.test/v1/lb/${name}/proxy${path}`, { ...init, headers })
    },
    async health(pool) {
      const r = await call<Awaited<ReturnType<LbClient['health']>>>(`/v1/lb/pools/${pool}/health`, { token })
      expect(r.status).toBe(200)
      return r.body
    },
  }
  return client
}

export function poolObject(tenant: string, pool: string): DurableObjectStub<LbPool> {
  return env.LB_POOLS.get(env.LB_POOLS.idFromName(`${tenant}:lb-pool:${pool}`))
}

/** Moves the pool's clock forward and fires its alarm (monitor, sweep). */
export async function advance(tenant: string, pool: string, ms: number): Promise<void> {
  const stub = poolObject(tenant, pool)
  await stub.advanceClockForTest(ms)
  await runDurableObjectAlarm(stub)
}

/** The origin that answered (the origin farm's JSON names itself). */
export async function servedBy(response: Response): Promise<string> {
  const body = (await response.json()) as { origin: string }
  return body.origin
}

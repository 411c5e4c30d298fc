/** Helpers for the logs tests inside workerd: push and query through the Worker as a client would. */
import { SELF } from 'cloudflare:test'
import { snappyCompress } from '../../workers/platform/snappy'
import { tokenFor, uniqueTenant } from '../helpers'

export interface Tenant {
  name: string
  token: string
}

export async function newTenant(prefix = 'logs'): Promise<Tenant> {
  const name = uniqueTenant(prefix)
  return { name, token: await tokenFor(name, ['logs:read', 'logs:write']) }
}

export function request(tenant: Tenant, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${tenant.token}`)
  return SELF.fetch(`http://edge.test${path}`, { ...init, headers })
}

export type PushStream = {
  stream: Record<string, string>
  values: Array<[string, string] | [string, string, Record<string, string>]>
}

export function pushJson(
  tenant: Tenant,
  streams: PushStream[],
  headers: Record<string, string> = {},
): Promise<Response> {
  return request(tenant, '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ streams }),
  })
}

export function pushProtobuf(tenant: Tenant, bytes: Uint8Array, snappy = true): Promise<Response> {
  return request(tenant, '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: snappy ? snappyCompress(bytes) : bytes,
  })
}

export interface LokiResponse<T = unknown> {
  status: string
  data: { resultType: string; result: T }
}

export type StreamsResult = Array<{ stream: Record<string, string>; values: Array<[string, string]> }>

export async function queryRange<T = StreamsResult>(
  tenant: Tenant,
  params: Record<string, string>,
): Promise<LokiResponse<T>> {
  const response = await request(tenant, `/loki/api/v1/query_range?${new URLSearchParams(params)}`)
  if (response.status !== 200) throw new Error(`query_range ${response.status}: ${await response.text()}`)
  return (await response.json()) as LokiResponse<T>
}

/** The lines of a streams result, in result order per stream, flattened in time order. */
export function linesOf(result: StreamsResult, descending = true): string[] {
  const all = result.flatMap((s) => s.values)
  all.sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : BigInt(a[0]) > BigInt(b[0]) ? 1 : 0))
  if (descending) all.reverse()
  return all.map(([, line]) => line)
}

/** ns string for a Date or ms. */
export const ns = (at: Date | number) => `${BigInt(typeof at === 'number' ? at : at.getTime()) * 1_000_000n}`

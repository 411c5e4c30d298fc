/**
 * Helpers for the key-value tests: a tenant with a token, namespaces, raw key operations
 * through the Worker, direct access to the storage nodes, and the node control server
 * (kill -9 / restart of a storage node process).
 */
import { env } from 'cloudflare:test'
import { inject } from 'vitest'
import { readVersions } from '../../workers/kv/replica'
import { connect } from '../../workers/kv/service'
import { failureDetector, storageNodes } from '../../workers/platform/storage-nodes'
import { call, tokenFor, uniqueTenant } from '../helpers'

export const NODE_IDS = storageNodes(env).map((node) => node.id)

export async function killNode(index: number): Promise<void> {
  const response = await fetch(`${inject('kvControlUrl')}/nodes/${index}/kill`, { method: 'POST' })
  if (response.status !== 204) throw new Error(`kill failed: ${await response.text()}`)
}

export async function restartNode(index: number): Promise<void> {
  const response = await fetch(`${inject('kvControlUrl')}/nodes/${index}/restart`, { method: 'POST' })
  if (response.status !== 204) throw new Error(`restart failed: ${await response.text()}`)
  failureDetector.succeeded(NODE_IDS[index] as string)
}

export interface KvResponse {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

async function raw(path: string, init: RequestInit): Promise<KvResponse> {
  const { SELF } = await import('cloudflare:test')
  const response = await SELF.fetch(`http://edge.test${path}`, init)
  const text = await response.text()
  let json: Record<string, unknown> = {}
  if (/json/.test(response.headers.get('content-type') ?? '') && text) json = JSON.parse(text)
  return { status: response.status, headers: response.headers, text, json }
}

export interface KvClient {
  tenant: string
  token: string
  namespace: string
  /** The namespace's storage id on the nodes. */
  ns(): Promise<string>
  put(
    key: string,
    value: string,
    options?: { query?: string; headers?: Record<string, string> },
  ): Promise<KvResponse>
  get(key: string, query?: string): Promise<KvResponse>
  del(key: string, options?: { query?: string; headers?: Record<string, string> }): Promise<KvResponse>
  call: typeof call
}

export async function kvClient(settings: Record<string, unknown> = {}): Promise<KvClient> {
  const tenant = uniqueTenant('kv')
  const token = await tokenFor(tenant, ['kv:read', 'kv:write'])
  const namespace = `ns-${crypto.randomUUID().slice(0, 8)}`
  const created = await call(`/v1/kv/namespaces/${namespace}`, { method: 'PUT', token, body: settings })
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)
  const base = `/v1/kv/namespaces/${namespace}/values/`
  const auth = { authorization: `Bearer ${token}` }
  return {
    tenant,
    token,
    namespace,
    async ns() {
      const { getNamespace } = await import('../../workers/kv/namespaces')
      return (await getNamespace(env, tenant, namespace)).ns
    },
    put: (key, value, options = {}) =>
      raw(`${base}${encodeURIComponent(key)}${options.query ? `?${options.query}` : ''}`, {
        method: 'PUT',
        body: value,
        headers: { ...auth, 'content-type': 'text/plain', ...options.headers },
      }),
    get: (key, query) =>
      raw(`${base}${encodeURIComponent(key)}${query ? `?${query}` : ''}`, { headers: auth }),
    del: (key, options = {}) =>
      raw(`${base}${encodeURIComponent(key)}${options.query ? `?${options.query}` : ''}`, {
        method: 'DELETE',
        headers: { ...auth, ...options.headers },
      }),
    call,
  }
}

/** The version ids each node holds for a key (node id → sorted ids; `null` when the node fails). */
export async function replicaState(ns: string, key: string): Promise<Record<string, string[] | null>> {
  const state: Record<string, string[] | null> = {}
  for (const id of NODE_IDS) {
    try {
      state[id] = (await readVersions(await connect(env, id), ns, key)).map((version) => version.id).sort()
    } catch {
      state[id] = null
    }
  }
  return state
}

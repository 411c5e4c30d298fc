/**
 * Storage nodes: the libSQL databases of the data plane besides the control plane (the
 * key-value store's replicas; the databases block's hosts). Configured by the setting
 * `STORAGE_NODES`, a JSON list of `{ "id", "url", "token"? }` (Turso or sqld databases in
 * production; local libSQL server processes under `npm run dev` and the tests).
 *
 * - `storageNodes(env)`: the parsed list, validated once per env object (a bad setting
 *   fails loudly). Ids are unique, 1–64 characters of `[a-z0-9-]`.
 * - `nodeClient(node, timeoutMs)`: a `@libsql/client/web` client for one node whose every
 *   HTTP request is aborted after `timeoutMs`, so a hung node costs a bounded wait.
 * - `failureDetector`: per-isolate suspicion from request errors. A node that failed is
 *   suspected for `suspectMs` (callers skip it and use fallbacks or hints without paying a
 *   timeout); a success clears it. `probe` (a `SELECT 1`) is the health check. Suspicion
 *   is a hint for speed, never for correctness: a suspected node is simply not asked.
 */
import { type Client, createClient, type IntMode } from '@libsql/client/web'
import * as v from 'valibot'
import type { Env } from './env'

declare global {
  namespace Cloudflare {
    interface Env {
      /** JSON list of the storage nodes: `[{"id":"node-0","url":"http://…","token":"…"}]`. */
      STORAGE_NODES?: string
    }
  }
}

export interface StorageNode {
  id: string
  url: string
  token?: string | undefined
}

const NODE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/

const NodesSetting = v.pipe(
  v.optional(v.string(), '[]'),
  v.parseJson(undefined, 'STORAGE_NODES must be JSON'),
  v.array(
    v.object({
      id: v.pipe(v.string(), v.regex(NODE_ID, 'node ids are 1–64 characters of a-z, 0-9 and -')),
      url: v.pipe(v.string(), v.url()),
      token: v.optional(v.string()),
    }),
  ),
  v.maxLength(256),
  v.check((nodes) => new Set(nodes.map((n) => n.id)).size === nodes.length, 'node ids must be unique'),
)

const nodesByEnv = new WeakMap<object, StorageNode[]>()

export function storageNodes(env: Env): StorageNode[] {
  const cached = nodesByEnv.get(env)
  if (cached) return cached
  const result = v.safeParse(NodesSetting, env.STORAGE_NODES)
  if (!result.success) {
    throw new Error(`Invalid configuration: STORAGE_NODES: ${result.issues.map((i) => i.message).join('; ')}`)
  }
  const nodes = result.output.map((node) => ({ id: node.id, url: node.url, token: node.token }))
  nodesByEnv.set(env, nodes)
  return nodes
}

export function nodeClient(node: StorageNode, timeoutMs: number, intMode: IntMode = 'number'): Client {
  const fetchWithTimeout = (input: RequestInfo | URL, init?: RequestInit) =>
    fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  return createClient({
    url: node.url,
    fetch: fetchWithTimeout,
    intMode,
    ...(node.token ? { authToken: node.token } : {}),
  })
}

/** Per-isolate failure suspicion (see the file comment). */
export class FailureDetector {
  private readonly suspectedUntil = new Map<string, number>()

  constructor(private readonly suspectMs = 1_000) {}

  failed(node: string, now = Date.now()): void {
    this.suspectedUntil.set(node, now + this.suspectMs)
  }

  succeeded(node: string): void {
    this.suspectedUntil.delete(node)
  }

  isSuspected(node: string, now = Date.now()): boolean {
    const until = this.suspectedUntil.get(node)
    if (until === undefined) return false
    if (until <= now) {
      this.suspectedUntil.delete(node)
      return false
    }
    return true
  }
}

export const failureDetector = new FailureDetector()

/** Health probe: true when the node answers `SELECT 1` within `timeoutMs`. Updates the detector. */
export async function probe(node: StorageNode, timeoutMs = 1_000): Promise<boolean> {
  try {
    await nodeClient(node, timeoutMs).execute('SELECT 1')
    failureDetector.succeeded(node.id)
    return true
  } catch {
    failureDetector.failed(node.id)
    return false
  }
}

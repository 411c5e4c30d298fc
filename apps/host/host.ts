/**
 * The runtime-independent part of the host: builds the Worker's `env` (the settings, one
 * `ObjectNamespace` per Durable Object binding, the `BLOBS` bucket on disk and the
 * `EDGE_CACHE`), hands each request to the Worker's `fetch` with an execution context,
 * evicts idle objects and rearms persisted alarms at start. Each runtime's entry point
 * (main-node.ts, main-bun.ts, main-deno.ts) adds only its SQLite driver and its server.
 */
import { join } from 'node:path'
import { FileBucket } from './bucket'
import { MemoryCache } from './cache'
import { type ObjectClass, ObjectNamespace } from './objects'
import type { OpenDatabase } from './sqlite'
import { installWorkersGlobals } from './websockets'

export interface ObjectBinding {
  name: string
  className: string
}

export interface HostOptions {
  /** The Worker module: its default export handles requests, named exports are the object classes. */
  worker: Record<string, unknown>
  bindings: ObjectBinding[]
  vars: Record<string, string>
  dataDir: string
  open: OpenDatabase
  idleMs?: number
  alarmRetryMs?: number
}

export interface Host {
  env: Record<string, unknown>
  namespaces: Map<string, ObjectNamespace>
  fetch(request: Request): Promise<Response>
  close(): void
}

installWorkersGlobals()

export function createHost(options: HostOptions): Host {
  const env: Record<string, unknown> = { ...options.vars }
  const log = (message: string, error?: unknown) => console.error(message, error ?? '')
  const namespaces = new Map<string, ObjectNamespace>()
  for (const binding of options.bindings) {
    const objectClass = options.worker[binding.className]
    if (typeof objectClass !== 'function') throw new Error(`The Worker exports no class ${binding.className}`)
    const namespace = new ObjectNamespace(binding.className, objectClass as ObjectClass, {
      dir: join(options.dataDir, 'objects'),
      open: options.open,
      env,
      idleMs: options.idleMs,
      alarmRetryMs: options.alarmRetryMs,
      log,
    })
    namespaces.set(binding.name, namespace)
    env[binding.name] = namespace
  }
  env.BLOBS = new FileBucket(join(options.dataDir, 'blobs'))
  env.EDGE_CACHE = new MemoryCache()
  for (const namespace of namespaces.values()) namespace.rearmAlarms()

  const idleMs = options.idleMs ?? 70_000
  const sweeper = setInterval(
    () => {
      for (const namespace of namespaces.values()) namespace.evictIdle()
    },
    Math.max(1000, idleMs / 2),
  )
  sweeper.unref?.()

  const handler = options.worker.default as {
    fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response>
  }
  return {
    env,
    namespaces,
    async fetch(request) {
      const ctx = {
        waitUntil(promise: Promise<unknown>) {
          promise.catch((error) => log('waitUntil failed', error))
        },
        passThroughOnException() {},
        props: {},
      }
      return handler.fetch(request, env, ctx)
    },
    close() {
      clearInterval(sweeper)
      for (const namespace of namespaces.values()) namespace.closeAll()
    },
  }
}

/** The settings a launcher passes to a host process (see build.ts and scripts/dev.ts). */
export interface HostProcessConfig {
  port: number
  bindings: ObjectBinding[]
  dataDir: string
  vars: Record<string, string>
  idleMs?: number
}

/** Reads the process config from the `EDGEBLOCKS_HOST_CONFIG` environment variable (JSON). */
export function processConfig(read: (name: string) => string | undefined): HostProcessConfig {
  const raw = read('EDGEBLOCKS_HOST_CONFIG')
  if (!raw) throw new Error('EDGEBLOCKS_HOST_CONFIG is not set: start the host with npm run start:<runtime>')
  return JSON.parse(raw) as HostProcessConfig
}

/** Sets `cf-connecting-ip` to the peer's address (any client-sent value is replaced), as Cloudflare's edge does. */
export function withClientAddress(request: Request, address: string | undefined): Request {
  if (!address) return request
  try {
    request.headers.set('cf-connecting-ip', address)
    return request
  } catch {
    const headers = new Headers(request.headers)
    headers.set('cf-connecting-ip', address)
    return new Request(request, { headers })
  }
}

/** Starts a host from the process config; the entry points call this with their driver. */
export function startFromConfig(
  worker: Record<string, unknown>,
  config: HostProcessConfig,
  open: OpenDatabase,
): Host {
  return createHost({
    worker,
    bindings: config.bindings,
    vars: config.vars,
    dataDir: config.dataDir,
    open,
    idleMs: config.idleMs,
  })
}

/** Stops the server and closes every object's database on SIGTERM or SIGINT (Node and Bun). */
export function stopOnSignals(host: Host, stopServer: () => void): void {
  const stop = () => {
    stopServer()
    host.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

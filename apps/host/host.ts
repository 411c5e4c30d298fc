/**
 * The runtime-independent part of the host: builds the Worker's `env` from wrangler.toml
 * as data (the settings, one `ObjectNamespace` per Durable Object binding, a directory
 * bucket per R2 binding, the Worker's own entrypoints as service bindings, and the
 * `EDGE_CACHE`), hands each request to the Worker's `fetch` with an execution context,
 * runs `scheduled()` on the `[triggers] crons` schedules, evicts idle objects and rearms
 * persisted alarms at start. Each runtime's entry point (main-node.ts, main-bun.ts,
 * main-deno.ts) adds only its SQLite driver and its server.
 */
import { join } from 'node:path'
import { FileBucket } from './bucket'
import { MemoryCache } from './cache'
import { type CronClock, CronTriggers, systemClock } from './cron'
import { installWorkersCrypto } from './crypto'
import { installWorkersFetch } from './fetch'
import { HostHTMLRewriter } from './html-rewriter'
import { type ObjectClass, ObjectNamespace } from './objects'
import type { OpenDatabase } from './sqlite'
import { installWorkersGlobals } from './websockets'
import type { BucketBinding, ObjectBinding, ServiceBinding, WranglerConfig } from './wrangler-config'

export type { ObjectBinding } from './wrangler-config'

/** What the host takes from wrangler.toml (see wrangler-config.ts). */
export type HostBindings = Pick<WranglerConfig, 'name' | 'bindings' | 'services' | 'buckets' | 'crons'>

export interface HostOptions extends Partial<HostBindings> {
  /** The Worker module: its default export handles requests, named exports are the object classes. */
  worker: Record<string, unknown>
  bindings: ObjectBinding[]
  vars: Record<string, string>
  dataDir: string
  open: OpenDatabase
  idleMs?: number
  alarmRetryMs?: number
  /** The clock Cron Triggers run on (tests inject one). */
  clock?: CronClock
}

export interface Host {
  env: Record<string, unknown>
  namespaces: Map<string, ObjectNamespace>
  fetch(request: Request): Promise<Response>
  /** Runs the Worker's `scheduled()` for `cron` as if it fired at `scheduledTime`; settles when its `waitUntil`s do. */
  scheduled(cron: string, scheduledTime: number): Promise<void>
  close(): void
}

interface WorkerHandler {
  fetch?(request: Request, env: unknown, ctx: unknown): Response | Promise<Response>
  scheduled?(controller: unknown, env: unknown, ctx: unknown): void | Promise<void>
}

installWorkersGlobals()
installWorkersFetch()
installWorkersCrypto()
;(globalThis as Record<string, unknown>).HTMLRewriter ??= HostHTMLRewriter

type Log = (message: string, error?: unknown) => void

/** An execution context whose `waitUntil` promises can be awaited (`settled`) and whose failures are logged. */
function executionContext(log: Log) {
  const pending: Promise<unknown>[] = []
  return {
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise.catch((error) => log('waitUntil failed', error)))
    },
    passThroughOnException() {},
    props: {},
    settled: () => Promise.all(pending).then(() => undefined),
  }
}

/**
 * A service binding to one of this Worker's entrypoints: each call builds the
 * `WorkerEntrypoint` with a fresh context and calls the method with copied arguments, as
 * an RPC call to another isolate would; `fetch` goes to the entrypoint's (or the default
 * handler's) fetch.
 */
function serviceBinding(worker: Record<string, unknown>, service: ServiceBinding, env: unknown, log: Log) {
  const target = service.entrypoint ? worker[service.entrypoint] : worker.default
  if (target === undefined)
    throw new Error(
      `The Worker exports no ${service.entrypoint ?? 'default'} entrypoint for ${service.binding}`,
    )
  const call = async (method: string, args: unknown[]) => {
    const ctx = executionContext(log)
    const instance =
      typeof target === 'function'
        ? (new (target as new (ctx: unknown, env: unknown) => Record<string, unknown>)(ctx, env) as Record<
            string,
            unknown
          >)
        : (target as Record<string, unknown>)
    const fn = instance[method]
    if (typeof fn !== 'function') throw new TypeError(`The entrypoint has no method "${method}"`)
    if (method === 'fetch') {
      const request = new Request(args[0] as RequestInfo, args[1] as RequestInit | undefined)
      return typeof target === 'function' ? fn.call(instance, request) : fn.call(instance, request, env, ctx)
    }
    return structuredClone(await fn.apply(instance, structuredClone(args)))
  }
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property !== 'string' || property === 'then') return undefined
        return (...args: unknown[]) => call(property, args)
      },
    },
  )
}

export function createHost(options: HostOptions): Host {
  const env: Record<string, unknown> = { ...options.vars }
  const log: Log = (message, error) => console.error(message, error ?? '')
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
  const buckets: BucketBinding[] = options.buckets ?? [{ binding: 'BLOBS', bucketName: 'blobs' }]
  for (const bucket of buckets)
    env[bucket.binding] = new FileBucket(join(options.dataDir, 'buckets', bucket.bucketName))
  for (const service of options.services ?? []) {
    if (options.name !== undefined && service.service !== options.name) {
      log(
        `service binding ${service.binding} names another Worker (${service.service}); the host runs only this one`,
      )
      continue
    }
    env[service.binding] = serviceBinding(options.worker, service, env, log)
  }
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

  const handler = options.worker.default as WorkerHandler
  const scheduled = async (cron: string, scheduledTime: number) => {
    if (!handler.scheduled) throw new Error('The Worker has no scheduled() handler for its Cron Triggers')
    const ctx = executionContext(log)
    const controller = { cron, scheduledTime, type: 'scheduled', noRetry() {} }
    await handler.scheduled(controller, env, ctx)
    await ctx.settled()
  }
  const triggers = new CronTriggers(options.crons ?? [], scheduled, options.clock ?? systemClock, log)
  triggers.start()

  return {
    env,
    namespaces,
    async fetch(request) {
      if (!handler.fetch) throw new Error('The Worker has no fetch() handler')
      return handler.fetch(request, env, executionContext(log))
    },
    scheduled,
    close() {
      triggers.stop()
      clearInterval(sweeper)
      for (const namespace of namespaces.values()) namespace.closeAll()
    },
  }
}

/** The settings a launcher passes to a host process (see launch.ts and scripts/dev.ts). */
export interface HostProcessConfig extends HostBindings {
  port: number
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
  return createHost({ ...config, worker, open })
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

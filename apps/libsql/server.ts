// The local libSQL server: Hrana over HTTP (what @libsql/client and sqld speak) on the libsql engine.
//
// Guarantees:
// - Routes: GET /v2, /v3 (200: supported), GET /v3-protobuf (404: the client then uses JSON),
//   POST /v2/pipeline, /v3/pipeline, /v3/cursor, GET /health (200, or 503 when the engine is down),
//   GET /version, and /v1/jobs (400 {"error":"Invalid namespace"}, as sqld answers without namespaces).
//   The default database lives at `/`; database `<name>` at `/db/<name>/` (client URL
//   `http://host:port/db/<name>/`, trailing slash required so `v2/pipeline` resolves beneath it).
// - With `authToken`, every endpoint but /health, /version and the version probes needs
//   `Authorization: Bearer <token>` (401 otherwise; compared in constant time).
// - Each bound has its own error: body size 413 BODY_TOO_LARGE, requests per pipeline 413
//   PIPELINE_TOO_LARGE, open streams 503 STREAM_LIMIT, rows per statement ROW_LIMIT_EXCEEDED and bytes
//   per response RESPONSE_TOO_LARGE (in-band statement errors).
// - The handler never throws: anything unexpected is a 500 JSON error; the process never exits on input.
// - Idle streams expire after streamIdleMs (rolled back, connection freed); the sweep runs on a timer
//   and is callable (`sweepExpiredStreams`), and the clock is injectable (`now`).
// - `dataDir: ':memory:'` uses a fresh temporary directory of real files (deleted on close) rather than
//   SQLite's shared-cache memory databases: shared cache has table-level locking (SQLITE_LOCKED) instead
//   of WAL snapshots, so tests would see different concurrency than production.

import { createHash, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_NAMESPACE, isValidNamespace } from './databases.ts'
import type { EngineConfig } from './engine.ts'
import { type EnginePort, InlineEngine, ProcessEngine } from './engine-client.ts'
import { EnginePool } from './engine-pool.ts'
import { HttpError, sendEmpty, sendError, sendJson } from './http.ts'
import { handleCursor, handlePipeline, type PipelineContext } from './pipeline.ts'
import { ReplicaEndpoints } from './replica-endpoints.ts'
import { StreamRegistry } from './streams.ts'

export interface LibsqlServerOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number
  /** Directory of the database files, or ':memory:' for throwaway databases. Default .data/libsql. */
  dataDir?: string
  /** When set, requests need `Authorization: Bearer <authToken>`. */
  authToken?: string
  /** Idle time after which a stream is rolled back and closed, in ms. Default 10 000. */
  streamIdleMs?: number
  /** Request body limit in bytes. Default 8 MiB. */
  maxBodyBytes?: number
  /** Requests per pipeline (and steps per cursor batch). Default 1000. */
  maxRequestsPerPipeline?: number
  /** Streams open at once. Default 256. */
  maxStreams?: number
  /** Rows one statement may return. Default 100 000. */
  maxRowsPerStatement?: number
  /** Encoded rows one response may carry, in bytes. Default 64 MiB. */
  maxResponseBytes?: number
  /** How long a statement waits for another connection's lock, in ms. Default 5000. */
  busyTimeoutMs?: number
  /**
   * How long one pipeline or cursor may run in the engine before it is interrupted (the engine process
   * is killed and restarted; that request fails with STATEMENT_TIMEOUT), in ms. Default 5000. Waiting
   * for another connection's lock does not count (busyTimeoutMs bounds it). Process isolation only.
   */
  statementTimeoutMs?: number
  /** Engine processes: a new stream opens in one with nothing running. Default 2. */
  engineProcesses?: number
  /** 'process' (default) runs the engine in a supervised child process; 'inline' in this process. */
  isolation?: 'process' | 'inline'
  /** Clock for stream expiry, in ms. Default Date.now. */
  now?: () => number
  /**
   * Serve embedded replicas (`syncUrl`): GET info, export/<g>, sync/<g>/<start>/<end> per database. The
   * server then checkpoints itself after logging each transaction's pages (replication.ts). Default false.
   */
  embeddedReplicas?: boolean
  /** Frames a generation's log may hold before a new generation (a fresh base image) is cut. Default 16384. */
  replicaLogFrames?: number
}

export interface LibsqlServer {
  /** Base URL of the default database, e.g. http://127.0.0.1:8080 */
  url: string
  port: number
  /** Base URL of a named database (with the trailing slash the client needs). */
  urlFor(namespace: string): string
  /** Closes streams idle for longer than streamIdleMs; resolves with how many were closed. */
  sweepExpiredStreams(): Promise<number>
  /** Streams currently open. */
  readonly openStreams: number
  /** Pipelines and cursors running in the engine now. */
  readonly runningRequests: number
  /** Kills the engine process (simulates a crash; the next request starts a new engine). */
  killEngine(): Promise<void>
  close(): Promise<void>
}

export async function startLibsqlServer({
  host = '127.0.0.1',
  port = 8080,
  dataDir = '.data/libsql',
  authToken,
  streamIdleMs = 10_000,
  maxBodyBytes = 8 * 1024 * 1024,
  maxRequestsPerPipeline = 1000,
  maxStreams = 256,
  maxRowsPerStatement = 100_000,
  maxResponseBytes = 64 * 1024 * 1024,
  busyTimeoutMs = 5000,
  statementTimeoutMs = 5000,
  engineProcesses = 2,
  isolation = 'process',
  now = Date.now,
  embeddedReplicas = false,
  replicaLogFrames = 16384,
}: LibsqlServerOptions = {}): Promise<LibsqlServer> {
  if (authToken !== undefined && authToken.length === 0) throw new Error('authToken must not be empty')
  for (const [name, value] of Object.entries({
    streamIdleMs,
    maxBodyBytes,
    maxRequestsPerPipeline,
    maxStreams,
    statementTimeoutMs,
    engineProcesses,
  }))
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`)

  const memory = dataDir === ':memory:'
  const dir = memory ? fs.mkdtempSync(path.join(os.tmpdir(), 'edgeblocks-libsql-')) : path.resolve(dataDir)
  const config: EngineConfig = {
    dataDir: dir,
    synchronous: memory ? 'OFF' : 'FULL',
    poolSize: 8,
    statementCacheSize: 64,
    maxRows: maxRowsPerStatement,
    maxResponseBytes,
    busyTimeoutMs,
    maxStoredSql: 1000,
    walAutocheckpoint: embeddedReplicas ? 0 : 1000,
  }
  const engine: EnginePort =
    isolation === 'inline'
      ? new InlineEngine(config)
      : new EnginePool(
          Array.from({ length: engineProcesses }, () => new ProcessEngine(config, statementTimeoutMs)),
        )
  const streams = new StreamRegistry({ maxStreams, idleMs: streamIdleMs, now })
  engine.onLost(() => streams.takeAll())
  const ctx: PipelineContext = {
    engine,
    streams,
    limits: { maxBodyBytes, maxRequests: maxRequestsPerPipeline },
  }
  const removeTemp = (): void => {
    if (memory) fs.rmSync(dir, { recursive: true, force: true })
  }

  let sqliteVersion: string
  try {
    sqliteVersion = await engine.start()
  } catch (error) {
    await engine.shutdown()
    removeTemp()
    throw error
  }
  const versionJson = JSON.stringify({
    server: 'edgeblocks-libsql',
    protocols: ['hrana2', 'hrana3'],
    sqliteVersion,
  })
  const replicas = new ReplicaEndpoints((ns) => path.join(dir, `${ns}.db`), replicaLogFrames)
  const expectedAuth = authToken === undefined ? undefined : digest(`Bearer ${authToken}`)

  const server = createServer(function libsqlHandler(req, res) {
    route(req, res).catch((error: unknown) => {
      const httpError =
        error instanceof HttpError
          ? error
          : new HttpError('INTERNAL', 'internal server error; see the server log')
      if (!(error instanceof HttpError)) console.error('libsql server: unexpected error', error)
      sendError(res, httpError)
    })
  })

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    let namespace = DEFAULT_NAMESPACE
    let rest = url.pathname
    const match = /^\/db\/([^/]*)(\/.*)?$/.exec(url.pathname)
    if (match) {
      namespace = decodeURIComponent(match[1] ?? '')
      rest = match[2] ?? '/'
      if (!isValidNamespace(namespace))
        throw new HttpError('INVALID_NAMESPACE', 'database names are 1-63 characters of a-z, 0-9, _ and -')
    }
    const method = req.method ?? 'GET'
    if (rest === '/health' || rest === '/version') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET')
      if (rest === '/version') return sendJson(res, 200, versionJson)
      if (!engine.alive && isolation === 'process') await engine.start().catch(() => undefined)
      return engine.alive
        ? sendEmpty(res, 200)
        : sendJson(res, 503, '{"error":"engine down","code":"ENGINE_FAILURE"}')
    }
    if (rest === '/v2' || rest === '/v3' || rest === '/' || rest === '/v3-protobuf') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET')
      if (rest === '/v3-protobuf')
        throw new HttpError('NOT_FOUND', 'the Protobuf encoding is not supported; use JSON')
      return sendEmpty(res, 200)
    }
    if (rest.startsWith('/v1/jobs')) return sendJson(res, 400, '{"error":"Invalid namespace"}')
    if (embeddedReplicas && (rest === '/info' || /^\/(export|sync)\//.test(rest))) {
      if (method !== 'GET') throw methodNotAllowed('GET')
      checkAuth(req)
      return replicas.serve(res, namespace, rest)
    }
    const handler =
      rest === '/v2/pipeline' || rest === '/v3/pipeline'
        ? handlePipeline
        : rest === '/v3/cursor'
          ? handleCursor
          : null
    if (handler === null && (rest === '/pipeline' || rest === '/cursor'))
      throw new HttpError('NOT_FOUND', 'database URLs need a trailing slash: http://host:port/db/<name>/')
    if (handler === null) throw new HttpError('NOT_FOUND', `no endpoint ${rest}`)
    if (method !== 'POST') throw methodNotAllowed('POST')
    checkAuth(req)
    if (embeddedReplicas) replicas.touch(namespace)
    await handler(req, res, ctx, namespace)
  }

  function checkAuth(req: IncomingMessage): void {
    if (expectedAuth === undefined) return
    const given = digest(req.headers.authorization ?? '')
    if (!timingSafeEqual(given, expectedAuth))
      throw new HttpError('UNAUTHORIZED', 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' })
  }

  async function sweepExpiredStreams(): Promise<number> {
    const expired = streams.takeExpired()
    await Promise.all(expired.map((s) => engine.closeStream(s.engineId).catch(() => undefined)))
    return expired.length
  }

  const sweeper = setInterval(
    () => void sweepExpiredStreams(),
    Math.max(10, Math.min(1000, streamIdleMs / 2)),
  )
  sweeper.unref()
  const capturer = setInterval(() => replicas.captureTouched(), 500)
  capturer.unref()

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch(async (error: unknown) => {
    clearInterval(sweeper)
    clearInterval(capturer)
    await engine.shutdown()
    removeTemp()
    throw error
  })
  const actualPort = (server.address() as AddressInfo).port
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`

  let closing: Promise<void> | undefined
  return {
    url: base,
    port: actualPort,
    urlFor: (namespace) => `${base}/db/${namespace}/`,
    sweepExpiredStreams,
    get openStreams() {
      return streams.size
    },
    get runningRequests() {
      return engine.busy
    },
    killEngine: () => engine.kill(),
    close() {
      closing ??= (async () => {
        clearInterval(sweeper)
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await closed
        streams.takeAll()
        clearInterval(capturer)
        await engine.shutdown()
        replicas.close()
        removeTemp()
      })()
      return closing
    },
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError('METHOD_NOT_ALLOWED', `use ${allow}`, { allow })
}

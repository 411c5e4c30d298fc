/**
 * The host on Bun: `bun:sqlite` and `Bun.serve` with its built-in WebSocket upgrade.
 * Bun bounds request bodies (`maxRequestBodySize`) and idle connections (`idleTimeout`).
 */
import * as worker from '../../workers/edge'
import { processConfig, startFromConfig, stopOnSignals, withClientAddress } from './host'
import { openBunDatabase } from './sqlite-bun'
import type { HostWebSocket } from './websockets'

interface BunSocket {
  data: { client: HostWebSocket }
  send(data: string | ArrayBuffer | Uint8Array): void
  close(code?: number, reason?: string): void
}

interface BunServer {
  upgrade(request: Request, options: { data: { client: HostWebSocket } }): boolean
  requestIP(request: Request): { address: string } | null
  stop(): void
}

declare const Bun: {
  env: Record<string, string | undefined>
  serve(options: {
    hostname: string
    port: number
    idleTimeout: number
    maxRequestBodySize: number
    fetch(request: Request, server: BunServer): Promise<Response | undefined>
    error(error: Error): Response
    websocket: {
      maxPayloadLength: number
      open(ws: BunSocket): void
      message(ws: BunSocket, message: string | Uint8Array): void
      close(ws: BunSocket, code: number, reason: string): void
    }
  }): BunServer
}

const config = processConfig((name) => Bun.env[name])
const host = startFromConfig(worker, config, openBunDatabase)

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: config.port,
  idleTimeout: 60,
  maxRequestBodySize: 64 * 1024 * 1024,
  async fetch(request, bun) {
    const response = await host.fetch(withClientAddress(request, bun.requestIP(request)?.address))
    const client = (response as Response & { webSocket?: HostWebSocket | null }).webSocket
    if (response.status === 101 && client) {
      if (bun.upgrade(request, { data: { client } })) return undefined
      client.closed(1006, 'upgrade failed')
      return new Response('Expected a WebSocket upgrade', { status: 426 })
    }
    return withDeclaredLength(response)
  },
  error: () => new Response('Internal Server Error', { status: 500 }),
  websocket: {
    maxPayloadLength: 1024 * 1024,
    open(ws) {
      ws.data.client.attach({
        send: (data) => ws.send(data),
        close: (code, reason) => ws.close(code, reason),
      })
    },
    message(ws, message) {
      ws.data.client.received(typeof message === 'string' ? message : message.slice().buffer)
    },
    close(ws, code, reason) {
      ws.data.client.closed(code, reason)
    },
  },
})

stopOnSignals(host, () => server.stop())
console.log(`host bun listening on http://127.0.0.1:${config.port}`)

/**
 * Bun sends a streamed body chunked and drops its `Content-Length`, which clients that check
 * lengths (the S3 SDKs on ranges and parts) rely on. A streamed body with a declared length of
 * at most `BUFFERED_LENGTH_MAX` is therefore read first and sent with its length; a larger one
 * stays streamed (chunked), so memory stays bounded.
 */
const BUFFERED_LENGTH_MAX = 16 * 1024 * 1024

async function withDeclaredLength(response: Response): Promise<Response> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (!response.body || !Number.isSafeInteger(declared) || declared > BUFFERED_LENGTH_MAX) return response
  const body = await response.arrayBuffer()
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
}

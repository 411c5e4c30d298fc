/**
 * The host on Deno: `node:sqlite` (Deno's Node compatibility) and `Deno.serve` with
 * `Deno.upgradeWebSocket`.
 */
import * as worker from '../../workers/edge'
import { processConfig, startFromConfig, withClientAddress } from './host'
import { openNodeDatabase } from './sqlite-node'
import type { HostWebSocket } from './websockets'

interface DenoSocket {
  binaryType: string
  send(data: string | ArrayBuffer | Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: () => void
  onmessage: (event: { data: string | ArrayBuffer }) => void
  onclose: (event: { code: number; reason: string }) => void
  onerror: () => void
}

declare const Deno: {
  env: { get(name: string): string | undefined }
  serve(
    options: { hostname: string; port: number; onListen(): void; onError(error: unknown): Response },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { shutdown(): Promise<void> }
  upgradeWebSocket(request: Request): { socket: DenoSocket; response: Response }
  addSignalListener(signal: string, handler: () => void): void
  exit(code: number): never
}

const config = processConfig((name) => Deno.env.get(name))
const host = startFromConfig(worker, config, openNodeDatabase)

const server = Deno.serve(
  {
    hostname: '127.0.0.1',
    port: config.port,
    onListen: () => console.log(`host deno listening on http://127.0.0.1:${config.port}`),
    onError: () => new Response('Internal Server Error', { status: 500 }),
  },
  async (request, info) => {
    const response = await host.fetch(withClientAddress(request, info.remoteAddr.hostname))
    const client = (response as Response & { webSocket?: HostWebSocket | null }).webSocket
    if (response.status !== 101 || !client) return response
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      client.closed(1006, 'upgrade failed')
      return new Response('Expected a WebSocket upgrade', { status: 426 })
    }
    const { socket, response: upgraded } = Deno.upgradeWebSocket(request)
    socket.binaryType = 'arraybuffer'
    socket.onopen = () =>
      client.attach({
        send: (data) => socket.send(data),
        close: (code, reason) => socket.close(code, reason),
      })
    socket.onmessage = (event) => client.received(event.data)
    socket.onclose = (event) => client.closed(event.code, event.reason)
    socket.onerror = () => client.closed(1006, 'error', new Error('WebSocket error'))
    return upgraded
  },
)

function shutdown() {
  void server.shutdown()
  host.close()
  Deno.exit(0)
}
Deno.addSignalListener('SIGTERM', shutdown)
Deno.addSignalListener('SIGINT', shutdown)

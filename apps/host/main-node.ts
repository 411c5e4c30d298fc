/**
 * The host on Node (>= 22.12): `node:sqlite`, `@hono/node-server`, and `ws` for the
 * WebSocket upgrades the Worker answers with 101. Timeouts bound slow clients
 * (slowloris): 10 s for the headers, 60 s for a whole request; Node caps headers at 16 KiB.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { serve } from '@hono/node-server'
import { WebSocketServer } from 'ws'
import * as worker from '../../workers/edge'
import { processConfig, startFromConfig, stopOnSignals, withClientAddress } from './host'
import { openNodeDatabase } from './sqlite-node'
import { type HostWebSocket, installWorkersGlobals } from './websockets'

const config = processConfig((name) => process.env[name])
const host = startFromConfig(worker, config, openNodeDatabase)

const server = serve({
  hostname: '127.0.0.1',
  port: config.port,
  fetch: (request, bindings) =>
    host.fetch(withClientAddress(request, bindings.incoming?.socket?.remoteAddress)),
  serverOptions: { requestTimeout: 60_000, headersTimeout: 10_000 },
})
// The adapter replaced the global Request/Response with its lightweight ones: wrap its
// Response again so the Worker can still answer 101 with a webSocket.
installWorkersGlobals()

const sockets = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 })
server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
  void upgrade(incoming, socket, head).catch((error) => {
    console.error('WebSocket upgrade failed', error)
    socket.destroy()
  })
})

async function upgrade(incoming: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const headers = new Headers()
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (typeof value === 'string') headers.set(name, value)
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item)
  }
  const request = new Request(`http://${incoming.headers.host ?? '127.0.0.1'}${incoming.url ?? '/'}`, {
    headers,
  })
  const response = await host.fetch(withClientAddress(request, incoming.socket.remoteAddress))
  const client = (response as Response & { webSocket?: HostWebSocket | null }).webSocket
  if (response.status !== 101 || !client) {
    const body = Buffer.from(await response.arrayBuffer())
    const lines = [`HTTP/1.1 ${response.status} ${response.statusText || 'Error'}`]
    response.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') lines.push(`${name}: ${value}`)
    })
    lines.push(`content-length: ${body.byteLength}`, 'connection: close', '', '')
    socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), body]))
    return
  }
  sockets.handleUpgrade(incoming, socket, head, (ws) => {
    client.attach({ send: (data) => ws.send(data), close: (code, reason) => ws.close(code, reason) })
    ws.on('message', (data, binary) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)])
      client.received(
        binary
          ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
          : bytes.toString('utf8'),
      )
    })
    ws.on('close', (code, reason) => client.closed(code, reason.toString('utf8')))
    ws.on('error', (error) => client.closed(1006, 'error', error))
  })
}

stopOnSignals(host, () => server.close())
console.log(`host node listening on http://127.0.0.1:${config.port}`)

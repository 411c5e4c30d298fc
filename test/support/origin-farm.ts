/**
 * Real HTTP origins for the load balancer and CDN tests and benchmarks (Node only): node:http
 * servers on 127.0.0.1 that count what reaches them, and a control server that starts,
 * stops, restarts and inspects them, so tests running inside workerd can drive them over
 * HTTP.
 *
 * An origin answers any path with JSON `{origin, method, path, headers, bodyBytes, count}`,
 * shaped by the query: `status=`, `delay=` (ms), `body=` (text instead of JSON),
 * `h-<name>=<value>` (a response header), `etag=` / `lm=` (validators; a matching
 * `If-None-Match` / `If-Modified-Since` answers 304). `/bytes/<n>` streams n bytes of a
 * fixed pattern (`gate=<id>` stops after the first MiB until `POST /gates/<id>` opens it; `etag=` sets one;
 * `lm=` a Last-Modified, `h-<name>=` headers); it honours a single `Range: bytes=a-b` (206, or 416 past the end) and
 * records every request's Range header (`ranges` in the stats, `-` for none). `flip=<n>` makes it
 * a new version after n requests to the path: ETag `"v2"` instead of `"v1"`, every byte inverted.
 * A request body is counted as it arrives (`/stats` shows `bytesReceived` live). A
 * WebSocket upgrade is accepted: the origin sends `origin:<name>` and echoes text frames.
 *
 * Control: `POST /origins {name}` → `{id, url}`; `POST /origins/<id>/down|up`;
 * `GET /origins/<id>/stats`; `POST /origins/<id>/reset`; `POST /gates/<id>`.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export const PATTERN_CHUNK = 64 * 1024

/** Byte i of every `/bytes/<n>` body. */
export const patternByte = (i: number) => (i * 31 + 7) & 0xff

const chunkCache = new Map<number, Buffer>()
export function patternChunk(offset: number, length: number): Buffer {
  const key = offset % 256
  const base = chunkCache.get(key) ?? Buffer.alloc(PATTERN_CHUNK)
  if (!chunkCache.has(key)) {
    for (let i = 0; i < base.length; i++) base[i] = patternByte(offset + i)
    chunkCache.set(key, base)
  }
  return base.subarray(0, length)
}

interface Stats {
  requests: number
  byPath: Record<string, number>
  bytesReceived: number
  lastHeaders: Record<string, string | string[] | undefined>
  /** Each request's Range header per path, in arrival order (`-` when it had none). */
  ranges: Record<string, string[]>
}

export interface Origin {
  id: string
  name: string
  port: number
  url: string
  stats: Stats
  down(): Promise<void>
  up(): Promise<void>
}

const gates = new Map<string, { open: boolean; waiters: Array<() => void> }>()
function gate(id: string) {
  let g = gates.get(id)
  if (!g) {
    g = { open: false, waiters: [] }
    gates.set(id, g)
  }
  return g
}

function acceptKey(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
}

function textFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload])
}

function handleUpgrade(name: string, request: IncomingMessage, socket: Socket): void {
  const key = String(request.headers['sec-websocket-key'] ?? '')
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  )
  socket.write(textFrame(`origin:${name}`))
  socket.on('data', (data: Buffer) => {
    const opcode = (data[0] ?? 0) & 0x0f
    if (opcode === 0x8) return void socket.end(Buffer.from([0x88, 0]))
    const length = (data[1] ?? 0) & 0x7f
    const mask = data.subarray(2, 6)
    const payload = Buffer.from(data.subarray(6, 6 + length).map((b, i) => b ^ (mask[i % 4] ?? 0)))
    if (opcode === 0x1) socket.write(textFrame(`echo:${payload.toString()}`))
  })
  socket.on('error', () => undefined)
}

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` (a single range) against `total`; undefined = the whole body. */
function singleRange(
  header: string | undefined,
  total: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') return { start: Math.max(0, total - Number(match[2])), end: total - 1 }
  const start = Number(match[1])
  if (start >= total) return 'unsatisfiable'
  return { start, end: match[2] === '' ? total - 1 : Math.min(Number(match[2]), total - 1) }
}

async function streamBytes(
  res: ServerResponse,
  total: number,
  query: URLSearchParams,
  rangeHeader: string | undefined,
  count: number,
): Promise<void> {
  const gateId = query.get('gate')
  const flip = query.get('flip')
  const second = flip !== null && count > Number(flip)
  const etag = flip !== null ? (second ? '"v2"' : '"v1"') : query.get('etag')
  const lm = query.get('lm')
  const validators: Record<string, string> = {
    ...(etag ? { etag } : {}),
    ...(lm ? { 'last-modified': lm } : {}),
  }
  for (const [name, value] of query) if (name.startsWith('h-')) validators[name.slice(2)] = value
  const range = singleRange(rangeHeader, total)
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'content-range': `bytes */${total}`, ...validators })
    return void res.end()
  }
  const start = range?.start ?? 0
  const end = range?.end ?? total - 1
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(end - start + 1),
    'accept-ranges': 'bytes',
    ...(range ? { 'content-range': `bytes ${start}-${end}/${total}` } : {}),
    ...validators,
  })
  let sent = start
  while (sent <= end) {
    if (gateId && sent - start >= 1024 * 1024 && !gate(gateId).open) {
      await new Promise<void>((resolve) => gate(gateId).waiters.push(resolve))
    }
    const length = Math.min(PATTERN_CHUNK, end + 1 - sent)
    const chunk = patternChunk(sent, length)
    const ok = res.write(second ? Buffer.from(chunk.map((b) => b ^ 0xff)) : chunk)
    sent += length
    if (!ok) await new Promise((resolve) => res.once('drain', resolve))
    if (res.destroyed) return
  }
  res.end()
}

function respond(origin: Origin, request: IncomingMessage, res: ServerResponse, bodyBytes: number): void {
  const url = new URL(request.url ?? '/', 'http://origin')
  const q = url.searchParams
  const headers: Record<string, string> = {}
  for (const [name, value] of q) if (name.startsWith('h-')) headers[name.slice(2)] = value
  const etag = q.get('etag')
  const lm = q.get('lm')
  if (etag) headers.etag = etag
  if (lm) headers['last-modified'] = lm
  const inm = request.headers['if-none-match']
  const ims = request.headers['if-modified-since']
  if ((etag && inm?.split(',').some((t) => t.trim() === etag)) || (!inm && lm && ims === lm)) {
    res.writeHead(304, headers)
    return void res.end()
  }
  const status = Number(q.get('status') ?? 200)
  const text = q.get('body')
  const count = origin.stats.byPath[url.pathname] ?? 0
  if (text !== null) {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers })
    return void res.end(request.method === 'HEAD' ? undefined : text.replace('{n}', String(count)))
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  const view = {
    origin: origin.name,
    method: request.method,
    path: url.pathname,
    query: url.search,
    headers: request.headers,
    bodyBytes,
    count,
  }
  res.end(request.method === 'HEAD' ? undefined : JSON.stringify(view))
}

export async function startOrigin(name: string, id = name): Promise<Origin> {
  const sockets = new Set<Socket>()
  let server: Server
  const origin: Origin = {
    id,
    name,
    port: 0,
    url: '',
    stats: { requests: 0, byPath: {}, bytesReceived: 0, lastHeaders: {}, ranges: {} },
    async down() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    async up() {
      server = build()
      await new Promise<void>((resolve) => server.listen(origin.port, '127.0.0.1', resolve))
    },
  }
  const build = () => {
    const s = createServer(async (request, res) => {
      const path = new URL(request.url ?? '/', 'http://origin').pathname
      origin.stats.requests++
      origin.stats.byPath[path] = (origin.stats.byPath[path] ?? 0) + 1
      origin.stats.lastHeaders = request.headers
      const seen = origin.stats.ranges[path] ?? []
      seen.push(request.headers.range ?? '-')
      origin.stats.ranges[path] = seen
      let bodyBytes = 0
      for await (const chunk of request) {
        bodyBytes += (chunk as Buffer).length
        origin.stats.bytesReceived += (chunk as Buffer).length
      }
      const delay = Number(new URL(request.url ?? '/', 'http://o').searchParams.get('delay') ?? 0)
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
      const bytes = /^\/bytes\/(\d+)$/.exec(path)
      if (bytes) {
        return streamBytes(
          res,
          Number(bytes[1]),
          new URL(request.url ?? '/', 'http://o').searchParams,
          request.headers.range,
          origin.stats.byPath[path] ?? 0,
        )
      }
      respond(origin, request, res, bodyBytes)
    })
    s.keepAliveTimeout = 5_000
    s.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    s.on('upgrade', (request, socket) => handleUpgrade(name, request, socket as Socket))
    return s
  }
  server = build()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.port = (server.address() as { port: number }).port
  origin.url = `http://127.0.0.1:${origin.port}`
  return origin
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of request) text += chunk
  return text ? (JSON.parse(text) as Record<string, unknown>) : {}
}

/** The control server: lets workerd tests create and steer origins over HTTP. */
export async function startOriginFarm(): Promise<{ url: string; close(): Promise<void> }> {
  const origins = new Map<string, Origin>()
  let next = 0
  const control = createServer(async (request, res) => {
    const parts = (request.url ?? '/').split('?')[0]?.split('/').filter(Boolean) ?? []
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    try {
      if (parts[0] === 'gates' && parts[1]) {
        const g = gate(parts[1])
        g.open = true
        for (const wake of g.waiters.splice(0)) wake()
        return send(200, { open: true })
      }
      if (parts[0] !== 'origins') return send(404, {})
      if (parts.length === 1 && request.method === 'POST') {
        const body = await readJson(request)
        const id = `o${next++}`
        const origin = await startOrigin(String(body.name ?? id), id)
        origins.set(id, origin)
        return send(201, { id, name: origin.name, url: origin.url, port: origin.port })
      }
      const origin = origins.get(parts[1] ?? '')
      if (!origin) return send(404, {})
      if (parts[2] === 'down') await origin.down()
      else if (parts[2] === 'up') await origin.up()
      else if (parts[2] === 'reset')
        origin.stats = { requests: 0, byPath: {}, bytesReceived: 0, lastHeaders: {}, ranges: {} }
      return send(200, origin.stats)
    } catch (error) {
      return send(500, { error: String(error) })
    }
  })
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(control.address() as { port: number }).port}`
  return {
    url,
    async close() {
      for (const origin of origins.values()) await origin.down().catch(() => undefined)
      control.closeAllConnections()
      await new Promise<void>((resolve) => control.close(() => resolve()))
    },
  }
}

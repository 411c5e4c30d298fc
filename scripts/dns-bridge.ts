/**
 * Bridges for DNS clients that cannot speak the platform's HTTP/1.1 DoH directly.
 * Run `npx tsx scripts/dns-bridge.ts [--target http://127.0.0.1:8787] [--http2 8053]
 * [--udp 5353]` next to `npm run dev`; the e2e suite starts the same bridges itself.
 *
 * Classic DNS clients speak UDP and TCP, the platform speaks DoH: this bridge, on
 * 127.0.0.1, relays each UDP datagram and each TCP message (2-byte length prefix,
 * RFC 1035 §4.2.2) to `/dns-query` as a POST. A UDP answer larger than the client's EDNS
 * payload size (512 bytes without EDNS) is cut with TC set by the platform's own encoder,
 * so a client retries over TCP, as with any authoritative server.
 */
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { decodeMessage, encodeMessage } from '../workers/dns/wire/message'

export interface Bridge {
  port: number
  stop(): Promise<void>
}

async function relay(dohUrl: string, query: Uint8Array): Promise<Uint8Array> {
  const response = await fetch(dohUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/dns-message' },
    body: query,
  })
  return new Uint8Array(await response.arrayBuffer())
}

function fitForUdp(query: Uint8Array, answer: Uint8Array): Uint8Array {
  let limit = 512
  try {
    limit = Math.max(512, decodeMessage(query).edns?.udpSize ?? 512)
  } catch {
    return answer
  }
  return answer.length <= limit ? answer : encodeMessage(decodeMessage(answer), limit)
}

export async function startBridge(dohUrl: string, port: number): Promise<Bridge> {
  const udp = createSocket('udp4')
  udp.on('message', (message, peer) => {
    const query = new Uint8Array(message)
    relay(dohUrl, query)
      .then((answer) => udp.send(fitForUdp(query, answer), peer.port, peer.address))
      .catch(() => undefined)
  })
  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve))
  const tcp = createServer((socket) => {
    let buffered = Buffer.alloc(0)
    socket.on('data', async (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0)
        const query = new Uint8Array(buffered.subarray(2, 2 + length))
        buffered = buffered.subarray(2 + length)
        const answer = await relay(dohUrl, query)
        const framed = Buffer.alloc(2 + answer.length)
        framed.writeUInt16BE(answer.length, 0)
        framed.set(answer, 2)
        socket.write(framed)
      }
    })
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve))
  return {
    port,
    async stop() {
      udp.close()
      await new Promise((resolve) => tcp.close(resolve))
    },
  }
}

/**
 * `dig +http-plain` and `+https` speak DoH over HTTP/2 only (h2c and h2 over TLS), which
 * `wrangler dev` does not serve: this front, as an edge's HTTP/2 termination would,
 * relays each HTTP/2 request to the platform over HTTP/1.1, headers and body as they came.
 */
export async function startHttp2Front(
  target: string,
  port: number,
  tls?: { key: string; cert: string },
): Promise<Bridge> {
  const http2 = await import('node:http2')
  const handler = (
    request: import('node:http2').Http2ServerRequest,
    response: import('node:http2').Http2ServerResponse,
  ) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', async () => {
      const headers: Record<string, string> = {}
      for (const name of ['content-type', 'accept']) {
        const value = request.headers[name]
        if (typeof value === 'string') headers[name] = value
      }
      const upstream = await fetch(`${target}${request.url}`, {
        method: request.method,
        headers,
        ...(request.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
      })
      const body = Buffer.from(await upstream.arrayBuffer())
      response.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
        'cache-control': upstream.headers.get('cache-control') ?? 'no-store',
        'content-length': String(body.length),
      })
      response.end(body)
    })
  }
  const server = tls
    ? http2.createSecureServer({ ...tls, allowHTTP1: false }, handler)
    : http2.createServer(handler)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { port, stop: () => new Promise((resolve) => server.close(() => resolve())) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'http://127.0.0.1:8787' },
      http2: { type: 'string', default: '8053' },
      udp: { type: 'string', default: '5353' },
    },
  })
  const front = await startHttp2Front(values.target, Number(values.http2))
  const bridge = await startBridge(`${values.target}/dns-query`, Number(values.udp))
  console.log(
    `DoH over h2c  http://127.0.0.1:${front.port}/dns-query   (dig +http-plain=/dns-query -p ${front.port} @127.0.0.1 …)`,
  )
  console.log(
    `UDP and TCP   127.0.0.1:${bridge.port}                   (dig -p ${bridge.port} @127.0.0.1 …, delv)`,
  )
  const stop = async () => {
    await Promise.all([front.stop(), bridge.stop()])
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

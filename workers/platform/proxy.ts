/**
 * Forwarding a request to an origin and its response back, shared by the load balancer and
 * the CDN (the traffic path).
 *
 * - Bodies stream both ways: the request body is handed to `fetch` as a stream and the
 *   origin's body is returned as a stream; nothing here reads a body.
 * - Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and the fields it names, `Keep-Alive`,
 *   `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*`) are removed both ways;
 *   a WebSocket upgrade keeps `Upgrade: websocket` and the 101 answer passes through with
 *   its socket.
 * - The origin learns the client: `X-Forwarded-For` (appended), `X-Forwarded-Proto`,
 *   `X-Forwarded-Host` and RFC 7239 `Forwarded` (appended).
 * - Loops: every forwarded request carries `CDN-Loop: edgeblocks` (RFC 8586); a request
 *   that arrives with it came back around and is refused. Configuration refuses origins
 *   that name the platform itself (`loopsBack`).
 * - The platform's own credentials (`Authorization` of a token-authenticated test route)
 *   are not forwarded when the caller asks so.
 */
import { AppError, asAppError, PROBLEM_CONTENT_TYPE, toProblem } from './errors'

export const LOOP_TOKEN = 'edgeblocks'
export const INTERNAL_SUFFIX = '.edgeblocks.internal'

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

/** Removes hop-by-hop fields, including those the `Connection` header names. */
export function withoutHopByHop(source: Headers): Headers {
  const headers = new Headers(source)
  const named = (source.get('connection') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean)
  for (const name of [...HOP_BY_HOP, ...named]) headers.delete(name)
  return headers
}

export function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket'
}

/** The client's address as the edge saw it. */
export function clientAddress(request: Request): string {
  return request.headers.get('cf-connecting-ip') ?? request.headers.get('x-real-ip') ?? '127.0.0.1'
}

/** The origin URL for a request path: the origin's own path prefix joined with `path`, plus `search`. */
export function targetUrl(originUrl: string, path: string, search: string): string {
  const origin = new URL(originUrl)
  const base = origin.pathname.endsWith('/') ? origin.pathname.slice(0, -1) : origin.pathname
  origin.pathname = `${base}${path.startsWith('/') ? path : `/${path}`}`
  origin.search = search
  return origin.toString()
}

function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip
}

export interface ForwardOptions {
  /** Drop `Authorization` (the platform's own token on a test route). */
  stripAuthorization?: boolean
  /** Extra fields to remove (e.g. the LB's affinity cookie stays, the CDN's conditionals go). */
  remove?: readonly string[]
  /** Fields to set on the forwarded request. */
  set?: Record<string, string>
}

/** The headers the origin receives. */
export function forwardHeaders(request: Request, options: ForwardOptions = {}): Headers {
  const url = new URL(request.url)
  const headers = withoutHopByHop(request.headers)
  const upgrade = isWebSocketUpgrade(request)
  if (upgrade) {
    headers.set('upgrade', 'websocket')
    headers.set('connection', 'Upgrade')
  }
  headers.delete('host')
  if (options.stripAuthorization) headers.delete('authorization')
  for (const name of options.remove ?? []) headers.delete(name)
  const ip = clientAddress(request)
  const proto = url.protocol.replace(':', '')
  const priorFor = request.headers.get('x-forwarded-for')
  headers.set('x-forwarded-for', priorFor ? `${priorFor}, ${ip}` : ip)
  headers.set('x-forwarded-proto', proto)
  headers.set('x-forwarded-host', url.host)
  const element = `for=${forwardedNode(ip)};proto=${proto};host="${url.host}"`
  const priorForwarded = request.headers.get('forwarded')
  headers.set('forwarded', priorForwarded ? `${priorForwarded}, ${element}` : element)
  const loop = request.headers.get('cdn-loop')
  headers.set('cdn-loop', loop ? `${loop}, ${LOOP_TOKEN}` : LOOP_TOKEN)
  for (const [name, value] of Object.entries(options.set ?? {})) headers.set(name, value)
  return headers
}

/** True when the request already passed through this platform (RFC 8586 `CDN-Loop`). */
export function cameAround(request: Request): boolean {
  return (request.headers.get('cdn-loop') ?? '')
    .split(',')
    .some((entry) => entry.trim().split(';')[0]?.trim().toLowerCase() === LOOP_TOKEN)
}

/** Refuses a request that came back around (a misconfigured origin pointing at the platform). */
export function refuseLoop(request: Request): void {
  if (cameAround(request)) {
    throw new AppError(
      'bad_gateway',
      'The request looped back into the platform (CDN-Loop); check the origin.',
    )
  }
}

/** True when `originUrl` points back into the platform: its own host or an internal target name. */
export function loopsBack(originUrl: string, platformHosts: readonly string[]): boolean {
  const url = new URL(originUrl)
  const host = url.host.toLowerCase()
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '')
  return (
    hostname.endsWith(INTERNAL_SUFFIX) ||
    hostname === INTERNAL_SUFFIX.slice(1) ||
    platformHosts.some((platform) => platform.toLowerCase() === host)
  )
}

export interface ForwardRequest {
  method: string
  url: string
  headers: Headers
  body: ReadableStream | null
  signal?: AbortSignal | undefined
}

/** One try at the origin: the request with its body streaming; the response as it arrives. */
export async function sendToOrigin(forward: ForwardRequest): Promise<Response> {
  const hasBody = forward.body !== null && forward.method !== 'GET' && forward.method !== 'HEAD'
  return fetch(forward.url, {
    method: forward.method,
    headers: forward.headers,
    body: hasBody ? forward.body : null,
    redirect: 'manual',
    ...(forward.signal ? { signal: forward.signal } : {}),
  })
}

/** The origin's response for the client: hop-by-hop removed, body streaming, a WebSocket passed on. */
export function toClientResponse(upstream: Response, extraHeaders: Record<string, string> = {}): Response {
  const headers = withoutHopByHop(upstream.headers)
  for (const [name, value] of Object.entries(extraHeaders)) headers.append(name, value)
  if (upstream.status === 101) {
    return new Response(null, { status: 101, webSocket: upstream.webSocket, headers })
  }
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers })
}

/** Wraps a body so `done` runs once when it has been read to the end, failed or been cancelled. */
export function onBodyDone(
  body: ReadableStream<Uint8Array> | null,
  done: (completed: boolean) => void,
): ReadableStream<Uint8Array> | null {
  if (!body) {
    done(true)
    return null
  }
  let called = false
  const finish = (completed: boolean) => {
    if (!called) {
      called = true
      done(completed)
    }
  }
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read()
        if (ended) {
          controller.close()
          finish(true)
        } else controller.enqueue(value)
      } catch (error) {
        finish(false)
        controller.error(error)
      }
    },
    cancel(reason) {
      finish(false)
      return reader.cancel(reason)
    },
  })
}

/** A problem+json response outside a Hono context (hostname-routed traffic). */
export function problemResponse(error: unknown, instance: string): Response {
  const appError = asAppError(error)
  return new Response(JSON.stringify(toProblem(appError, instance)), {
    status: appError.status,
    headers: { ...appError.headers, 'content-type': PROBLEM_CONTENT_TYPE },
  })
}

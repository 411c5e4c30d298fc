/**
 * Workers' WebSocket model over a runtime's real server sockets: `WebSocketPair` (the
 * client end is returned in a 101 `Response`, the server end stays with the object),
 * `Response` accepting status 101 and `webSocket`, and the hibernation API
 * (`acceptWebSocket`, tags, `serializeAttachment`, `getWebSockets`, auto-response,
 * `webSocketMessage/Close/Error`). A hibernated socket outlives its object's instance:
 * its events wake a fresh instance, and its attachment is kept with the socket, as in
 * workerd. Frames sent before the runtime socket is attached are buffered in order.
 */

/** What a serving layer plugs in for one upgraded connection. */
export interface RuntimeSocket {
  send(data: string | ArrayBuffer | Uint8Array): void
  close(code?: number, reason?: string): void
}

type Listener = (event: { data?: unknown; code?: number; reason?: string; wasClean?: boolean }) => void

/** One end of a pair: the server end (held by the object) or the client end (handed to the runtime). */
export class HostWebSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readyState = 1
  peer!: HostWebSocket
  private runtime: RuntimeSocket | undefined
  private pending: (string | ArrayBuffer | Uint8Array)[] = []
  private attachment: unknown
  private readonly listeners = new Map<string, Listener[]>()
  /** Set by `acceptWebSocket`: events go to the object's handlers instead of listeners. */
  hibernation: ((method: string, args: unknown[]) => void) | undefined

  accept(): void {}

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }
  removeEventListener(type: string, listener: Listener): void {
    this.listeners.set(
      type,
      (this.listeners.get(type) ?? []).filter((item) => item !== listener),
    )
  }

  serializeAttachment(value: unknown): void {
    this.attachment = structuredClone(value)
  }
  deserializeAttachment(): unknown {
    return structuredClone(this.attachment)
  }

  /** Server end → the remote client. */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 1) throw new Error('WebSocket is not open')
    const frame =
      typeof data === 'string' || data instanceof ArrayBuffer
        ? data
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const runtime = this.peer.runtime
    if (runtime) runtime.send(frame)
    else this.peer.pending.push(frame)
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    this.readyState = 2
    const runtime = this.peer.runtime
    if (runtime) runtime.close(code, reason)
    else this.peer.closeAfterFlush = { code, reason }
  }

  private closeAfterFlush: { code: number; reason: string } | undefined

  /** Client end: the serving layer connects the runtime socket. */
  attach(runtime: RuntimeSocket): void {
    this.runtime = runtime
    for (const frame of this.pending.splice(0)) runtime.send(frame)
    if (this.closeAfterFlush) runtime.close(this.closeAfterFlush.code, this.closeAfterFlush.reason)
  }

  /** Client end: a frame arrived from the remote client. */
  received(data: string | ArrayBuffer): void {
    this.peer.emit('message', { data })
  }

  /** Client end: the remote side closed (or the connection failed). */
  closed(code: number, reason: string, error?: unknown): void {
    const server = this.peer
    if (server.readyState === 3) return
    server.readyState = 3
    if (error !== undefined) server.emit('error', { data: error })
    server.emit('close', { code, reason, wasClean: error === undefined })
  }

  private emit(type: string, event: Parameters<Listener>[0]): void {
    if (this.hibernation) {
      if (type === 'message') this.hibernation('webSocketMessage', [this, event.data])
      else if (type === 'close')
        this.hibernation('webSocketClose', [this, event.code, event.reason, event.wasClean])
      else this.hibernation('webSocketError', [this, event.data])
      return
    }
    for (const listener of this.listeners.get(type) ?? []) listener(event)
  }
}

export class HostWebSocketPair {
  0: HostWebSocket
  1: HostWebSocket
  constructor() {
    const client = new HostWebSocket()
    const server = new HostWebSocket()
    client.peer = server
    server.peer = client
    this[0] = client
    this[1] = server
  }
}

export class HostWebSocketRequestResponsePair {
  constructor(
    readonly request: string,
    readonly response: string,
  ) {}
}

/** An object's accepted (hibernatable) sockets. */
export class HostedSockets {
  private readonly sockets = new Map<HostWebSocket, string[]>()
  autoResponse: HostWebSocketRequestResponsePair | undefined

  constructor(private readonly deliver: (event: { method: string; args: unknown[] }) => Promise<void>) {}

  accept(socket: WebSocket, tags: string[]): void {
    const server = socket as unknown as HostWebSocket
    this.sockets.set(server, [...tags])
    server.hibernation = (method, args) => {
      if (method === 'webSocketMessage' && this.autoResponse && args[1] === this.autoResponse.request) {
        server.send(this.autoResponse.response)
        return
      }
      if (method === 'webSocketClose') this.sockets.delete(server)
      void this.deliver({ method, args })
    }
  }
  list(tag?: string): WebSocket[] {
    return [...this.sockets]
      .filter(([socket, tags]) => socket.readyState === 1 && (tag === undefined || tags.includes(tag)))
      .map(([socket]) => socket as unknown as WebSocket)
  }
  tagsOf(socket: WebSocket): string[] {
    return this.sockets.get(socket as unknown as HostWebSocket) ?? []
  }
  setAutoResponse(pair?: HostWebSocketRequestResponsePair): void {
    this.autoResponse = pair
  }
  count(): number {
    return this.sockets.size
  }
}

/** `Response` that also accepts status 101 with a `webSocket`, as the Workers runtime does. */
export function upgradeAwareResponse(Base: typeof Response): typeof Response {
  class WorkersResponse extends Base {
    private readonly upgrade: boolean
    private readonly socket: WebSocket | null
    constructor(body?: BodyInit | null, init?: ResponseInit & { webSocket?: WebSocket | null }) {
      const upgrade = init?.status === 101
      super(body, upgrade ? { ...init, status: 200 } : init)
      this.upgrade = upgrade
      this.socket = init?.webSocket ?? null
    }
    override get webSocket(): WebSocket | null {
      return this.socket
    }
    override get status(): number {
      return this.upgrade ? 101 : super.status
    }
  }
  return WorkersResponse as unknown as typeof Response
}

/** Installs the Workers globals the blocks use that these runtimes lack. */
export function installWorkersGlobals(): void {
  const global = globalThis as Record<string, unknown>
  global.WebSocketPair = HostWebSocketPair
  global.WebSocketRequestResponsePair = HostWebSocketRequestResponsePair
  global.Response = upgradeAwareResponse(Response)
}

/**
 * Streaming subscribers: WebSockets (hibernation API) and Server-Sent Events.
 *
 * Every connection has its own cursor, the last seq it was sent. A connection opened with
 * a resume point (`?after=<seq>` or SSE `Last-Event-ID`) starts there and first receives
 * every retained message it missed; one without starts at the head (new messages only).
 * After each publish the hub pumps: it reads the log once from the lowest cursor, sends
 * each connection the messages past its cursor that pass its subscription's filter, and
 * advances the cursors. A WebSocket keeps its cursor in its attachment, so it survives
 * hibernation; an SSE stream lives in memory and is resumed by the client after a restart.
 * The hub caps a topic at PUBSUB_LIMITS.maxStreamsPerTopic open connections.
 *
 * Guarantees: each connection receives matching messages in seq order (so per ordering
 * key in publish order), each at most once per connection, and — resuming from the last
 * seq it saw — every retained one at least once. A frame is `{ seq, message }` or
 * `{ seq, event }`; SSE puts `seq` in `id:` too.
 * Cost: one log read of PUMP_BATCH messages per pass for all connections; one encoding per
 * (subscription, message); an SSE client that stops reading is disconnected once
 * MAX_QUEUED_FRAMES pile up (it can resume).
 */
import { PUBSUB_LIMITS } from '../../schemas/pubsub'
import { AppError } from '../platform/errors'
import type { EventOrigin } from './cloudevents'
import { parseResumePoint, sseEvent, sseRetry } from './delivery-rules'
import { matchesFilter } from './filter'
import { renderForClient } from './formats'
import type { StoredMessage } from './messages'
import type { SubscriptionRecord } from './subscriptions'

const PUMP_BATCH = 256
const MAX_QUEUED_FRAMES = 10_000
const SSE_RETRY_MS = 2_000

interface StreamState {
  subscription: string
  cursor: number
}

interface Connection {
  state: StreamState
  /** `json` is the whole frame, `{"seq":…,…}`. */
  send(seq: number, json: string): void
  saveCursor(cursor: number): void
  close(code: number, reason: string): void
}

export interface StreamHost {
  ctx: DurableObjectState
  headSeq(): number
  read(afterSeq: number, limit: number): StoredMessage[]
  subscription(name: string): SubscriptionRecord | undefined
  origin(subscription: SubscriptionRecord): EventOrigin
}

const encoder = new TextEncoder()
const tagOf = (subscription: string) => `sub:${subscription}`

export class StreamHub {
  private readonly sse = new Set<Connection>()
  private readonly sockets = new WeakMap<WebSocket, StreamState>()
  private pumping: Promise<void> | undefined
  private again = false

  constructor(private readonly host: StreamHost) {}

  count(subscription?: string): number {
    const sockets = this.host.ctx.getWebSockets(subscription === undefined ? undefined : tagOf(subscription))
    const sse = [...this.sse].filter(
      (c) => subscription === undefined || c.state.subscription === subscription,
    )
    return sockets.length + sse.length
  }

  /** Throws 429 (with Retry-After) when the topic already has its maximum of open streams. */
  checkCapacity(): void {
    if (this.count() < PUBSUB_LIMITS.maxStreamsPerTopic) return
    throw new AppError(
      'rate_limited',
      `A topic has at most ${PUBSUB_LIMITS.maxStreamsPerTopic} open streams.`,
      {
        headers: { 'Retry-After': '5' },
      },
    )
  }

  /** Opens a WebSocket (`transport=websocket`) or else an event stream, resuming after `after` if given. */
  open(subscription: string, query: URLSearchParams): Response {
    const after = parseResumePoint(query.get('after'))
    return query.get('transport') === 'websocket'
      ? this.openWebSocket(subscription, after)
      : this.openEventStream(subscription, after)
  }

  openWebSocket(subscription: string, after: number | undefined): Response {
    const pair = new WebSocketPair()
    const server = pair[1]
    this.host.ctx.acceptWebSocket(server, [tagOf(subscription)])
    const state: StreamState = { subscription, cursor: this.startCursor(after) }
    server.serializeAttachment(state)
    this.sockets.set(server, state)
    this.kick()
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  openEventStream(subscription: string, after: number | undefined): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const writer = writable.getWriter()
    const connection: Connection = {
      state: { subscription, cursor: this.startCursor(after) },
      send: (seq, json) => {
        if ((writer.desiredSize ?? 0) < -MAX_QUEUED_FRAMES) {
          connection.close(1013, 'Too far behind; resume with Last-Event-ID')
          return
        }
        writer.write(encoder.encode(sseEvent({ id: String(seq), data: json }))).catch(() => {
          this.sse.delete(connection)
        })
      },
      saveCursor: (cursor) => {
        connection.state.cursor = cursor
      },
      close: () => {
        this.sse.delete(connection)
        writer.close().catch(() => {})
      },
    }
    this.sse.add(connection)
    writer.closed.catch(() => this.sse.delete(connection))
    writer.write(encoder.encode(sseRetry(SSE_RETRY_MS))).catch(() => this.sse.delete(connection))
    this.kick()
    return new Response(readable, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      },
    })
  }

  /** Resume after `after` (never past the head), or start at the head. */
  private startCursor(after: number | undefined): number {
    const head = this.host.headSeq()
    return after === undefined ? head : Math.min(after, head)
  }

  /** Sends what is new to every connection, after the current call returns. */
  kick(): void {
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = new Promise<void>((resolve) => setTimeout(resolve, 0))
      .then(() => this.pump())
      .finally(() => {
        this.pumping = undefined
        if (this.again) this.kick()
      })
  }

  /** Resolves when no pump is running or pending. */
  async settled(): Promise<void> {
    while (this.pumping) await this.pumping
  }

  /** Moves every connection of the subscription to `cursor` (a seek) and replays from there. */
  reposition(subscription: string, cursor: number): void {
    for (const connection of this.connections()) {
      if (connection.state.subscription === subscription) connection.saveCursor(cursor)
    }
    this.kick()
  }

  closeSubscription(subscription: string, code: number, reason: string): void {
    for (const connection of this.connections()) {
      if (connection.state.subscription === subscription) connection.close(code, reason)
    }
  }

  closeAll(code: number, reason: string): void {
    for (const connection of this.connections()) connection.close(code, reason)
  }

  private connections(): Connection[] {
    const sockets = this.host.ctx.getWebSockets().map((ws): Connection => {
      let state = this.sockets.get(ws)
      if (!state) {
        state = ws.deserializeAttachment() as StreamState
        this.sockets.set(ws, state)
      }
      const known = state
      return {
        state: known,
        send: (_seq, json) => {
          try {
            ws.send(json)
          } catch {
            // The socket closed; the runtime drops it from getWebSockets().
          }
        },
        saveCursor: (cursor) => {
          known.cursor = cursor
          try {
            ws.serializeAttachment(known)
          } catch {
            // Closed.
          }
        },
        close: (code, reason) => {
          try {
            ws.close(code, reason)
          } catch {
            // Already closed.
          }
        },
      }
    })
    return [...sockets, ...this.sse]
  }

  private async pump(): Promise<void> {
    do {
      this.again = false
      const head = this.host.headSeq()
      const behind = this.connections().filter((connection) => connection.state.cursor < head)
      if (behind.length > 0) {
        this.sendBatch(behind, head)
        if (behind.some((connection) => connection.state.cursor < head)) this.again = true
      }
      if (this.again) await new Promise((resolve) => setTimeout(resolve, 0))
    } while (this.again)
  }

  private sendBatch(behind: Connection[], head: number): void {
    const from = Math.min(...behind.map((connection) => connection.state.cursor))
    const messages = this.host.read(from, PUMP_BATCH)
    const readThrough = messages.length < PUMP_BATCH ? head : (messages.at(-1)?.seq ?? head)
    const frames = new Map<string, string>()
    for (const connection of behind) {
      const subscription = this.host.subscription(connection.state.subscription)
      if (!subscription) {
        connection.saveCursor(head)
        connection.close(4404, 'The subscription was deleted')
        continue
      }
      const origin = this.host.origin(subscription)
      const start = connection.state.cursor
      for (const message of messages) {
        if (message.seq <= start || !matchesFilter(subscription.config.filter, message.attributes)) continue
        const key = `${subscription.name}\n${message.seq}`
        let json = frames.get(key)
        if (json === undefined) {
          json = JSON.stringify({
            seq: message.seq,
            ...renderForClient(subscription.config.format, message, origin),
          })
          frames.set(key, json)
        }
        connection.send(message.seq, json)
      }
      if (readThrough > start) connection.saveCursor(readThrough)
    }
  }
}

/**
 * `KvFeed`: the changefeed of one namespace (`<tenant>:kv-feed:<namespace>`): every write
 * or delete acknowledged to a client is appended here (after its quorum, before the
 * response) with a sequence number, and streamed to subscribers over WebSocket
 * (hibernation API; the cursor lives in the socket's attachment) or Server-Sent Events.
 *
 * Guarantees: a subscriber receives changes in sequence order, each once per connection;
 * resuming with the last seq it saw (`?after=` or `Last-Event-ID`) it receives every
 * retained change it missed. The last FEED_RETENTION changes are retained. A write that
 * failed its quorum is not in the feed (even if some replicas kept it). Frames:
 * `{ seq, key, version, deleted, at }`. Cost: one object call per acknowledged write.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'

export const FEED_RETENTION = 10_000
const SEND_BATCH = 500
const encoder = new TextEncoder()

export interface Change {
  key: string
  version: string
  deleted: boolean
  at: number
}

interface SseConnection {
  cursor: number
  writer: WritableStreamDefaultWriter<Uint8Array>
}

declare global {
  namespace Cloudflare {
    interface Env {
      KV_FEEDS: DurableObjectNamespace<KvFeed>
    }
  }
}

export class KvFeed extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private readonly sse = new Set<SseConnection>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, version TEXT NOT NULL,
        deleted INTEGER NOT NULL, at INTEGER NOT NULL)`)
    })
  }

  async append(changes: Change[]): Promise<number> {
    let last = 0
    this.ctx.storage.transactionSync(() => {
      for (const change of changes) {
        last = Number(
          this.sql
            .exec(
              'INSERT INTO changes (key, version, deleted, at) VALUES (?, ?, ?, ?) RETURNING seq',
              change.key,
              change.version,
              change.deleted ? 1 : 0,
              change.at,
            )
            .one().seq,
        )
      }
      this.sql.exec('DELETE FROM changes WHERE seq <= ?', last - FEED_RETENTION)
    })
    this.pushAll()
    return last
  }

  private head(): number {
    return Number(this.sql.exec('SELECT coalesce(max(seq), 0) AS head FROM changes').one().head)
  }

  private frames(after: number): Array<{ seq: number; json: string }> {
    return this.sql
      .exec('SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?', after, SEND_BATCH)
      .toArray()
      .map((row) => ({
        seq: Number(row.seq),
        json: JSON.stringify({
          seq: Number(row.seq),
          key: row.key,
          version: row.version,
          deleted: Number(row.deleted) === 1,
          at: Number(row.at),
        }),
      }))
  }

  private pushAll(): void {
    for (const socket of this.ctx.getWebSockets()) {
      const state = socket.deserializeAttachment() as { cursor: number }
      let cursor = state.cursor
      for (let batch = this.frames(cursor); batch.length > 0; batch = this.frames(cursor)) {
        for (const frame of batch) {
          try {
            socket.send(frame.json)
          } catch {
            // closed; the runtime drops it
          }
          cursor = frame.seq
        }
      }
      try {
        socket.serializeAttachment({ cursor })
      } catch {
        // closed
      }
    }
    for (const connection of this.sse) {
      for (
        let batch = this.frames(connection.cursor);
        batch.length > 0;
        batch = this.frames(connection.cursor)
      ) {
        for (const frame of batch) {
          connection.writer
            .write(encoder.encode(`id: ${frame.seq}\ndata: ${frame.json}\n\n`))
            .catch(() => this.sse.delete(connection))
          connection.cursor = frame.seq
        }
      }
    }
  }

  /** `GET …?after=<seq>&transport=websocket|sse`: a stream from `after` (default: the head). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const afterText = url.searchParams.get('after')
    const head = this.head()
    const cursor = afterText === null ? head : Math.min(Number(afterText), head)
    if (url.searchParams.get('transport') === 'websocket') {
      const pair = new WebSocketPair()
      this.ctx.acceptWebSocket(pair[1])
      pair[1].serializeAttachment({ cursor })
      this.pushAll()
      return new Response(null, { status: 101, webSocket: pair[0] })
    }
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const connection: SseConnection = { cursor, writer: writable.getWriter() }
    this.sse.add(connection)
    connection.writer.closed.catch(() => this.sse.delete(connection))
    connection.writer.write(encoder.encode('retry: 2000\n\n')).catch(() => this.sse.delete(connection))
    this.pushAll()
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    })
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, 'closed')
    } catch {
      // already closed
    }
  }
}

/**
 * `LogTenant`: one per tenant (`<tenant>:logs:directory`). It holds the tenant's settings,
 * the directory of its shards (which days and slices have lines, so a query over any time
 * range, however old, calls only shards that exist) and the live-tail subscribers:
 * WebSockets through the hibernation API, SSE streams in memory.
 *
 * Guarantees: a shard is in the directory before any line is written to it (the ingest path
 * registers first), so a query never misses an acknowledged line; it leaves the directory
 * only when retention has emptied it. Cost: one small write per batch (an upsert per shard).
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import type { Stream } from './entries'
import type { LogQuery } from './logql/ast'
import { parseLogQL } from './logql/parser'
import { defaultSettings, type LogSettings } from './settings'
import { LOGS_KIND, type ShardConfig } from './shard-object'
import { type TailFilter, tailFilter } from './tail'

declare global {
  namespace Cloudflare {
    interface Env {
      LOG_TENANTS: DurableObjectNamespace<LogTenant>
    }
  }
}

export type ShardKey = [day: number, shard: number]

const encoder = new TextEncoder()

export class LogTenant extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private readonly filters = new Map<string, TailFilter>()
  private readonly sse = new Set<{ filter: TailFilter; writer: WritableStreamDefaultWriter<Uint8Array> }>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS shards (day INTEGER NOT NULL, shard INTEGER NOT NULL, PRIMARY KEY (day, shard)) WITHOUT ROWID`,
      )
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL)`,
      )
    })
  }

  async settings(): Promise<LogSettings> {
    const own = this.sql.exec<{ value: string }>('SELECT value FROM settings').toArray()[0]
    return { ...defaultSettings(this.env), ...(own ? (JSON.parse(own.value) as Partial<LogSettings>) : {}) }
  }

  /** Replaces the tenant's own settings and tells every shard its new retention and compaction. */
  async updateSettings(tenant: string, changes: Partial<LogSettings>): Promise<LogSettings> {
    const own = this.sql.exec<{ value: string }>('SELECT value FROM settings').toArray()[0]
    const merged = { ...(own ? (JSON.parse(own.value) as Partial<LogSettings>) : {}), ...changes }
    this.sql.exec(
      'INSERT INTO settings (id, value) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value',
      JSON.stringify(merged),
    )
    const settings = await this.settings()
    const shards = this.sql.exec<{ day: number; shard: number }>('SELECT day, shard FROM shards').toArray()
    await Promise.all(
      shards.map(({ day, shard }) =>
        objectStub(this.env.LOG_SHARDS, tenant, LOGS_KIND, String(day), shard).configure(
          shardConfig(tenant, day, shard, settings),
        ),
      ),
    )
    return settings
  }

  /** Adds shards to the directory (before lines are written to them); says whether anyone is tailing. */
  async register(keys: ShardKey[]): Promise<{ settings: LogSettings; tailing: boolean }> {
    for (const [day, shard] of keys)
      this.sql.exec('INSERT OR IGNORE INTO shards (day, shard) VALUES (?, ?)', day, shard)
    return { settings: await this.settings(), tailing: this.ctx.getWebSockets().length + this.sse.size > 0 }
  }

  /** The shards holding lines of days `fromDay`..`toDay`. */
  async shardsBetween(fromDay: number, toDay: number): Promise<ShardKey[]> {
    return this.sql
      .exec<{ day: number; shard: number }>(
        'SELECT day, shard FROM shards WHERE day BETWEEN ? AND ? ORDER BY day, shard',
        fromDay,
        toDay,
      )
      .toArray()
      .map(({ day, shard }) => [day, shard])
  }

  async forget(day: number, shard: number): Promise<void> {
    this.sql.exec('DELETE FROM shards WHERE day = ? AND shard = ?', day, shard)
  }

  /** Sends a stored batch to every tail subscriber whose query accepts some of its lines. */
  async publish(streams: Stream[]): Promise<void> {
    for (const socket of this.ctx.getWebSockets()) {
      const query = (socket.deserializeAttachment() as { query: string } | null)?.query
      if (!query) continue
      const message = this.filterFor(query)(streams)
      if (message) socket.send(JSON.stringify(message))
    }
    for (const client of this.sse) {
      const message = client.filter(streams)
      if (message)
        client.writer
          .write(encoder.encode(`data: ${JSON.stringify(message)}\n\n`))
          .catch(() => this.sse.delete(client))
    }
  }

  /** A tail subscription: `?query=` (already validated by the route), WebSocket or SSE. */
  override async fetch(request: Request): Promise<Response> {
    const query = new URL(request.url).searchParams.get('query') ?? ''
    const filter = this.filterFor(query)
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const { 0: client, 1: server } = new WebSocketPair()
      this.ctx.acceptWebSocket(server)
      server.serializeAttachment({ query })
      return new Response(null, { status: 101, webSocket: client })
    }
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const entry = { filter, writer: writable.getWriter() }
    this.sse.add(entry)
    request.signal.addEventListener('abort', () => this.sse.delete(entry))
    void entry.writer.write(encoder.encode(': tailing\n\n')).catch(() => this.sse.delete(entry))
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    })
  }

  override async webSocketMessage(): Promise<void> {
    // Tail is one-way; messages from the client are ignored.
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    socket.close(code === 1005 ? 1000 : code, 'closing')
  }

  private filterFor(query: string): TailFilter {
    let filter = this.filters.get(query)
    if (!filter) {
      filter = tailFilter(parseLogQL(query) as LogQuery)
      this.filters.set(query, filter)
    }
    return filter
  }
}

export function shardConfig(tenant: string, day: number, shard: number, settings: LogSettings): ShardConfig {
  return {
    tenant,
    day,
    shard,
    retentionDays: settings.retentionDays,
    compactAfterHours: settings.compactAfterHours,
  }
}

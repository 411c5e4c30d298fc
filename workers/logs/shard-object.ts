/**
 * `LogShard`: the Durable Object holding one tenant's lines of one UTC day for one slice of
 * its streams, `<tenant>:logs:<day>#<shard>`. A thin host over `ShardStore`: each batch is one
 * `transactionSync` (so an acknowledged batch is durable and a retried one is stored once),
 * queries read both tiers, and one alarm does the upkeep:
 *
 * - compaction, once the day has been over for `compactAfterHours`: the hot lines move into
 *   gzip chunks in object storage (written first, then the index rows and the deletion in one
 *   transaction), and later lines for that day are compacted by the next alarm;
 * - retention, once the day has been over for `retentionDays`: every row and every object
 *   under the shard's prefix is deleted, and the tenant's directory forgets the shard.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectBucket } from '../platform/ports'
import { objectStub } from '../platform/tenancy'
import { chunkPrefix, decodeChunk, encodeChunk } from './archive'
import { DAY_MS, type Stream } from './entries'
import type { LogLine, MetricPartial } from './evaluate'
import type { LogQuery } from './logql/ast'
import { type LogRequest, type MetricRequest, queryLogs, queryMetric, select } from './shard-query'
import { type ChunkRef, type Row, type ShardCounts, ShardStore } from './shard-store'

declare global {
  namespace Cloudflare {
    interface Env {
      LOG_SHARDS: DurableObjectNamespace<LogShard>
    }
  }
}

export const LOGS_KIND = 'logs'

/** Where a shard sits and how long its lines live. */
export interface ShardConfig {
  tenant: string
  day: number
  shard: number
  retentionDays: number
  compactAfterHours: number
}

export interface ShardStats extends ShardCounts {
  /** The shard's SQLite database: hot lines, their indexes and the archive index. */
  sqliteBytes: number
}

export class LogShard extends HostedObject<Env> {
  private readonly store: ShardStore
  private config: ShardConfig | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ShardStore(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      const config = this.store.getMeta('config')
      this.config = config ? (JSON.parse(config) as ShardConfig) : undefined
    })
  }

  /** Stores a batch's lines for this shard once per `hash`; returns how many were stored now. */
  async ingest(
    config: ShardConfig,
    hash: string,
    streams: Stream[],
  ): Promise<{ stored: number; duplicate: boolean }> {
    const now = Date.now()
    const result = this.ctx.storage.transactionSync(() => {
      this.setConfig(config)
      if (this.store.hasBatch(hash)) return { stored: 0, duplicate: true }
      return { stored: this.store.ingest(hash, streams, now), duplicate: false }
    })
    await this.armAlarm(now)
    return result
  }

  /** New retention or compaction settings (the tenant changed them). */
  async configure(config: ShardConfig): Promise<void> {
    this.ctx.storage.transactionSync(() => this.setConfig(config))
    await this.armAlarm(Date.now())
  }

  async queryLogs(request: LogRequest): Promise<LogLine[]> {
    return queryLogs(this.store, request, (chunk) => this.readChunk(chunk))
  }

  async queryMetric(request: MetricRequest): Promise<MetricPartial[]> {
    return queryMetric(this.store, request, (chunk) => this.readChunk(chunk))
  }

  /** Label sets of the streams matching `query`'s selector (all streams without one). */
  async series(query: LogQuery | undefined): Promise<Array<Record<string, string>>> {
    if (!query) return [...this.store.streams().values()]
    const selected = select(this.store, query, 0, Number.MAX_SAFE_INTEGER, false)
    return selected ? [...selected.streams.values()] : []
  }

  /** The plan and SQLite's query plan for a log query (what the query-plan tests check). */
  async explain(query: LogQuery): Promise<{ plan: unknown; sqlite: string[] }> {
    const selected = select(this.store, query, 0, Number.MAX_SAFE_INTEGER, true)
    if (!selected) return { plan: undefined, sqlite: [] }
    return { plan: selected.plan, sqlite: this.store.explain(selected.selection) }
  }

  async stats(): Promise<ShardStats> {
    return { ...this.store.counts(), sqliteBytes: this.ctx.storage.sql.databaseSize }
  }

  override async alarm(): Promise<void> {
    const config = this.config
    if (!config) return
    const now = Date.now()
    const dayEnd = (config.day + 1) * DAY_MS
    if (now >= dayEnd + config.retentionDays * DAY_MS) {
      await this.expire(config)
      return
    }
    if (now >= dayEnd + config.compactAfterHours * 3_600_000 && this.store.maxEntryId() > 0)
      await this.compact(config)
    await this.armAlarm(now)
  }

  private async compact(config: ShardConfig): Promise<void> {
    const maxId = this.store.maxEntryId()
    const bucket = objectBucket(this.env)
    const chunks: Omit<ChunkRef, 'id'>[] = []
    const run = crypto.randomUUID().slice(0, 8)
    for (const [streamId, rows] of this.store.rowsToCompact(maxId)) {
      const { body, rawBytes } = await encodeChunk(rows)
      const key = `${chunkPrefix(config.tenant, config.day, config.shard)}${streamId}-${maxId}-${run}.ndjson.gz`
      await bucket.put(key, body, {
        httpMetadata: { contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
      })
      const first = rows[0] as Row
      const last = rows[rows.length - 1] as Row
      chunks.push({
        streamId,
        key,
        minMs: first.ms,
        maxMs: last.ms,
        lines: rows.length,
        rawBytes,
        storedBytes: body.byteLength,
      })
    }
    this.ctx.storage.transactionSync(() => this.store.commitCompaction(maxId, chunks))
  }

  private async expire(config: ShardConfig): Promise<void> {
    const bucket = objectBucket(this.env)
    const prefix = chunkPrefix(config.tenant, config.day, config.shard)
    for (let cursor: string | undefined, more = true; more; ) {
      const listed = await bucket.list({ prefix, ...(cursor ? { cursor } : {}) })
      if (listed.objects.length > 0) await bucket.delete(listed.objects.map((object) => object.key))
      more = listed.truncated
      cursor = listed.truncated ? listed.cursor : undefined
    }
    this.ctx.storage.transactionSync(() => this.store.wipe())
    await objectStub(this.env.LOG_TENANTS, config.tenant, LOGS_KIND, 'directory').forget(
      config.day,
      config.shard,
    )
  }

  private async readChunk(chunk: ChunkRef): Promise<Row[]> {
    const object = await objectBucket(this.env).get(chunk.key)
    if (!object) throw new Error(`archive chunk ${chunk.key} is missing`)
    return decodeChunk(new Uint8Array(await object.arrayBuffer()), chunk.streamId)
  }

  private setConfig(config: ShardConfig): void {
    const text = JSON.stringify(config)
    if (this.store.getMeta('config') !== text) this.store.setMeta('config', text)
    this.config = config
  }

  /** The next upkeep: compaction time while hot lines remain, else retention time. */
  private async armAlarm(now: number): Promise<void> {
    const config = this.config
    if (!config) return
    const dayEnd = (config.day + 1) * DAY_MS
    const compactAt = dayEnd + config.compactAfterHours * 3_600_000
    const expireAt = dayEnd + config.retentionDays * DAY_MS
    // Lines arriving for a compacted day wait a minute, so a backfill makes few chunks, not one per batch.
    const due =
      this.store.maxEntryId() > 0 && compactAt < expireAt
        ? Math.max(compactAt, Math.min(now + 60_000, expireAt))
        : Math.max(expireAt, now)
    const armed = await this.ctx.storage.getAlarm()
    if (armed === null || armed > due) await this.ctx.storage.setAlarm(due)
  }
}

/**
 * `CacheNode`: one node of one tenant's cache, named `<tenant>:cache:<cache>#<node>`. It
 * hosts a `Keyspace` in memory and runs command batches on it synchronously (no await
 * between commands, so a batch is atomic). A persistent cache writes the keys each batch
 * changed to SQLite in one transaction and reloads them when the object starts again; a
 * volatile one starts empty. One alarm: the next key expiry (active expiry).
 *
 * Every call carries the cache's current shape (`NodeConfig`). A new incarnation (the cache
 * was deleted and created again) empties the node; a new node count drops the keys the
 * node no longer owns, so a key that moves away and back can never resurface stale.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { type BackingConfig, backingSource } from './backing'
import { executeAll, newContext, type Outcome } from './commands'
import { Leases } from './commands/leases'
import type { EvictionPolicyName } from './eviction'
import { ReplicaCopies } from './hot-keys'
import { Keyspace, type NodeStats } from './keyspace'
import { nodeOf } from './placement'
import { createSnapshotTables, loadAll, saveDirty } from './snapshot'
import {
  changesOf,
  createPendingTable,
  dueBatch,
  markFailed,
  markFlushed,
  nextFlush,
  recordWrites,
} from './write-behind'

declare global {
  namespace Cloudflare {
    interface Env {
      CACHE_NODES: DurableObjectNamespace<CacheNode>
    }
  }
}

export interface NodeConfig {
  /** Set at creation; a different value means the cache was re-created. */
  incarnation: number
  nodes: number
  index: number
  maxmemory: number
  policy: EvictionPolicyName
  persistent: boolean
  /** Write-behind: string changes queue in SQLite and flush to this source from the alarm. */
  writeBehind?: BackingConfig | undefined
}

const SCHEMA_VERSION = 1
/** Keys removed per alarm at most; the alarm re-arms at once when more are due. */
const EXPIRE_BATCH = 10_000

export class CacheNode extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private readonly ks = new Keyspace({ maxmemory: 8 * 1024 * 1024, policy: 'lru', random: Math.random })
  private readonly leases = new Leases()
  private readonly copies = new ReplicaCopies()
  private config: NodeConfig | undefined
  private alarmAt: number | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        'CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER NOT NULL, config TEXT)',
      )
      createSnapshotTables(this.sql)
      createPendingTable(this.sql)
      const meta = this.sql.exec<{ config: string | null }>('SELECT config FROM meta').toArray()[0]
      if (!meta)
        this.sql.exec('INSERT INTO meta (id, schema_version, config) VALUES (1, ?, NULL)', SCHEMA_VERSION)
      if (meta?.config) {
        this.config = JSON.parse(meta.config) as NodeConfig
        this.ks.configure(this.config.maxmemory, this.config.policy, Date.now())
        if (this.config.persistent) loadAll(this.sql, this.ks, Date.now())
        this.ks.written.clear()
      }
      this.alarmAt = await ctx.storage.getAlarm()
    })
  }

  /** Runs `commands` in order as one atomic batch. */
  run(config: NodeConfig, commands: string[][]): Outcome[] {
    const now = Date.now()
    const outcomes = this.ctx.storage.transactionSync(() => {
      this.adopt(config, now)
      const results = executeAll(newContext(this.ks, this.leases, now, Math.random), commands)
      if (config.writeBehind) recordWrites(this.sql, this.ks, now)
      this.ks.written.clear()
      this.persist()
      return results
    })
    this.armAlarm()
    return outcomes
  }

  /** Hot-key replication: this node's read-only copy of another node's key. */
  readCopy(key: string): string | null {
    return this.copies.read(key, Date.now())
  }

  storeCopy(key: string, value: string | null, expiresAt: number): void {
    this.copies.store(key, value, expiresAt)
  }

  stats(config: NodeConfig): NodeStats {
    this.ctx.storage.transactionSync(() => {
      this.adopt(config, Date.now())
      this.persist()
    })
    return this.ks.snapshot()
  }

  /** Active expiry, then one write-behind batch; re-arms for whatever is due next. */
  override async alarm(): Promise<void> {
    this.alarmAt = null
    this.ctx.storage.transactionSync(() => {
      this.ks.expireDue(Date.now(), EXPIRE_BATCH)
      this.persist()
    })
    const target = this.config?.writeBehind
    const rows = target ? dueBatch(this.sql, Date.now()) : []
    if (target && rows.length > 0) {
      try {
        await backingSource(target).write(changesOf(rows))
        markFlushed(this.sql, rows)
      } catch {
        markFailed(this.sql, rows, Date.now(), Math.random)
      }
    }
    this.armAlarm()
  }

  private adopt(config: NodeConfig, now: number): void {
    const current = this.config
    if (current && JSON.stringify(current) === JSON.stringify(config)) return
    this.copies.clear()
    if (current && current.incarnation !== config.incarnation) {
      this.ks.flush()
      this.leases.clear()
    } else if (current && current.nodes !== config.nodes) {
      for (const key of [...this.ks.entries.keys()])
        if (nodeOf(key, config.nodes) !== config.index) this.ks.delete(key)
    }
    this.ks.configure(config.maxmemory, config.policy, now)
    this.ks.makeRoom(now)
    if (current?.persistent && !config.persistent) this.sql.exec('DELETE FROM entries')
    if (config.persistent && !current?.persistent)
      for (const key of this.ks.entries.keys()) this.ks.dirty.add(key)
    this.config = config
    this.sql.exec('UPDATE meta SET config = ? WHERE id = 1', JSON.stringify(config))
  }

  private persist(): void {
    if (this.config?.persistent) saveDirty(this.sql, this.ks)
    else this.ks.dirty.clear()
  }

  private armAlarm(): void {
    const expiry = this.ks.nextExpiry()
    const flush = this.config?.writeBehind ? nextFlush(this.sql) : undefined
    const next = expiry === undefined ? flush : flush === undefined ? expiry : Math.min(expiry, flush)
    if (next === undefined || (this.alarmAt !== null && this.alarmAt <= next)) return
    this.alarmAt = next
    void this.ctx.storage.setAlarm(next)
  }
}

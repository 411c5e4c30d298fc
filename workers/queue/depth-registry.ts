/**
 * `QueueDepthRegistry`: DEPTH_REGISTRY_SHARDS objects, `platform:queue-depths:registry#<i>`,
 * each holding the latest depth report of every partition of the tenants that hash to it
 * (depths.ts says when partitions report). `/metrics` reads them here: one call for one
 * tenant's queues, one per registry object for the platform's totals, whatever the number
 * of queues. A report is one upsert; a partition's row goes when its queue is deleted.
 * At most MAX_REGISTERED_PARTITIONS rows per object: a new partition's report past it is
 * dropped (and counted), an existing row is always updated.
 */
import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import {
  addCounts,
  DEPTH_REGISTRY_SHARDS,
  type DepthCounts,
  type DepthReport,
  MAX_REGISTERED_PARTITIONS,
  registryShardOf,
} from './depths'

declare global {
  namespace Cloudflare {
    interface Env {
      QUEUE_DEPTHS: DurableObjectNamespace<QueueDepthRegistry>
    }
  }
}

/** Every queue of the platform summed; `queues` counts queues, `dropped` refused reports. */
export interface DepthTotals extends Omit<DepthCounts, 'hasDeadLetter'> {
  queues: number
  dropped: number
}

type Row = Record<string, SqlStorageValue>

const toReport = (row: Row): DepthReport => ({
  tenant: String(row.tenant),
  queue: String(row.queue),
  partition: Number(row.partition),
  visible: Number(row.visible),
  inFlight: Number(row.in_flight),
  delayed: Number(row.delayed),
  moving: Number(row.moving),
  oldestSentAt: row.oldest_sent_at === null ? null : Number(row.oldest_sent_at),
  deadLettered: Number(row.dead_lettered),
  hasDeadLetter: Number(row.has_dead_letter) === 1,
})

export class QueueDepthRegistry extends HostedObject<Env> {
  private readonly sql: SqlStorage
  /** Reports refused because this object was full, since it started (not persisted). */
  private dropped = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS depths (
           tenant TEXT NOT NULL, queue TEXT NOT NULL, partition INTEGER NOT NULL,
           visible INTEGER NOT NULL, in_flight INTEGER NOT NULL, delayed INTEGER NOT NULL,
           moving INTEGER NOT NULL, oldest_sent_at INTEGER, dead_lettered INTEGER NOT NULL,
           has_dead_letter INTEGER NOT NULL, PRIMARY KEY (tenant, queue, partition))`,
      )
    })
  }

  /** Stores a partition's latest counts; false when a new partition found this object full. */
  async report(r: DepthReport): Promise<boolean> {
    return this.ctx.storage.transactionSync(() => {
      const known =
        this.sql
          .exec(
            'SELECT 1 FROM depths WHERE tenant = ? AND queue = ? AND partition = ?',
            r.tenant,
            r.queue,
            r.partition,
          )
          .toArray().length > 0
      if (!known) {
        const { n } = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM depths').one()
        if (n >= MAX_REGISTERED_PARTITIONS) {
          this.dropped++
          return false
        }
      }
      this.sql.exec(
        `INSERT OR REPLACE INTO depths (tenant, queue, partition, visible, in_flight, delayed, moving,
           oldest_sent_at, dead_lettered, has_dead_letter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        r.tenant,
        r.queue,
        r.partition,
        r.visible,
        r.inFlight,
        r.delayed,
        r.moving,
        r.oldestSentAt,
        r.deadLettered,
        r.hasDeadLetter ? 1 : 0,
      )
      return true
    })
  }

  /** A deleted queue's partition. */
  async forget(tenant: string, queue: string, partition: number): Promise<void> {
    this.sql.exec(
      'DELETE FROM depths WHERE tenant = ? AND queue = ? AND partition = ?',
      tenant,
      queue,
      partition,
    )
  }

  async tenantReports(tenant: string): Promise<DepthReport[]> {
    return this.sql.exec('SELECT * FROM depths WHERE tenant = ?', tenant).toArray().map(toReport)
  }

  async totals(): Promise<DepthTotals> {
    const row = this.sql
      .exec(
        `SELECT COUNT(DISTINCT tenant || char(10) || queue) AS queues, COALESCE(SUM(visible), 0) AS visible,
           COALESCE(SUM(in_flight), 0) AS in_flight, COALESCE(SUM(delayed), 0) AS delayed,
           COALESCE(SUM(moving), 0) AS moving, MIN(oldest_sent_at) AS oldest_sent_at,
           COALESCE(SUM(dead_lettered), 0) AS dead_lettered FROM depths`,
      )
      .one()
    return {
      queues: Number(row.queues),
      visible: Number(row.visible),
      inFlight: Number(row.in_flight),
      delayed: Number(row.delayed),
      moving: Number(row.moving),
      oldestSentAt: row.oldest_sent_at === null ? null : Number(row.oldest_sent_at),
      deadLettered: Number(row.dead_lettered),
      dropped: this.dropped,
    }
  }
}

export function depthRegistry(env: Env, shard: number) {
  return objectStub(env.QUEUE_DEPTHS, 'platform', 'queue-depths', 'registry', shard)
}

export function registryOf(env: Env, tenant: string) {
  return depthRegistry(env, registryShardOf(tenant))
}

type PartitionName = Pick<DepthReport, 'tenant' | 'queue' | 'partition'>

/** A partition's report (called from its alarm by `DepthReporter.flush`). */
export function sendDepth(env: Env, { tenant, queue, partition }: PartitionName, counts: DepthCounts) {
  return registryOf(env, tenant).report({ tenant, queue, partition, ...counts })
}

/** A deleted partition's row; a failure leaves the last depth until the queue is created again. */
export async function forgetDepth(env: Env, { tenant, queue, partition }: PartitionName): Promise<void> {
  await registryOf(env, tenant)
    .forget(tenant, queue, partition)
    .catch(() => {})
}

/** The latest reports of one tenant's partitions (one registry call). */
export function tenantDepthReports(env: Env, tenant: string): Promise<DepthReport[]> {
  return registryOf(env, tenant).tenantReports(tenant)
}

/** Every registry object's totals, summed (DEPTH_REGISTRY_SHARDS calls, in parallel). */
export async function platformDepthTotals(env: Env): Promise<DepthTotals> {
  const parts = await Promise.all(
    Array.from({ length: DEPTH_REGISTRY_SHARDS }, (_, shard) => depthRegistry(env, shard).totals()),
  )
  const sum: DepthTotals = {
    queues: 0,
    visible: 0,
    inFlight: 0,
    delayed: 0,
    moving: 0,
    oldestSentAt: null,
    deadLettered: 0,
    dropped: 0,
  }
  for (const p of parts) {
    sum.queues += p.queues
    sum.dropped += p.dropped
    addCounts(sum, p)
  }
  return sum
}

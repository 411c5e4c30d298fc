/**
 * `DatabaseReplicator`: the database's replicator (replicator.ts: log shipping to the read
 * replicas) with failover (rules and guarantees in failover.ts): it holds the epoch, routes
 * and acknowledges writes under it (acknowledgements and promotions run one at a time),
 * probes the primary from its alarm and promotes a synchronous replica (promotion.ts).
 * Cost: a `SELECT 1` on the primary per alarm with failover on; see failover.ts per write.
 */
import { AppError } from '../platform/errors'
import { captureSchema } from './capture'
import type { ReplicaConfig } from './catalog'
import { POSITION_SQL } from './changelog'
import { FAILURES_TO_FAIL_OVER, HEALTH_INTERVAL_MS, pickCandidate, primaryStatements } from './failover'
import { depose, discard, promote, publish, replicaPosition, seedReplica } from './promotion'
import { type ReplicaRow, ReplicationHost, type Route } from './replicator'

declare global {
  namespace Cloudflare {
    interface Env {
      DATABASE_REPLICATORS: DurableObjectNamespace<DatabaseReplicator>
    }
  }
}

export class DatabaseReplicator extends ReplicationHost {
  override async alarm(): Promise<void> {
    const failover = this.failoverOn()
    if (failover) await this.exclusive(() => this.checkHealth())
    try {
      await this.sync()
    } catch (error) {
      // Without failover an unreachable primary is retried by the alarm; with it, the probes decide.
      if (!failover) throw error
    }
    if (this.failoverOn()) {
      const next = this.clock() + HEALTH_INTERVAL_MS
      const at = await this.ctx.storage.getAlarm()
      if (at === null || at > next) await this.ctx.storage.setAlarm(next)
    }
  }

  private epoch(): number {
    return Number(this.getMeta('epoch') ?? 1)
  }

  private acknowledged(): number {
    return Number(this.getMeta('acked') ?? 0)
  }

  private failoverOn(): boolean {
    return this.replicas().some((replica) => replica.synchronous === 1)
  }

  /** The primary and the epoch writes are routed under (failover.ts). */
  async route(): Promise<Route> {
    const primary = this.primary()
    if (!primary) throw new AppError('unavailable', 'The database has no replicated primary.')
    return { epoch: this.epoch(), primary }
  }

  /** Answers once a synchronous replica applied the log up to `position`; refuses an old epoch. */
  async acknowledge(epoch: number, position: number): Promise<void> {
    const stale = () =>
      new AppError('conflict', `Epoch ${epoch} is over: the database failed over (epoch ${this.epoch()}).`)
    if (epoch !== this.epoch()) throw stale()
    if (position <= this.acknowledged()) return
    await this.exclusive(async () => {
      if (epoch !== this.epoch()) throw stale()
      if (position <= this.acknowledged()) return
      const primary = this.primary()
      if (!primary) throw stale()
      const source = this.client(primary, 'bigint')
      let reached = 0
      for (const replica of this.replicas().filter((r) => r.synchronous === 1)) {
        reached = Math.max(reached, await this.push(replica, source, position))
        if (reached >= position) break
      }
      if (reached < position) {
        throw new AppError(
          'unavailable',
          `No synchronous replica took the changes up to position ${position}: the write is not acknowledged.`,
        )
      }
      this.setMeta('acked', String(position))
    })
  }

  /** Applies the log to `replica` until it reaches `target` or stops advancing; its position. */
  private async push(
    replica: ReplicaRow,
    source: ReturnType<ReplicationHost['client']>,
    target: number,
  ): Promise<number> {
    let row: ReplicaRow | undefined = replica
    while (row && row.position < target) {
      const before = row.position
      await this.catchUp(row, source, this.clock())
      row = this.sql.exec('SELECT * FROM replicas WHERE id = ?', replica.id).toArray()[0] as
        | ReplicaRow
        | undefined
      if (!row || row.error !== null || row.position === before) break
    }
    return row?.position ?? 0
  }

  /** A manual failover (switchover): promotes now, or refuses (409) when it would lose writes. */
  async failover(): Promise<{ epoch: number; node: string; position: number }> {
    return this.exclusive(() => this.switchOver())
  }

  /** Fails over only when the primary does not answer now (a partitioned database's shards, each in turn). */
  async failoverIfLost(): Promise<{ epoch: number; node: string; position: number } | undefined> {
    return this.exclusive(async () => {
      const primary = this.primary()
      if (!primary || !this.failoverOn()) return undefined
      const up = await this.client(primary)
        .execute('SELECT 1')
        .then(
          () => true,
          () => false,
        )
      return up ? undefined : this.switchOver()
    })
  }

  private async checkHealth(): Promise<void> {
    const primary = this.primary()
    if (!primary) return
    const up = await this.client(primary)
      .execute('SELECT 1')
      .then(
        () => true,
        () => false,
      )
    const failures = up ? 0 : Number(this.getMeta('failures') ?? 0) + 1
    this.setMeta('failures', String(failures))
    if (failures >= FAILURES_TO_FAIL_OVER) {
      // Refused (no replica holds every acknowledged write): keep probing.
      await this.switchOver().catch(() => undefined)
    }
    await this.rebuildReturned()
  }

  private deposed(): Array<ReplicaConfig & { synchronous: boolean }> {
    return JSON.parse(this.getMeta('deposed') ?? '[]')
  }

  private async switchOver(): Promise<{ epoch: number; node: string; position: number }> {
    const old = this.primary()
    const database = this.getMeta('database')
    if (!old || !database || !this.failoverOn()) {
      throw new AppError(
        'conflict',
        'Failover needs a synchronous replica (POST …/replicas {"synchronous":true}).',
      )
    }
    const epoch = this.epoch() + 1
    const now = this.clock()
    // A primary that still answers is fenced first, and its whole log handed over.
    const fenced = await depose(this.env, old, epoch)
    if (fenced) {
      const source = this.client(old, 'bigint')
      const last = Number((await source.execute(POSITION_SQL)).rows[0]?.position ?? 0)
      for (const replica of this.replicas().filter((r) => r.delay_ms === 0)) {
        await this.push(replica, source, last)
      }
    }
    const candidates = []
    for (const replica of this.replicas()) {
      const state = await replicaPosition(this.env, replica)
      candidates.push({
        ...replica,
        position: state?.position,
        ready: state?.ready ?? replica.ready,
        delayMs: replica.delay_ms,
      })
    }
    const chosen = pickCandidate(candidates, this.acknowledged())
    if (!chosen || chosen.position === undefined) {
      if (fenced)
        await this.client(old)
          .batch(primaryStatements(this.epoch()), 'write')
          .catch(() => undefined)
      throw new AppError(
        'conflict',
        `No reachable replica holds every acknowledged write (up to position ${this.acknowledged()}): failing over would lose writes.`,
      )
    }
    // From here on no write of the old epoch is acknowledged.
    this.setMeta('epoch', String(epoch))
    const checkpoint = await promote(this.env, chosen, epoch, chosen.position)
    const replicas: Array<ReplicaConfig & { synchronous: boolean; position: number }> = []
    const returning = [
      ...this.deposed(),
      { id: `r-${crypto.randomUUID().slice(0, 8)}`, ...old, delayMs: 0, createdAt: now, synchronous: true },
    ]
    for (const replica of this.replicas().filter((r) => r.id !== chosen.id)) {
      const config = {
        id: replica.id,
        node: replica.node,
        namespace: replica.namespace,
        delayMs: replica.delay_ms,
        createdAt: now,
        synchronous: replica.synchronous === 1,
      }
      try {
        const namespace = await seedReplica(this.env, replica.node, checkpoint.start, checkpoint.end, now)
        await discard(this.env, replica)
        replicas.push({ ...config, namespace, position: checkpoint.start })
      } catch {
        returning.push(config)
      }
    }
    this.ctx.storage.transactionSync(() => {
      this.setMeta('primary', JSON.stringify({ node: chosen.node, namespace: chosen.namespace }))
      this.setMeta('failures', '0')
      this.setMeta('deposed', JSON.stringify(returning))
      this.sql.exec('DELETE FROM replicas')
      for (const r of replicas) this.insertReplica(r, checkpoint.start, checkpoint.end)
    })
    this.samples.clear()
    const { tenant, name, shard } = JSON.parse(database) as { tenant: string; name: string; shard?: number }
    await publish(this.env, tenant, name, { node: chosen.node, namespace: chosen.namespace }, replicas, shard)
    await this.ctx.storage.setAlarm(now)
    return { epoch, node: chosen.node, position: chosen.position }
  }

  /** Copies left behind by a failover that answer again: fenced, dropped, rebuilt as replicas. */
  private async rebuildReturned(): Promise<void> {
    const list = this.deposed()
    const primary = this.primary()
    const database = this.getMeta('database')
    if (list.length === 0 || !primary || !database) return
    const remaining = []
    let changed = false
    for (const copy of list) {
      if (!(await depose(this.env, copy, this.epoch()))) {
        remaining.push(copy)
        continue
      }
      await discard(this.env, copy)
      await depose(this.env, copy, this.epoch())
      const checkpoint = await captureSchema(this.client(primary), 'checkpoint')
      const now = this.clock()
      const namespace = await seedReplica(this.env, copy.node, checkpoint.start, checkpoint.end, now)
      this.insertReplica({ ...copy, namespace }, checkpoint.start, checkpoint.end)
      changed = true
    }
    this.setMeta('deposed', JSON.stringify(remaining))
    if (!changed) return
    const { tenant, name, shard } = JSON.parse(database) as { tenant: string; name: string; shard?: number }
    const replicas = this.replicas().map((r) => ({
      id: r.id,
      node: r.node,
      namespace: r.namespace,
      delayMs: r.delay_ms,
      createdAt: this.clock(),
      synchronous: r.synchronous === 1,
    }))
    await publish(this.env, tenant, name, primary, replicas, shard)
  }
}

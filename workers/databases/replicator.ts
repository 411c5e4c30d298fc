/**
 * `DatabaseReplicator`: one per database (`<tenant>:database-replicator:<name>`). It pulls the
 * primary's change log (changelog.ts) in `seq` order and applies it to each read replica in
 * batches of up to `BATCH` changes, each batch one transaction on the replica together with
 * the replica's new position, opened by a guard that rolls the batch back unless the replica
 * is exactly where the replicator expects: a replica holds a prefix of the log, never a change
 * twice, and converges to the primary's rows. A deliberately delayed replica takes only
 * changes older than its delay.
 *
 * It runs from its one alarm: `notify` (after every write through the platform) arms it
 * now; a run re-arms itself while a replica is behind, and retries a failing replica with
 * full-jitter backoff (1 s to 60 s). Every run also compares the primary's schema version
 * and captures schema changes (capture.ts), then prunes the log below every replica's
 * position.
 *
 * Cost per change: one log row read from the primary and one statement on each replica.
 */
import { backoffDelayMs } from '../platform/delivery'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import { captureSchema } from './capture'
import { namespaceClient, nodeById, type ReplicaConfig } from './catalog'
import {
  advanceStatement,
  applyStatements,
  CHANGES_TABLE,
  type Change,
  guardStatement,
  POSITION_SQL,
  REPLICA_TABLE,
} from './changelog'
import { FAILURES_TO_FAIL_OVER, HEALTH_INTERVAL_MS, pickCandidate, primaryStatements } from './failover'
import { depose, discard, promote, publish, replicaPosition, seedReplica } from './promotion'

declare global {
  namespace Cloudflare {
    interface Env {
      DATABASE_REPLICATORS: DurableObjectNamespace<DatabaseReplicator>
    }
  }
}

export function replicatorStub(env: Env, tenant: string, database: string) {
  return objectStub(env.DATABASE_REPLICATORS, tenant, 'database-replicator', database)
}

export interface Location {
  node: string
  namespace: string
}

export interface ReplicaStatus {
  id: string
  position: number
  ready: number
  primaryPosition: number
  lagChanges: number
  lagMs: number
  /** Commit-to-apply delay of the replica's recent changes (up to the last `SAMPLES`). */
  lagP50Ms: number | null
  lagP99Ms: number | null
  error: string | null
}

const BATCH = 200
const BATCHES_PER_RUN = 20
const SAMPLES = 2_000
const BACKOFF = { baseMs: 1_000, capMs: 60_000 }

interface ReplicaRow {
  id: string
  node: string
  namespace: string
  delay_ms: number
  position: number
  ready: number
  error: string | null
  attempts: number
  retry_at: number
  synchronous: number
}

/** Where writes go and under which epoch (failover.ts). */
export interface Route {
  epoch: number
  primary: Location
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? null
}

export class DatabaseReplicator extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private running: Promise<void> | undefined
  private dirty = false
  private readonly samples = new Map<string, number[]>()
  clock: () => number = () => Date.now()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
      this.sql.exec(`CREATE TABLE IF NOT EXISTS replicas (
        id TEXT PRIMARY KEY, node TEXT NOT NULL, namespace TEXT NOT NULL, delay_ms INTEGER NOT NULL,
        position INTEGER NOT NULL, ready INTEGER NOT NULL, error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, retry_at INTEGER NOT NULL DEFAULT 0)`)
      const columns = this.sql.exec("SELECT name FROM pragma_table_info('replicas')").toArray()
      if (!columns.some((column) => column.name === 'synchronous')) {
        this.sql.exec('ALTER TABLE replicas ADD COLUMN synchronous INTEGER NOT NULL DEFAULT 0')
      }
    })
  }

  private primary(): Location | undefined {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = 'primary'").toArray()[0]
    return row ? (JSON.parse(String(row.value)) as Location) : undefined
  }

  private replicas(): ReplicaRow[] {
    return this.sql.exec('SELECT * FROM replicas ORDER BY id').toArray() as unknown as ReplicaRow[]
  }

  private client(location: Location, intMode: 'number' | 'bigint' = 'number') {
    return namespaceClient(nodeById(this.env, location.node), location.namespace, intMode)
  }

  /** Starts replicating `replica` (filled up to `start`, readable from `ready`) from `primary`. */
  async attach(
    primary: Location,
    replica: Location & { id: string; delayMs: number; synchronous?: boolean },
    start: number,
    ready: number,
    database?: { tenant: string; name: string },
  ): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      const known = this.primary()
      if (known && (known.node !== primary.node || known.namespace !== primary.namespace)) {
        this.sql.exec('DELETE FROM replicas')
        this.sql.exec('DELETE FROM meta')
      }
      this.sql.exec(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('primary', ?)",
        JSON.stringify({ node: primary.node, namespace: primary.namespace }),
      )
      if (database) this.setMeta('database', JSON.stringify(database))
      this.sql.exec(
        'INSERT OR REPLACE INTO replicas (id, node, namespace, delay_ms, position, ready, synchronous) VALUES (?, ?, ?, ?, ?, ?, ?)',
        replica.id,
        replica.node,
        replica.namespace,
        replica.delayMs,
        start,
        ready,
        replica.synchronous ? 1 : 0,
      )
    })
    await this.notify()
  }

  async detach(id: string): Promise<void> {
    this.sql.exec('DELETE FROM replicas WHERE id = ?', id)
    this.samples.delete(id)
  }

  async reset(): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM replicas')
      this.sql.exec('DELETE FROM meta')
    })
    this.samples.clear()
    await this.ctx.storage.deleteAlarm()
  }

  /** A write happened on the primary: run soon. */
  async notify(): Promise<void> {
    if (this.running) {
      this.dirty = true
      return
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(this.clock())
  }

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

  /** One replication run that starts after the call (the alarm's work; tests and benchmarks call it too). */
  async sync(): Promise<void> {
    // A run already under way may have read the log before the caller's writes: wait, then run.
    while (this.running) await this.running.catch(() => undefined)
    this.running = this.exclusive(() => this.run()).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async run(): Promise<void> {
    this.dirty = false
    const primary = this.primary()
    if (!primary) return
    const now = this.clock()
    const source = this.client(primary, 'bigint')
    const version = await source.execute('PRAGMA schema_version')
    const schemaVersion = String(version.rows[0]?.[0] ?? '')
    if (this.sql.exec("SELECT value FROM meta WHERE key = 'schema'").toArray()[0]?.value !== schemaVersion) {
      await captureSchema(this.client(primary), 'check')
      const after = await source.execute('PRAGMA schema_version')
      this.sql.exec(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
        String(after.rows[0]?.[0] ?? ''),
      )
    }
    let next: number | undefined
    for (const replica of this.replicas()) {
      if (replica.retry_at > now) {
        next = Math.min(next ?? replica.retry_at, replica.retry_at)
        continue
      }
      const due = await this.catchUp(replica, source, now)
      if (due !== undefined) next = Math.min(next ?? due, due)
    }
    const floor = this.sql.exec('SELECT min(position) AS p FROM replicas').one().p
    if (typeof floor === 'number') {
      await source.execute({ sql: `DELETE FROM ${CHANGES_TABLE} WHERE seq <= ?`, args: [floor] })
    }
    if (this.dirty) next = now
    if (next === undefined) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(next)
  }

  /** Applies what `replica` may take now; returns when it should run again (undefined: idle). */
  private async catchUp(
    replica: ReplicaRow,
    source: ReturnType<DatabaseReplicator['client']>,
    now: number,
  ): Promise<number | undefined> {
    const target = this.client(replica)
    let position = replica.position
    try {
      for (let round = 0; round < BATCHES_PER_RUN; round++) {
        const pulled = await source.execute({
          sql: `SELECT seq, tbl, op, rid, old_rid, row, at FROM ${CHANGES_TABLE} WHERE seq > ? ORDER BY seq LIMIT ?`,
          args: [position, BATCH],
        })
        const changes = pulled.rows.map((row) => ({
          seq: Number(row.seq),
          tbl: row.tbl === null ? null : String(row.tbl),
          op: String(row.op),
          rid: row.rid as bigint | null,
          old_rid: row.old_rid as bigint | null,
          row: row.row === null ? null : String(row.row),
          at: Number(row.at),
        }))
        // A delayed replica stops at the first change that is still too young.
        // (The copy a replica starts from, up to `ready`, is not delayed.)
        const cut =
          replica.delay_ms > 0
            ? changes.findIndex((change) => change.seq > replica.ready && change.at > now - replica.delay_ms)
            : -1
        const apply = cut < 0 ? changes : changes.slice(0, cut)
        if (apply.length === 0) {
          this.succeeded(replica.id, position)
          const young = changes[0]
          return young ? young.at + replica.delay_ms : undefined
        }
        const last = apply.at(-1) as Change & { at: number }
        await target.batch(
          [
            // A reader's connection left read-only (an aborted request) would refuse the batch.
            'PRAGMA query_only = 0',
            guardStatement(position),
            ...apply.flatMap(applyStatements),
            advanceStatement(last.seq, now),
          ],
          'write',
        )
        position = last.seq
        for (const change of apply) {
          if (change.op === 'S' && change.rid !== null) {
            this.sql.exec(
              'UPDATE replicas SET ready = max(ready, ?) WHERE id = ?',
              Number(change.rid),
              replica.id,
            )
          }
        }
        this.record(
          replica.id,
          apply.map((change) => now - change.at),
        )
        this.succeeded(replica.id, position)
        if (apply.length < changes.length) return (changes[apply.length]?.at ?? now) + replica.delay_ms
        if (changes.length < BATCH) return undefined
      }
      return now
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      if (/CHECK constraint/i.test(message)) {
        // Someone else moved the replica: continue from where it really is.
        const actual = await target.execute(`SELECT position FROM ${REPLICA_TABLE} WHERE id = 1`)
        this.succeeded(replica.id, Number(actual.rows[0]?.position ?? position))
        return now
      }
      const attempts = replica.attempts + 1
      const retryAt = now + Math.max(BACKOFF.baseMs, backoffDelayMs(attempts, Math.random(), BACKOFF))
      this.sql.exec(
        'UPDATE replicas SET position = ?, error = ?, attempts = ?, retry_at = ? WHERE id = ?',
        position,
        message.slice(0, 500),
        attempts,
        retryAt,
        replica.id,
      )
      return retryAt
    }
  }

  private succeeded(id: string, position: number): void {
    this.sql.exec(
      'UPDATE replicas SET position = ?, error = NULL, attempts = 0, retry_at = 0 WHERE id = ?',
      position,
      id,
    )
  }

  private record(id: string, lags: number[]): void {
    const list = this.samples.get(id) ?? []
    list.push(...lags)
    if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES)
    this.samples.set(id, list)
  }

  private getMeta(key: string): string | undefined {
    const row = this.sql.exec('SELECT value FROM meta WHERE key = ?', key).toArray()[0]
    return row ? String(row.value) : undefined
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value)
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

  private lock: Promise<unknown> = Promise.resolve()

  /** Runs `work` alone: replication runs, acknowledgements and promotions never interleave. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lock.then(work, work)
    this.lock = result.catch(() => undefined)
    return result
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
    source: ReturnType<DatabaseReplicator['client']>,
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
    const { tenant, name } = JSON.parse(database) as { tenant: string; name: string }
    await publish(this.env, tenant, name, { node: chosen.node, namespace: chosen.namespace }, replicas)
    await this.ctx.storage.setAlarm(now)
    return { epoch, node: chosen.node, position: chosen.position }
  }

  private insertReplica(r: ReplicaConfig & { synchronous: boolean }, start: number, ready: number): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO replicas (id, node, namespace, delay_ms, position, ready, synchronous) VALUES (?, ?, ?, ?, ?, ?, ?)',
      r.id,
      r.node,
      r.namespace,
      r.delayMs,
      start,
      ready,
      r.synchronous ? 1 : 0,
    )
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
    const { tenant, name } = JSON.parse(database) as { tenant: string; name: string }
    const replicas = this.replicas().map((r) => ({
      id: r.id,
      node: r.node,
      namespace: r.namespace,
      delayMs: r.delay_ms,
      createdAt: this.clock(),
      synchronous: r.synchronous === 1,
    }))
    await publish(this.env, tenant, name, primary, replicas)
  }

  /** Every replica's position and lag against the primary's current position. */
  async status(): Promise<ReplicaStatus[]> {
    const primary = this.primary()
    if (!primary) return []
    const source = this.client(primary)
    const [positionResult] = await source.batch([POSITION_SQL], 'read')
    const primaryPosition = Number(positionResult?.rows[0]?.position ?? 0)
    const now = this.clock()
    const statuses: ReplicaStatus[] = []
    for (const replica of this.replicas()) {
      const oldest = await source.execute({
        sql: `SELECT at FROM ${CHANGES_TABLE} WHERE seq > ? ORDER BY seq LIMIT 1`,
        args: [replica.position],
      })
      const at = oldest.rows[0]?.at
      const sorted = [...(this.samples.get(replica.id) ?? [])].sort((a, b) => a - b)
      statuses.push({
        id: replica.id,
        position: replica.position,
        ready: replica.ready,
        primaryPosition,
        lagChanges: Math.max(0, primaryPosition - replica.position),
        lagMs: at === undefined || at === null ? 0 : Math.max(0, now - Number(at)),
        lagP50Ms: percentile(sorted, 0.5),
        lagP99Ms: percentile(sorted, 0.99),
        error: replica.error,
      })
    }
    return statuses
  }
}

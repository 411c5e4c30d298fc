/**
 * `DatabaseReplicator`: one per database (`<tenant>:database-replicator:<name>`), and one per
 * shard of a partitioned database (`…:<name>#<shard>`: each shard its own replication group). It pulls the
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

/**
 * The replicator of a database, or of one shard of a partitioned database (`<name>#<shard>`);
 * its binding is declared with its class in failover-host.ts.
 */
export function replicatorStub(env: Env, tenant: string, database: string, shard?: number) {
  return objectStub(env.DATABASE_REPLICATORS, tenant, 'database-replicator', database, shard)
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

export interface ReplicaRow {
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

/** Replication (the asynchronous log shipping); failover-host.ts adds failover (`DatabaseReplicator`). */
export class ReplicationHost extends HostedObject<Env> {
  protected readonly sql: SqlStorage
  private running: Promise<void> | undefined
  private dirty = false
  protected readonly samples = new Map<string, number[]>()
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

  protected primary(): Location | undefined {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = 'primary'").toArray()[0]
    return row ? (JSON.parse(String(row.value)) as Location) : undefined
  }

  protected replicas(): ReplicaRow[] {
    return this.sql.exec('SELECT * FROM replicas ORDER BY id').toArray() as unknown as ReplicaRow[]
  }

  protected client(location: Location, intMode: 'number' | 'bigint' = 'number') {
    return namespaceClient(nodeById(this.env, location.node), location.namespace, intMode)
  }

  /** Starts replicating `replica` (filled up to `start`, readable from `ready`) from `primary`. */
  async attach(
    primary: Location,
    replica: Location & { id: string; delayMs: number; synchronous?: boolean },
    start: number,
    ready: number,
    database?: { tenant: string; name: string; shard?: number },
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
    await this.sync()
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
  protected async catchUp(
    replica: ReplicaRow,
    source: ReturnType<ReplicationHost['client']>,
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

  protected getMeta(key: string): string | undefined {
    const row = this.sql.exec('SELECT value FROM meta WHERE key = ?', key).toArray()[0]
    return row ? String(row.value) : undefined
  }

  protected setMeta(key: string, value: string): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value)
  }

  protected lock: Promise<unknown> = Promise.resolve()

  /** Runs `work` alone: replication runs, acknowledgements and promotions never interleave. */
  protected exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lock.then(work, work)
    this.lock = result.catch(() => undefined)
    return result
  }

  protected insertReplica(r: ReplicaConfig & { synchronous: boolean }, start: number, ready: number): void {
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

/**
 * Reads of a partitioned database from its shards' read replicas, and the database's
 * replication position (a vector: one log position per shard, routing.ts).
 *
 * The single-database rules (routing.ts), applied shard by shard: a request opts in
 * (`?replica=nearest`, a replica id, or the `Edgeblocks-Replica` header) and carries no baton;
 * then each statement the router sends to one shard (a pinned statement, or one shard's part
 * of a scatter-gather read) outside a transaction is tried on a ready replica of that shard,
 * with the engine refusing writes (`PRAGMA query_only`), and its answer is used only when
 * that replica has applied that shard's log up to the token's component for the shard (else
 * the shard's primary answers, without waiting). So a read carrying the token of a write
 * sees it, whichever shard the write went to, and a read without a token may see each shard
 * as old as its replica's lag. Every pipeline on a shard primary gets a position probe; the
 * answer's token is the component-wise maximum of the request's token and the positions
 * seen, so a client that sends back the last token it got never sees time go backwards.
 *
 * With failover (a synchronous replica), a shard's writes are acknowledged as a database's
 * are (failover.ts), under that shard's epoch, before the answer.
 *
 * Cost: as routing.ts, per shard touched; a statement a replica cannot serve (a write) costs
 * the replica round trip on top of the primary's.
 */
import { captureSchema, readPosition } from './capture'
import { backendClient, type Database } from './catalog'
import type { NodeResult } from './partitions/session'
import {
  encodeShardPositions,
  type HranaRequest,
  mayChangeSchema,
  pickReplica,
  readFromReplica,
  takeProbe,
  withPositionProbe,
} from './routing'
import type { ShardFence } from './shard-replicas'

export interface ShardReadOptions {
  /** The replica the client asked for (`nearest` or an id), if any. */
  replica?: string | undefined
  /** The per-shard positions the request carries. */
  positions?: number[] | undefined
  /** Whether replicas may answer at all (a pipeline without a baton). */
  allowReplicas: boolean
  /** Shards with failover: their epoch and the acknowledgement of their writes (shard-replicas.ts). */
  fences?: Record<number, ShardFence> | undefined
}

/** A write a shard's synchronous replicas did not take (failover.ts). */
export class NotAcknowledged extends Error {}

export class ShardReads {
  private readonly seen: number[] = []
  private readonly servers = new Set<string>()
  /** Shards whose primary ran part of the request. */
  readonly touched = new Set<number>()

  constructor(
    private readonly shards: Database[],
    private readonly options: ShardReadOptions,
  ) {}

  get replicated(): boolean {
    return this.shards.some((shard) => shard.replicas.length > 0)
  }

  private observe(shard: number, position: number): void {
    this.seen[shard] = Math.max(this.seen[shard] ?? 0, position)
  }

  /** A replica's answer for `shard`, or undefined when the shard's primary must answer. */
  async fromReplica(
    shard: number,
    baton: string | null,
    requests: unknown[],
    inTransaction: boolean,
  ): Promise<{ baton: null; results: NodeResult[] } | undefined> {
    const wanted = this.options.replica
    const replicas = this.shards[shard]?.replicas ?? []
    if (!this.options.allowReplicas || wanted === undefined || baton !== null || inTransaction)
      return undefined
    const replica = replicas.length ? pickReplica(replicas, wanted) : undefined
    if (!replica) return undefined
    const list = requests as HranaRequest[]
    const closed = list.at(-1)?.type === 'close'
    const served = await readFromReplica(
      replica,
      3,
      closed ? list : [...list, { type: 'close' }],
      this.options.positions?.[shard] ?? 0,
    )
    if (!served) return undefined
    this.observe(shard, served.position)
    this.servers.add(`replica:${replica.id}`)
    const results = served.results as NodeResult[]
    return { baton: null, results: closed ? results : results.slice(0, -1) }
  }

  /** The requests for `shard`'s primary, with a position probe when the database is replicated. */
  forPrimary(shard: number, requests: unknown[]) {
    // Closing a stream runs nothing to acknowledge (an open transaction rolls back).
    if ((requests as HranaRequest[]).every((request) => request.type === 'close'))
      return { requests, take: (_results: unknown[]) => undefined }
    this.touched.add(shard)
    this.servers.add('primary')
    const probe = this.replicated ? withPositionProbe(requests as HranaRequest[], 2) : undefined
    return {
      requests: probe?.requests ?? requests,
      /** Takes the probe's result out of the primary's answer. */
      take: (results: unknown[]) => {
        if (!probe) return
        const { position } = takeProbe(results, probe)
        if (position !== undefined) this.observe(shard, position)
      },
    }
  }

  /**
   * After the pipeline: schema changes captured at once on the shards (unless a transaction
   * is open), so the token covers their rows; the token, or undefined when not replicated.
   */
  async finish(requests: HranaRequest[], autocommit: boolean, version: number): Promise<string | undefined> {
    if (!this.replicated) return undefined
    if (autocommit && mayChangeSchema(requests)) {
      await Promise.all(
        [...this.touched].map(async (shard) => {
          const client = backendClient(this.shards[shard] as Database)
          await captureSchema(client, 'check').catch(() => undefined)
          this.observe(shard, await readPosition(client))
        }),
      )
    }
    if (autocommit) {
      // Each shard with failover answers only once a synchronous replica of it has the changes.
      for (const shard of this.touched) {
        const fence = this.options.fences?.[shard]
        if (!fence) continue
        const position =
          this.seen[shard] ?? (await readPosition(backendClient(this.shards[shard] as Database)))
        await fence.acknowledge(position).catch((error: unknown) => {
          const message = error instanceof Error ? error.message : String(error)
          throw new NotAcknowledged(`Shard ${shard}: ${message}`)
        })
      }
    }
    const carried = this.options.positions ?? []
    const positions = this.shards.map((_, i) => {
      const asked = carried[i] ?? 0
      return Math.max(Number.isFinite(asked) ? asked : 0, this.seen[i] ?? 0)
    })
    return encodeShardPositions(version, positions)
  }

  /** The epochs of the shards with failover this request wrote under (`<shard>:<epoch>`, comma-separated). */
  epochs(): string | undefined {
    const fences = Object.entries(this.options.fences ?? {}).filter(([shard]) =>
      this.touched.has(Number(shard)),
    )
    return fences.length ? fences.map(([shard, fence]) => `${shard}:${fence.epoch}`).join(',') : undefined
  }

  /** Who answered: `primary`, `replica:<id>`, or several of them (comma-separated). */
  servedBy(): string {
    return this.servers.size ? [...this.servers].sort().join(', ') : 'primary'
  }
}

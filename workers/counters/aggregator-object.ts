/**
 * CounterAggregator: one per counter name, named `<tenant>:counter:<name>` (no shard suffix).
 *
 * - Issues the counter's incarnation numbers (kept across deletes, so they only grow).
 * - Keeps each shard's last reported state and answers eventual reads from their sum; when
 *   that sum is older than MAX_AGE_MS it re-sums every shard first (one re-sum at a time).
 * - Serves the live stream: WebSockets accepted with the hibernation API get the total on
 *   connect and after changes, at most one message per BROADCAST_INTERVAL_MS (its alarm).
 */
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import {
  type Aggregate,
  ageMs,
  aggregate,
  BROADCAST_INTERVAL_MS,
  coalescedDueAt,
  mergeRecord,
  needsResum,
  type ShardRecord,
  totalChanged,
} from './aggregation'
import { admitIncarnation, toJsonInteger } from './counter'
import type { ShardState } from './shard-object'
import { type CounterIdentity, Identity, Meta, Timers } from './storage'

declare global {
  namespace Cloudflare {
    interface Env {
      COUNTER_AGGREGATORS: DurableObjectNamespace<CounterAggregator>
    }
  }
}

export interface EventualTotal {
  value: bigint
  members: number
  /** Every increment acknowledged more than this many ms ago is included; at most MAX_AGE_MS. */
  ageMs: number
  shards: number
}

const SCHEMA_VERSION = 1
/** Re-sums one read may need when shards are added while it runs. */
const MAX_RESUMS_PER_READ = 3

export class CounterAggregator extends HostedObject<Env> {
  private readonly sql = this.ctx.storage.sql
  private readonly meta = new Meta(this.sql)
  private readonly timers = new Timers(this.sql, this.meta)
  private readonly identity = new Identity(this.sql)
  private resumInFlight: Promise<void> | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => this.createTables())
  }

  private createTables(): void {
    this.meta.createTable()
    this.timers.createTable()
    this.identity.createTable()
    this.sql.exec(`CREATE TABLE IF NOT EXISTS shard_records (
      shard INTEGER PRIMARY KEY,
      version INTEGER NOT NULL,
      value TEXT NOT NULL,
      members INTEGER NOT NULL,
      known_at INTEGER NOT NULL
    )`)
    this.meta.set('schema_version', SCHEMA_VERSION)
  }

  /** A new incarnation number for this counter name, larger than every one issued before. */
  async issueIncarnation(): Promise<number> {
    return this.ctx.storage.transactionSync(() => {
      const next = (this.meta.getNumber('last_issued') ?? this.identity.read()?.incarnation ?? 0) + 1
      this.meta.set('last_issued', next)
      return next
    })
  }

  /** Records that the counter has (at least) `shards` shards; called before the registry says so. */
  async grow(identity: CounterIdentity, shards: number): Promise<void> {
    this.ctx.storage.transactionSync(() => this.admit(identity, shards))
  }

  /**
   * The eventual total: from the shards' records when they are at most MAX_AGE_MS old when the
   * read arrives, else from a re-sum of every shard (then it includes every increment
   * acknowledged before the re-sum began).
   */
  async read(identity: CounterIdentity, shards: number): Promise<EventualTotal> {
    const arrivedAt = Date.now()
    this.ctx.storage.transactionSync(() => this.admit(identity, shards))
    let total = this.currentAggregate()
    for (let resums = 0; needsResum(total.asOf, arrivedAt); resums++) {
      if (resums === MAX_RESUMS_PER_READ) {
        throw new AppError('unavailable', 'The counter kept changing shape; try again.')
      }
      await this.resum(identity)
      total = this.currentAggregate()
    }
    return {
      value: total.value,
      members: total.members,
      ageMs: ageMs(total.asOf, Date.now()),
      shards: total.shards,
    }
  }

  /** A shard's pushed state. False when the shard serves a deleted or replaced counter. */
  async report(identity: CounterIdentity, state: ShardState): Promise<boolean> {
    let alarmAt: number | undefined
    const accepted = this.ctx.storage.transactionSync(() => {
      const decision = admitIncarnation(this.identity.read(), identity.incarnation)
      if (decision === 'stale' || decision === 'retired') return false
      this.admit(identity, state.shard + 1)
      this.writeRecord(mergeRecord(this.readRecords().get(state.shard), state))
      alarmAt = this.scheduleBroadcast(Date.now())
      return true
    })
    if (alarmAt !== undefined) await this.ctx.storage.setAlarm(alarmAt)
    return accepted
  }

  /**
   * Deletes the counter's aggregate, closes its live streams and refuses its incarnation from
   * now on. Returns the number of shards it was told of (growth tells it first).
   */
  async retire(identity: CounterIdentity): Promise<number> {
    const shards = this.ctx.storage.transactionSync(() => {
      const known = this.meta.getNumber('shards') ?? 0
      this.identity.retire(identity, () => this.forget())
      return known
    })
    for (const socket of this.ctx.getWebSockets()) socket.close(1000, 'The counter was deleted.')
    return shards
  }

  /** The live stream: a WebSocket upgrade prepared by the Worker route (never a user URL). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const identity: CounterIdentity = {
      tenant: url.searchParams.get('tenant') ?? '',
      name: url.searchParams.get('name') ?? '',
      incarnation: Number(url.searchParams.get('incarnation')),
    }
    const total = await this.read(identity, Number(url.searchParams.get('shards')))
    const pair = new WebSocketPair()
    this.ctx.acceptWebSocket(pair[1])
    pair[1].send(liveMessage(identity.name, total, Date.now()))
    return new Response(null, { status: 101, webSocket: pair[0] })
  }

  override async alarm(): Promise<void> {
    const now = Date.now()
    const due = this.ctx.storage.transactionSync(() => this.timers.takeDue(now))
    if (due.has('broadcast')) this.broadcast(now)
    const next = this.ctx.storage.transactionSync(() => this.timers.rearm())
    if (next !== undefined) await this.ctx.storage.setAlarm(next)
  }

  override async webSocketMessage(): Promise<void> {
    // The stream is one-way; anything a client sends is ignored.
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, reason)
    } catch {
      // Already closed.
    }
  }

  private admit(identity: CounterIdentity, shards: number): void {
    this.identity.admit(identity, () => this.forget())
    if (shards > (this.meta.getNumber('shards') ?? 0)) this.meta.set('shards', shards)
  }

  private forget(): void {
    this.sql.exec('DELETE FROM shard_records')
    this.timers.clear()
    for (const key of ['shards', 'last_broadcast_at', 'last_broadcast_value', 'last_broadcast_members']) {
      this.meta.delete(key)
    }
  }

  private currentAggregate(): Aggregate & { shards: number } {
    const shards = this.meta.getNumber('shards') ?? 0
    return { ...aggregate(this.readRecords(), shards), shards }
  }

  /** One re-sum at a time: concurrent readers share the one in flight. */
  private resum(identity: CounterIdentity): Promise<void> {
    this.resumInFlight ??= this.sumShards(identity).finally(() => {
      this.resumInFlight = undefined
    })
    return this.resumInFlight
  }

  private async sumShards(identity: CounterIdentity): Promise<void> {
    const startedAt = Date.now()
    const shards = this.meta.getNumber('shards') ?? 0
    const states = await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        objectStub(this.env.COUNTER_SHARDS, identity.tenant, 'counter', identity.name, shard).snapshot({
          ...identity,
          shard,
        }),
      ),
    )
    let alarmAt: number | undefined
    this.ctx.storage.transactionSync(() => {
      if (!this.identity.admitRead(identity)) return
      const records = this.readRecords()
      for (const state of states) {
        this.writeRecord(mergeRecord(records.get(state.shard), { ...state, knownAt: startedAt }))
      }
      alarmAt = this.scheduleBroadcast(Date.now())
    })
    if (alarmAt !== undefined) await this.ctx.storage.setAlarm(alarmAt)
  }

  private scheduleBroadcast(now: number): number | undefined {
    if (this.ctx.getWebSockets().length === 0 || this.timers.has('broadcast')) return undefined
    const lastAt = this.meta.getNumber('last_broadcast_at')
    return this.timers.schedule('broadcast', coalescedDueAt(lastAt, now, BROADCAST_INTERVAL_MS))
  }

  /** Sends the total to every live stream if it changed since the last broadcast. */
  private broadcast(now: number): void {
    const message = this.ctx.storage.transactionSync(() => {
      const identity = this.identity.read()
      if (!identity || identity.retired) return undefined
      const total = this.currentAggregate()
      const lastValue = this.meta.get('last_broadcast_value')
      const last =
        lastValue === undefined
          ? undefined
          : { value: BigInt(lastValue), members: this.meta.getNumber('last_broadcast_members') ?? 0 }
      if (!totalChanged(last, total)) return undefined
      this.meta.set('last_broadcast_at', now)
      this.meta.set('last_broadcast_value', total.value.toString())
      this.meta.set('last_broadcast_members', total.members)
      return liveMessage(identity.name, total, now)
    })
    if (message === undefined) return
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(message)
      } catch {
        // A socket closing right now; its close handler cleans up.
      }
    }
  }

  private readRecords(): Map<number, ShardRecord> {
    const rows = this.sql
      .exec<{ shard: number; version: number; value: string; members: number; known_at: number }>(
        'SELECT shard, version, value, members, known_at FROM shard_records',
      )
      .toArray()
    return new Map(
      rows.map((row) => [
        row.shard,
        {
          shard: row.shard,
          version: row.version,
          value: BigInt(row.value),
          members: row.members,
          knownAt: row.known_at,
        },
      ]),
    )
  }

  private writeRecord(record: ShardRecord): void {
    this.sql.exec(
      `INSERT INTO shard_records (shard, version, value, members, known_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (shard) DO UPDATE SET version = excluded.version, value = excluded.value,
         members = excluded.members, known_at = excluded.known_at`,
      record.shard,
      record.version,
      record.value.toString(),
      record.members,
      record.knownAt,
    )
  }
}

/** One live-stream message (schemas/counters.ts `LiveTotal`). */
function liveMessage(name: string, total: { value: bigint; members: number }, at: number): string {
  return JSON.stringify({
    type: 'total',
    name,
    value: toJsonInteger(total.value),
    members: total.members,
    at,
  })
}

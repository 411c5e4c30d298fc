/**
 * `SequencerObject`: one per tenant and generator name (`<tenant>:sequencer:<name>`), or
 * per tenant and clock name (`<tenant>:sequencer-clock:<name>`). A thin host over the logic
 * files: it keeps each generator's and clock's last state in `ctx.storage.sql` and
 * computes every batch inside one synchronous transaction that reads the state, issues,
 * and writes the new state (no await in between), so concurrent requests are serial and
 * a fresh instance over the same storage continues above the last ID.
 *
 * The object reads `Date.now()` once per batch; inside a Durable Object it only advances
 * after I/O, and the logic never needs it to (it advances logically instead).
 *
 * - snowflake: the generator ID is leased from the tenant's `GeneratorIdRegistry`, stored
 *   here and renewed once half of the lease has passed; a batch stays inside the lease's
 *   window of timestamps (see `issueUnderLease`).
 * - uuidv7, ulid: the generator's last (timestamp, counter) is persisted after each batch.
 * - range: blocks are leased from the libSQL counter row (range-store.ts) one lease at a
 *   time, so they arrive in increasing order, sized to the waiting demand (at least
 *   RANGE_BLOCK_SIZE), and handed out from memory; an evicted or crashed instance skips
 *   the rest of its block.
 * - Lamport and hybrid logical clocks: the last timestamp is persisted per clock.
 */
import type { GeneratorKind, GeneratorState, IssuedIds } from '../../schemas/sequencer'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import {
  HLC_ZERO,
  HlcDriftError,
  type HlcTimestamp,
  hlcReceive,
  hlcTick,
  lamportReceive,
  lamportTick,
} from './clocks'
import { GENERATOR_LEASE_MS, type LeaseRow, shouldRenew } from './leases'
import { leaseRangeBlock } from './range-store'
import { leaseSizeFor, RangeAllocator } from './ranges'
import {
  HLC_MAX_DRIFT_MS,
  RANGE_BLOCK_SIZE,
  registryStub,
  type SequencerRef,
  snowflakeEpochMs,
} from './settings'
import {
  composeSnowflake,
  issueUnderLease,
  type LeasedSnowflakeState,
  LeaseWindowExceeded,
} from './snowflake'
import { UlidGenerator, type UlidState } from './ulid'
import { type RandomBytes, UuidV7Generator, type UuidV7State } from './uuidv7'

const SCHEMA_VERSION = 1

interface StoredState {
  snowflake: LeasedSnowflakeState
  snowflakeLease: LeaseRow
  uuidv7: UuidV7State
  ulid: UlidState
  lamport: number
  hlc: HlcTimestamp
}

const randomBytes: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length))

declare global {
  namespace Cloudflare {
    interface Env {
      /** One object per tenant and generator or clock name. */
      SEQUENCER: DurableObjectNamespace<SequencerObject>
    }
  }
}

export class SequencerObject extends HostedObject<Env> {
  readonly #ranges = new RangeAllocator()
  #rangeLease: Promise<void> | undefined
  /** Numbers asked for by the range requests now waiting or being served. */
  #rangeDemand = 0
  #snowflakeLease: Promise<LeaseRow> | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS sequencer_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
      )
      this.#write('schema_version', SCHEMA_VERSION)
    })
  }

  #read<K extends keyof StoredState>(key: K): StoredState[K] | undefined {
    const rows = this.ctx.storage.sql
      .exec<{ value: string }>('SELECT value FROM sequencer_state WHERE key = ?', key)
      .toArray()
    return rows[0] ? (JSON.parse(rows[0].value) as StoredState[K]) : undefined
  }

  #write(key: keyof StoredState | 'schema_version', value: unknown): void {
    this.ctx.storage.sql.exec(
      'INSERT INTO sequencer_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      key,
      JSON.stringify(value),
    )
  }

  /** `count` IDs of `kind`, strictly increasing, none ever issued before by this generator. */
  async issue(ref: SequencerRef, kind: GeneratorKind, count: number): Promise<IssuedIds> {
    switch (kind) {
      case 'snowflake':
        return this.#issueSnowflakes(ref, count)
      case 'uuidv7':
        return {
          kind,
          ids: this.#issueWith('uuidv7', (last) => new UuidV7Generator(randomBytes, last), count),
        }
      case 'ulid':
        return { kind, ids: this.#issueWith('ulid', (last) => new UlidGenerator(randomBytes, last), count) }
      case 'range':
        return { kind, ids: await this.#issueRange(ref, count) }
    }
  }

  #issueWith<K extends 'uuidv7' | 'ulid'>(
    key: K,
    generatorFrom: (last: StoredState[K] | undefined) => {
      take(count: number, nowMs: number): string[]
      last: StoredState[K] | undefined
    },
    count: number,
  ): string[] {
    const nowMs = Date.now()
    return this.ctx.storage.transactionSync(() => {
      const generator = generatorFrom(this.#read(key))
      const ids = generator.take(count, nowMs)
      this.#write(key, generator.last)
      return ids
    })
  }

  async #issueSnowflakes(ref: SequencerRef, count: number): Promise<IssuedIds> {
    const epochMs = snowflakeEpochMs(this.env)
    for (let attempt = 1; ; attempt++) {
      const lease = await this.#snowflakeLeaseFor(ref, attempt > 1)
      const nowMs = Date.now()
      try {
        const ids = this.ctx.storage.transactionSync(() => {
          const issued = issueUnderLease(this.#read('snowflake'), lease, count, nowMs, epochMs)
          this.#write('snowflake', issued.state)
          return issued.ids
        })
        return { kind: 'snowflake', ids: ids.map(String), generatorId: lease.generatorId }
      } catch (error) {
        if (!(error instanceof LeaseWindowExceeded)) throw error
        if (attempt >= 2) {
          throw new AppError('unavailable', 'The generator-ID lease could not cover this batch; retry.', {
            headers: { 'Retry-After': '1' },
          })
        }
      }
    }
  }

  /** The stored lease, renewed first when half of it has passed (or when `renew`). */
  async #snowflakeLeaseFor(ref: SequencerRef, renew: boolean): Promise<LeaseRow> {
    const stored = this.#read('snowflakeLease')
    if (stored && !renew && !shouldRenew(stored, Date.now(), GENERATOR_LEASE_MS)) return stored
    this.#snowflakeLease ??= this.#renewSnowflakeLease(ref).finally(() => {
      this.#snowflakeLease = undefined
    })
    return this.#snowflakeLease
  }

  async #renewSnowflakeLease(ref: SequencerRef): Promise<LeaseRow> {
    const holderTimeMs = Math.max(Date.now(), this.#read('snowflake')?.timestampMs ?? 0)
    const lease = await registryStub(this.env, ref.tenant).acquire(ref.name, holderTimeMs)
    this.#write('snowflakeLease', lease)
    return lease
  }

  /**
   * Hands out from the leased blocks. One lease is in flight at a time (so blocks arrive
   * in increasing order); it covers every request waiting when it starts, at least
   * RANGE_BLOCK_SIZE, so a burst of requests costs one database round trip, not one each.
   */
  async #issueRange(ref: SequencerRef, count: number): Promise<string[]> {
    this.#rangeDemand += count
    try {
      for (;;) {
        const numbers = this.#ranges.take(count)
        if (numbers) return numbers.map(String)
        this.#rangeLease ??= this.#leaseRange(ref)
        await this.#rangeLease
      }
    } finally {
      this.#rangeDemand -= count
    }
  }

  async #leaseRange(ref: SequencerRef): Promise<void> {
    try {
      const size = leaseSizeFor(this.#rangeDemand - this.#ranges.available, RANGE_BLOCK_SIZE)
      this.#ranges.add(await leaseRangeBlock(this.env, ref.tenant, ref.name, size))
    } finally {
      this.#rangeLease = undefined
    }
  }

  /** What the generator has issued so far and what it holds. */
  state(name: string): GeneratorState {
    const snowflake = this.#read('snowflake')
    const lease = this.#read('snowflakeLease')
    return {
      name,
      snowflake: snowflake
        ? {
            epochMs: snowflake.epochMs,
            generatorId: snowflake.generatorId,
            lastId: String(composeSnowflake(snowflake, snowflake.epochMs)),
            lastTimestampMs: snowflake.timestampMs,
            leaseExpiresAtMs: lease?.generatorId === snowflake.generatorId ? lease.expiresAtMs : null,
          }
        : null,
      uuidv7: this.#lastTimestamp('uuidv7'),
      ulid: this.#lastTimestamp('ulid'),
      range: { available: this.#ranges.available, blocks: [...this.#ranges.blocks] },
    }
  }

  #lastTimestamp(key: 'uuidv7' | 'ulid'): { lastTimestampMs: number } | null {
    const last = this.#read(key)
    return last ? { lastTimestampMs: last.timestampMs } : null
  }

  /** A Lamport timestamp greater than `seen` and than every one this clock issued. */
  lamport(seen?: number): number {
    return this.ctx.storage.transactionSync(() => {
      const current = this.#read('lamport') ?? 0
      let next: number
      try {
        next = seen === undefined ? lamportTick(current) : lamportReceive(current, seen)
      } catch {
        throw new AppError('conflict', 'This Lamport clock has reached 2^53 - 1 and cannot advance.')
      }
      this.#write('lamport', next)
      return next
    })
  }

  /** An HLC timestamp greater than `seen` and than every one this clock issued. */
  hlc(seen?: HlcTimestamp): HlcTimestamp {
    const nowMs = Date.now()
    return this.ctx.storage.transactionSync(() => {
      const last = this.#read('hlc') ?? HLC_ZERO
      let next: HlcTimestamp
      try {
        next = seen === undefined ? hlcTick(last, nowMs) : hlcReceive(last, seen, nowMs, HLC_MAX_DRIFT_MS)
      } catch (error) {
        if (error instanceof HlcDriftError) throw new AppError('unprocessable', `${error.message}.`)
        throw new AppError('conflict', 'This hybrid logical clock cannot advance any further.')
      }
      this.#write('hlc', next)
      return next
    })
  }
}

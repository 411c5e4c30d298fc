/**
 * `BlobContent`: the Durable Object holding one tenant's content-addressed store,
 * `<tenant>:blob-content:store` — which bytes are stored (sha256 → storage key), who holds
 * them (object versions and uploaded parts of every bucket of the tenant), and the garbage
 * collection of blobs nobody holds. A thin host over cas.ts: each call is one
 * `transactionSync`; one alarm deletes blobs unreferenced past the grace period.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectBucket } from '../platform/ports'
import { objectStub } from '../platform/tenancy'
import { BlobGone, collect, type Held, hold, unhold, type Wanted } from './cas'
import { contentIndex, migrateContent } from './content-tables'
import { S3Error } from './s3-errors'

declare global {
  namespace Cloudflare {
    interface Env {
      BLOB_CONTENT: DurableObjectNamespace<BlobContent>
    }
  }
}

/** How long an unreferenced blob stays readable before it is deleted (readers in flight). */
export const GC_GRACE_MS = 10 * 60_000

export const CONTENT_KIND = 'blob-content'

/** The tenant's content store. */
export function contentStub(env: Env, tenant: string): DurableObjectStub<BlobContent> {
  return objectStub(env.BLOB_CONTENT, tenant, CONTENT_KIND, 'store')
}

export class BlobContent extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private clockOffsetMs = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ctx.blockConcurrencyWhile(async () => {
      migrateContent(this.sql)
      const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'clock_offset_ms'").toArray()[0]
      this.clockOffsetMs = Number(row?.v ?? 0)
    })
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs
  }

  /** `holder` holds each wanted blob; NoSuchKey when a blob to copy was collected meanwhile. */
  async hold(holder: string, wanted: Wanted[]): Promise<Held> {
    try {
      return this.ctx.storage.transactionSync(() => hold(contentIndex(this.sql), holder, wanted))
    } catch (error) {
      if (error instanceof BlobGone)
        throw new S3Error('NoSuchKey', 'The source object was deleted while it was being copied.')
      throw error
    }
  }

  /**
   * Deletes a copy uploaded for a write that failed, unless it became the stored blob of
   * `hash` (then the hold's release and the collection after the grace period delete it).
   */
  async discard(hash: string, uploadedKey: string): Promise<void> {
    if (contentIndex(this.sql).get(hash)?.storageKey === uploadedKey) return
    await objectBucket(this.env).delete(uploadedKey)
  }

  /** Drops every hold of each holder (idempotent). */
  async release(holders: string[]): Promise<void> {
    if (holders.length === 0) return
    const now = this.now()
    this.ctx.storage.transactionSync(() => {
      const index = contentIndex(this.sql)
      for (const holder of holders) unhold(index, holder, now)
    })
    await this.arm()
  }

  /** Tests: the blobs stored, with their counts. */
  async blobs(): Promise<{ hash: string; storageKey: string; refs: number }[]> {
    return this.sql
      .exec<{ hash: string; storage_key: string; refs: number }>(
        'SELECT hash, storage_key, refs FROM blobs ORDER BY hash',
      )
      .toArray()
      .map((row) => ({ hash: row.hash, storageKey: row.storage_key, refs: row.refs }))
  }

  private async arm(): Promise<void> {
    const earliest = contentIndex(this.sql).earliestZero()
    if (earliest === undefined) return
    const due = earliest + GC_GRACE_MS - this.clockOffsetMs
    const armed = await this.ctx.storage.getAlarm()
    if (armed === null || armed > due) await this.ctx.storage.setAlarm(due)
  }

  override async alarm(): Promise<void> {
    await this.collectGarbage()
    await this.arm()
  }

  /** Deletes the bytes of blobs unreferenced for longer than the grace period; returns how many. */
  async collectGarbage(now = this.now()): Promise<number> {
    const keys = this.ctx.storage.transactionSync(() => collect(contentIndex(this.sql), now, GC_GRACE_MS))
    if (keys.length > 0) await objectBucket(this.env).delete(keys)
    return keys.length
  }

  /** Tests only: moves this object's clock forward (GC grace). */
  async advanceClockForTest(ms: number): Promise<void> {
    this.clockOffsetMs += ms
    this.sql.exec(
      "INSERT INTO meta (k, v) VALUES ('clock_offset_ms', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
      String(this.clockOffsetMs),
    )
  }
}

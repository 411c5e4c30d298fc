/**
 * `BlobBucket`: the Durable Object holding one bucket's metadata, `<tenant>:blob:<bucket>`:
 * object versions, multipart uploads, settings (versioning, CORS, lifecycle). Bytes live in
 * object storage, stored once per tenant by the tenant's content store (content.ts); each
 * version and part holds its blobs there (holders.ts: hold before the reference is
 * committed, release after it is removed). A thin host: each change is one `transactionSync`
 * over versions.ts / multipart.ts, and one alarm runs the bucket's lifecycle rules
 * (lifecycle.ts) and sends releases the content store has not acknowledged yet.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import type { BucketAcl } from './acl'
import type { Wanted } from './cas'
import { contentStub } from './content'
import type { CorsRule } from './cors'
import {
  dueReleases,
  earliestRelease,
  newHolder,
  recordIntent,
  releases,
  releasesDone,
  requireIntent,
} from './holders'
import { handOver } from './legacy'
import { type LifecycleRule, nextLifecycleRun, runLifecycle } from './lifecycle'
import { type ListPage, type ListRequest, listKeys } from './listing'
import {
  type ChosenPart,
  createUpload,
  dropUpload,
  findUpload,
  listParts,
  type PartRow,
  putPart,
  type UploadRow,
} from './multipart'
import { S3Error } from './s3-errors'
import {
  findVersion,
  getMeta,
  migrate,
  type ObjectAttributes,
  type ObjectVersion,
  type Segment,
  type StoredChecksum,
  setMeta,
  updateAttributes,
} from './tables'
import { commitCompletion, listUploadsAfter, prepareCompletion } from './uploads'
import { type Deletion, deleteVersion, newVersionId, type Versioning, writeVersion } from './versions'

declare global {
  namespace Cloudflare {
    interface Env {
      BLOB_BUCKETS: DurableObjectNamespace<BlobBucket>
    }
  }
}

export { GC_GRACE_MS } from './content'

export interface BucketInfo {
  name: string
  createdAt: number
  versioning: Versioning
  cors: CorsRule[] | undefined
  lifecycle: LifecycleRule[] | undefined
}

/** An uploaded blob: its content hash, size and where the upload put its bytes. */
export interface UploadedBlob extends Segment {
  storageKey: string
}

export interface ReadableVersion extends ObjectVersion {
  /** Storage key of each segment, in order. */
  storageKeys: string[]
}

const preconditionFailed = (condition: string) =>
  new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
    Condition: condition,
  })

export class BlobBucket extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private clockOffsetMs = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ctx.blockConcurrencyWhile(async () => {
      const legacy = this.ctx.storage.transactionSync(() =>
        migrate(this.sql, () => newHolder(this.bucketName())),
      )
      this.clockOffsetMs = Number(getMeta(this.sql, 'clock_offset_ms') ?? 0)
      if (legacy) await handOver(this.sql, this.ctx.storage, this.content(), this.env, this.bucketName())
    })
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs
  }

  /** `<tenant>:blob:<bucket>`, this object's name. */
  private nameParts(): { tenant: string; bucket: string } {
    const name = this.ctx.id.name ?? ''
    const at = name.lastIndexOf(':blob:')
    if (at <= 0) throw new Error(`BlobBucket needs a named id <tenant>:blob:<bucket>, not "${name}"`)
    return { tenant: name.slice(0, at), bucket: name.slice(at + ':blob:'.length) }
  }

  private bucketName(): string {
    return this.nameParts().bucket
  }

  private content() {
    return contentStub(this.env, this.nameParts().tenant)
  }

  private info(): BucketInfo {
    const createdAt = getMeta(this.sql, 'created_at')
    if (createdAt === undefined)
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: getMeta(this.sql, 'name') ?? '',
      })
    const cors = getMeta(this.sql, 'cors')
    const lifecycle = getMeta(this.sql, 'lifecycle')
    return {
      name: getMeta(this.sql, 'name') ?? '',
      createdAt: Number(createdAt),
      versioning: (getMeta(this.sql, 'versioning') ?? 'Unversioned') as Versioning,
      cors: cors ? (JSON.parse(cors) as CorsRule[]) : undefined,
      lifecycle: lifecycle ? (JSON.parse(lifecycle) as LifecycleRule[]) : undefined,
    }
  }

  /** Creates the bucket; false when it already exists. */
  async create(name: string): Promise<boolean> {
    if (getMeta(this.sql, 'created_at') !== undefined) return false
    this.ctx.storage.transactionSync(() => {
      setMeta(this.sql, 'name', name)
      setMeta(this.sql, 'created_at', String(this.now()))
    })
    return true
  }

  async describe(): Promise<BucketInfo> {
    return this.info()
  }

  /** Deletes the (empty) bucket's settings; releases not yet acknowledged keep being sent by the alarm. */
  async drop(): Promise<void> {
    const { name } = this.info()
    const objects = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM objects').one().n
    const uploads = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM uploads').one().n
    if (objects > 0 || uploads > 0)
      throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name })
    this.ctx.storage.transactionSync(() => {
      for (const key of ['created_at', 'versioning', 'cors', 'lifecycle', 'acl'])
        setMeta(this.sql, key, undefined)
    })
    await this.drain()
  }

  async setSetting(
    name: 'versioning' | 'cors' | 'lifecycle' | 'acl',
    value: string | undefined,
  ): Promise<void> {
    this.info()
    this.ctx.storage.transactionSync(() => setMeta(this.sql, name, value))
    if (name === 'lifecycle') await this.arm()
  }

  /**
   * Takes a hold on `wanted` in the content store, then runs `commit` in one transaction
   * with the holder and the blobs' storage keys; the hold is released if the commit fails.
   * Returns the commit's result and the uploaded copies made redundant by deduplication.
   */
  private async withHold<T>(
    wanted: Wanted[],
    commit: (holder: string | null, storageKeys: string[]) => T,
  ): Promise<{ result: T; redundant: string[] }> {
    if (wanted.length === 0) {
      const result = this.ctx.storage.transactionSync(() => commit(null, []))
      await this.drain()
      return { result, redundant: [] }
    }
    const holder = newHolder(this.bucketName())
    this.ctx.storage.transactionSync(() => recordIntent(this.sql, holder, this.now()))
    await this.arm()
    let held: Awaited<ReturnType<ReturnType<BlobBucket['content']>['hold']>>
    try {
      held = await this.content().hold(holder, wanted)
    } catch (error) {
      await this.abandon(holder)
      throw error
    }
    let result: T
    try {
      result = this.ctx.storage.transactionSync(() => {
        requireIntent(this.sql, holder, this.now())
        return commit(holder, held.storageKeys)
      })
    } catch (error) {
      await this.abandon(holder)
      throw error
    }
    await this.drain()
    return { result, redundant: held.redundant }
  }

  /**
   * `withHold` for a write that brings freshly uploaded copies: on any failure they are
   * discarded, unless one became the tenant's stored blob (then its collection deletes it).
   */
  private async owningUpload<T>(
    wanted: Wanted[],
    check: () => void,
    commit: (holder: string | null, storageKeys: string[]) => T,
  ): Promise<{ result: T; redundant: string[] }> {
    try {
      check()
      return await this.withHold(wanted, commit)
    } catch (error) {
      const content = this.content()
      for (const w of wanted)
        if (w.uploadedKey) await content.discard(w.hash, w.uploadedKey).catch(() => undefined)
      throw error
    }
  }

  /** A hold whose reference was not committed: release it now. */
  private async abandon(holder: string): Promise<void> {
    this.ctx.storage.transactionSync(() => releases(this.sql, this.now()).release(holder))
    await this.drain()
  }

  private checkConditions(key: string, conditions: { ifMatch?: string | null; ifNoneMatch?: string | null }) {
    const current = findVersion(this.sql, key)
    const live = current && !current.deleteMarker ? current : undefined
    if (conditions.ifNoneMatch === '*' && live) throw preconditionFailed('If-None-Match')
    if (conditions.ifMatch && (!live || conditions.ifMatch.replace(/"/g, '') !== live.etag.replace(/"/g, '')))
      throw preconditionFailed('If-Match')
  }

  /** Commits an uploaded object; returns its version id and uploaded copies made redundant by deduplication. */
  async putObject(
    key: string,
    blob: UploadedBlob,
    etag: string,
    attributes: ObjectAttributes,
    conditions: { ifMatch?: string | null; ifNoneMatch?: string | null } = {},
  ): Promise<{ versionId: string; redundant: string[] }> {
    // An empty object has no bytes in storage and no segment.
    const wanted = blob.size > 0 ? [{ hash: blob.hash, size: blob.size, uploadedKey: blob.storageKey }] : []
    const { result, redundant } = await this.owningUpload(
      wanted,
      () => {
        this.info()
        this.checkConditions(key, conditions)
      },
      (holder, storageKeys) => {
        const { versioning } = this.info()
        this.checkConditions(key, conditions)
        const segments =
          blob.size > 0 ? [{ hash: blob.hash, size: blob.size, key: storageKeys[0] as string }] : []
        return writeVersion(
          this.sql,
          releases(this.sql, this.now()),
          versioning,
          { key, size: blob.size, etag, segments, partsCount: null, holder, ...attributes },
          this.now(),
        )
      },
    )
    return { versionId: result, redundant }
  }

  /** The version to read, with the storage keys of its bytes. */
  async getObject(key: string, versionId?: string): Promise<ReadableVersion> {
    const { name } = this.info()
    const version = findVersion(this.sql, key, versionId)
    if (!version) {
      if (versionId !== undefined)
        throw new S3Error('NoSuchVersion', 'The specified version does not exist.', {
          Key: key,
          VersionId: versionId,
        })
      throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key, BucketName: name })
    }
    if (version.deleteMarker) {
      const headers = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': version.versionId }
      if (versionId !== undefined)
        throw new S3Error(
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
          {},
          headers,
        )
      throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key }, headers)
    }
    return { ...version, storageKeys: version.segments.map((s) => s.key ?? '') }
  }

  async deleteObjects(items: { key: string; versionId?: string | undefined }[]): Promise<Deletion[]> {
    const { versioning } = this.info()
    const now = this.now()
    const results = this.ctx.storage.transactionSync(() => {
      const index = releases(this.sql, now)
      return items.map((item) => deleteVersion(this.sql, index, versioning, item.key, item.versionId, now))
    })
    await this.drain()
    return results
  }

  /**
   * Writes a copy of `from` (a version of this or another bucket of the tenant) at `key`: a
   * new hold on the same blobs, no bytes copied. NoSuchKey if the source's bytes were
   * collected meanwhile (deleted longer than the grace period ago).
   */
  async copyFrom(
    from: ReadableVersion,
    key: string,
    attributes: ObjectAttributes,
  ): Promise<{ versionId: string; etag: string; lastModified: number }> {
    this.info()
    const wanted = from.segments.map((s) => ({ hash: s.hash, size: s.size }))
    const { result } = await this.withHold(wanted, (holder, storageKeys) => {
      const { versioning } = this.info()
      const now = this.now()
      const versionId = writeVersion(
        this.sql,
        releases(this.sql, now),
        versioning,
        {
          ...attributes,
          key,
          size: from.size,
          etag: from.etag,
          segments: from.segments.map((s, i) => ({
            hash: s.hash,
            size: s.size,
            key: storageKeys[i] as string,
          })),
          partsCount: from.partsCount,
          holder,
        },
        now,
      )
      return { versionId, lastModified: now }
    })
    return { ...result, etag: from.etag }
  }

  async setTags(
    key: string,
    versionId: string | undefined,
    tags: Record<string, string> | undefined,
  ): Promise<ReadableVersion> {
    const version = await this.getObject(key, versionId)
    const tagged = { ...version, tags: tags ?? {} }
    this.ctx.storage.transactionSync(() => updateAttributes(this.sql, version, tagged))
    return tagged
  }

  async list(request: ListRequest): Promise<ListPage> {
    this.info()
    return listKeys(this.sql, request)
  }

  async createMultipart(
    key: string,
    attributes: ObjectAttributes,
    checksumAlgorithm: UploadRow['checksumAlgorithm'],
  ): Promise<string> {
    this.info()
    const uploadId = newVersionId() + newVersionId()
    this.ctx.storage.transactionSync(() =>
      createUpload(this.sql, { uploadId, key, initiated: this.now(), attributes, checksumAlgorithm }),
    )
    await this.arm()
    return uploadId
  }

  async upload(uploadId: string, key: string): Promise<UploadRow> {
    this.info()
    return findUpload(this.sql, uploadId, key)
  }

  /** Stores an uploaded part; returns uploaded copies made redundant by deduplication. */
  async uploadPart(
    uploadId: string,
    key: string,
    part: Omit<PartRow, 'lastModified' | 'holder'>,
    storageKey: string,
  ): Promise<string[]> {
    const wanted = [{ hash: part.hash, size: part.size, uploadedKey: storageKey }]
    const { redundant } = await this.owningUpload(
      wanted,
      () => {
        this.info()
        findUpload(this.sql, uploadId, key)
      },
      (holder) => {
        const now = this.now()
        findUpload(this.sql, uploadId, key)
        putPart(this.sql, releases(this.sql, now), uploadId, { ...part, lastModified: now, holder })
      },
    )
    return redundant
  }

  async listUploadParts(
    uploadId: string,
    key: string,
    after: number,
    limit: number,
  ): Promise<{ upload: UploadRow; parts: PartRow[]; truncated: boolean }> {
    this.info()
    const upload = findUpload(this.sql, uploadId, key)
    const parts = listParts(this.sql, uploadId, after, limit + 1)
    return { upload, parts: parts.slice(0, limit), truncated: parts.length > limit }
  }

  async listUploads(
    prefix: string,
    after: { key: string; uploadId: string } | undefined,
    limit: number,
  ): Promise<{ uploads: UploadRow[]; truncated: boolean }> {
    this.info()
    return listUploadsAfter(this.sql, prefix, after, limit)
  }

  async completeMultipart(
    uploadId: string,
    key: string,
    chosen: ChosenPart[],
    minPartBytes?: number,
  ): Promise<{ versionId: string; etag: string; checksum?: StoredChecksum }> {
    this.info()
    const prepared = await prepareCompletion(this.sql, { uploadId, key, chosen, minPartBytes })
    const wanted = prepared.assembled.segments.map((s) => ({ hash: s.hash, size: s.size }))
    const { result } = await this.withHold(wanted, (holder, storageKeys) => {
      const { versioning } = this.info()
      const now = this.now()
      return commitCompletion(
        this.sql,
        releases(this.sql, now),
        prepared,
        holder,
        storageKeys,
        versioning,
        now,
      )
    })
    const { etag } = prepared.assembled
    return prepared.checksum
      ? { versionId: result, etag, checksum: prepared.checksum }
      : { versionId: result, etag }
  }

  async abortMultipart(uploadId: string, key: string): Promise<void> {
    this.info()
    this.ctx.storage.transactionSync(() => {
      findUpload(this.sql, uploadId, key)
      dropUpload(this.sql, releases(this.sql, this.now()), uploadId)
    })
    await this.drain()
  }

  /** Sends the releases that are due to the content store; the alarm retries what fails. */
  private async drain(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const now = this.now()
      const due = dueReleases(this.sql, now)
      if (due.length === 0) break
      try {
        await this.content().release(due)
      } catch {
        break
      }
      this.ctx.storage.transactionSync(() => releasesDone(this.sql, due, now))
    }
    await this.arm()
  }

  /** Keeps one alarm at the earliest of: the next release due, the next lifecycle run. */
  private async arm(): Promise<void> {
    const lifecycle = getMeta(this.sql, 'lifecycle')
    const candidates = [
      earliestRelease(this.sql),
      lifecycle ? nextLifecycleRun(this.now()) : undefined,
    ].filter((at): at is number => at !== undefined)
    if (candidates.length === 0) return
    const due = Math.max(Date.now(), Math.min(...candidates) - this.clockOffsetMs)
    const armed = await this.ctx.storage.getAlarm()
    if (armed === null || armed > due) await this.ctx.storage.setAlarm(due)
  }

  override async alarm(): Promise<void> {
    const now = this.now()
    const lifecycle = getMeta(this.sql, 'lifecycle')
    if (lifecycle && getMeta(this.sql, 'created_at') !== undefined) {
      const versioning = (getMeta(this.sql, 'versioning') ?? 'Unversioned') as Versioning
      this.ctx.storage.transactionSync(() =>
        runLifecycle(this.sql, releases(this.sql, now), versioning, JSON.parse(lifecycle), now),
      )
    }
    await this.drain()
  }

  /** The bucket's canned ACL (acl.ts): `private` unless made `public-read`. */
  async acl(): Promise<BucketAcl> {
    this.info()
    return (getMeta(this.sql, 'acl') ?? 'private') as BucketAcl
  }

  /** The current version of `key` for anonymous delivery: AccessDenied unless the bucket is public-read. */
  async readPublic(key: string): Promise<ReadableVersion> {
    const { name } = this.info()
    if (getMeta(this.sql, 'acl') !== 'public-read')
      throw new S3Error('AccessDenied', 'The bucket is not public-read.', { BucketName: name })
    return this.getObject(key)
  }

  /** Tests only: moves this object's clock forward (lifecycle ages, intents falling due). */
  async advanceClockForTest(ms: number): Promise<void> {
    this.clockOffsetMs += ms
    this.ctx.storage.transactionSync(() => setMeta(this.sql, 'clock_offset_ms', String(this.clockOffsetMs)))
  }
}

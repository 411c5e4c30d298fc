/**
 * `BlobBucket`: the Durable Object holding one bucket's metadata, `<tenant>:blob:<bucket>`:
 * object versions, multipart uploads, the content-addressed blob index, settings (versioning,
 * CORS, lifecycle). Bytes live in object storage; this object decides which bytes are live.
 * A thin host: each change is one `transactionSync` over versions.ts / multipart.ts / cas.ts,
 * and one alarm runs garbage collection (blobs unreferenced past a grace period) and the
 * bucket's lifecycle rules (lifecycle.ts).
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectBucket } from '../platform/ports'
import type { BucketAcl } from './acl'
import { addReference, adopt, collect } from './cas'
import type { CorsRule } from './cors'
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
  blobIndex,
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
import { completeUpload, listUploadsAfter } from './uploads'
import { type Deletion, deleteVersion, newVersionId, type Versioning, writeVersion } from './versions'

declare global {
  namespace Cloudflare {
    interface Env {
      BLOB_BUCKETS: DurableObjectNamespace<BlobBucket>
    }
  }
}

/** How long an unreferenced blob stays readable before it is deleted (readers in flight). */
export const GC_GRACE_MS = 10 * 60_000

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

export class BlobBucket extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private clockOffsetMs = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql)
      this.clockOffsetMs = Number(getMeta(this.sql, 'clock_offset_ms') ?? 0)
    })
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs
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

  /** Deletes the (empty) bucket's settings; blobs still waiting for collection stay until the alarm. */
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
  }

  async setSetting(
    name: 'versioning' | 'cors' | 'lifecycle' | 'acl',
    value: string | undefined,
  ): Promise<void> {
    this.info()
    this.ctx.storage.transactionSync(() => setMeta(this.sql, name, value))
    if (name === 'lifecycle') await this.arm()
  }

  /** Commits an uploaded object; returns its version id and an uploaded copy made redundant by deduplication. */
  async putObject(
    key: string,
    blob: UploadedBlob,
    etag: string,
    attributes: ObjectAttributes,
    conditions: { ifMatch?: string | null; ifNoneMatch?: string | null } = {},
  ): Promise<{ versionId: string; redundant?: string }> {
    const { versioning } = this.info()
    const now = this.now()
    const index = blobIndex(this.sql)
    const result = this.ctx.storage.transactionSync(() => {
      const current = findVersion(this.sql, key)
      const live = current && !current.deleteMarker ? current : undefined
      if (conditions.ifNoneMatch === '*' && live)
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          { Condition: 'If-None-Match' },
        )
      if (
        conditions.ifMatch &&
        (!live || conditions.ifMatch.replace(/"/g, '') !== live.etag.replace(/"/g, ''))
      ) {
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          { Condition: 'If-Match' },
        )
      }
      // An empty object has no bytes in storage and no segment.
      const adopted =
        blob.size > 0 ? adopt(index, blob.hash, blob.size, blob.storageKey) : { redundant: undefined }
      const segments = blob.size > 0 ? [{ hash: blob.hash, size: blob.size }] : []
      const versionId = writeVersion(
        this.sql,
        index,
        versioning,
        { key, size: blob.size, etag, segments, partsCount: null, ...attributes },
        now,
      )
      return adopted.redundant ? { versionId, redundant: adopted.redundant } : { versionId }
    })
    await this.arm()
    return result
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
    const keys = blobIndex(this.sql).storageKeys(version.segments.map((s) => s.hash))
    return { ...version, storageKeys: version.segments.map((s) => keys.get(s.hash) ?? '') }
  }

  async deleteObjects(items: { key: string; versionId?: string | undefined }[]): Promise<Deletion[]> {
    const { versioning } = this.info()
    const now = this.now()
    const index = blobIndex(this.sql)
    const results = this.ctx.storage.transactionSync(() =>
      items.map((item) => deleteVersion(this.sql, index, versioning, item.key, item.versionId, now)),
    )
    await this.arm()
    return results
  }

  /** Copies a version inside this bucket: new references to the same blobs, no bytes copied. */
  async copyObject(
    source: { key: string; versionId?: string | undefined },
    key: string,
    attributes: ObjectAttributes | undefined,
  ): Promise<{ versionId: string; etag: string; lastModified: number; sourceVersionId: string }> {
    const { versioning } = this.info()
    const now = this.now()
    const index = blobIndex(this.sql)
    const from = await this.getObject(source.key, source.versionId)
    const versionId = this.ctx.storage.transactionSync(() => {
      for (const segment of from.segments) addReference(index, segment.hash)
      const { contentType, headers, meta, tags, checksum } = from
      const kept: ObjectAttributes = attributes ?? { contentType, headers, meta, tags, checksum }
      return writeVersion(
        this.sql,
        index,
        versioning,
        {
          ...kept,
          key,
          size: from.size,
          etag: from.etag,
          segments: from.segments,
          partsCount: from.partsCount,
        },
        now,
      )
    })
    await this.arm()
    return { versionId, etag: from.etag, lastModified: now, sourceVersionId: from.versionId }
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

  async uploadPart(
    uploadId: string,
    key: string,
    part: Omit<PartRow, 'lastModified'>,
    storageKey: string,
  ): Promise<string | undefined> {
    this.info()
    const now = this.now()
    const redundant = this.ctx.storage.transactionSync(() => {
      findUpload(this.sql, uploadId, key)
      return putPart(this.sql, blobIndex(this.sql), uploadId, { ...part, lastModified: now }, storageKey, now)
    })
    await this.arm()
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
    const { versioning } = this.info()
    const result = await completeUpload(
      { sql: this.sql, transaction: (fn) => this.ctx.storage.transactionSync(fn) },
      { uploadId, key, chosen, versioning, now: this.now(), minPartBytes },
    )
    await this.arm()
    return result
  }

  async abortMultipart(uploadId: string, key: string): Promise<void> {
    this.info()
    const now = this.now()
    this.ctx.storage.transactionSync(() => {
      findUpload(this.sql, uploadId, key)
      dropUpload(this.sql, blobIndex(this.sql), uploadId, now)
    })
    await this.arm()
  }

  /** Keeps one alarm at the earliest of: the next collectable blob, the next lifecycle run. */
  private async arm(): Promise<void> {
    const earliest = blobIndex(this.sql).earliestZero()
    const lifecycle = getMeta(this.sql, 'lifecycle')
    const candidates = [
      earliest === undefined ? undefined : earliest + GC_GRACE_MS,
      lifecycle ? nextLifecycleRun(this.now()) : undefined,
    ].filter((at): at is number => at !== undefined)
    if (candidates.length === 0) return
    const due = Math.min(...candidates) - this.clockOffsetMs
    const armed = await this.ctx.storage.getAlarm()
    if (armed === null || armed > due) await this.ctx.storage.setAlarm(due)
  }

  override async alarm(): Promise<void> {
    const now = this.now()
    const lifecycle = getMeta(this.sql, 'lifecycle')
    if (lifecycle && getMeta(this.sql, 'created_at') !== undefined) {
      const versioning = (getMeta(this.sql, 'versioning') ?? 'Unversioned') as Versioning
      this.ctx.storage.transactionSync(() =>
        runLifecycle(this.sql, blobIndex(this.sql), versioning, JSON.parse(lifecycle), now),
      )
    }
    await this.collectGarbage(now)
    await this.arm()
  }

  /** Deletes the bytes of blobs unreferenced for longer than the grace period. */
  async collectGarbage(now = this.now()): Promise<number> {
    const keys = this.ctx.storage.transactionSync(() => collect(blobIndex(this.sql), now, GC_GRACE_MS))
    if (keys.length > 0) await objectBucket(this.env).delete(keys)
    return keys.length
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

  /** Tests only: moves this object's clock forward (lifecycle ages, GC grace). */
  async advanceClockForTest(ms: number): Promise<void> {
    this.clockOffsetMs += ms
    this.ctx.storage.transactionSync(() => setMeta(this.sql, 'clock_offset_ms', String(this.clockOffsetMs)))
  }
}

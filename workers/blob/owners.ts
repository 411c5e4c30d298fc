/**
 * Bucket names are global, as in S3: a row under the reserved owner `_s3` (never a valid
 * tenant) maps each bucket name to its tenant. That lets requests that carry no signature
 * reach the right bucket — CORS preflights, browser form uploads (whose policy names the key
 * that signs them), virtual-host requests — and makes a second tenant's CreateBucket of a
 * taken name fail with BucketAlreadyExists. Lookups are cached per isolate briefly.
 */
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import { createResource, deleteResource, findResource } from '../platform/registry'
import { S3Error } from './s3-errors'

const OWNER = '_s3'
const KIND = 'bucket'
const owners = new IsolateCache<string>(5_000)

export async function bucketOwner(env: Env, bucket: string): Promise<string | undefined> {
  const cached = owners.lookup(bucket)
  if (cached) return cached.value
  const row = await findResource<{ tenant: string }>(env, OWNER, KIND, bucket)
  return row ? owners.set(bucket, row.config.tenant) : undefined
}

/** Claims the name for the tenant; true when this tenant already owned it. */
export async function claimBucket(env: Env, tenant: string, bucket: string, now: number): Promise<boolean> {
  try {
    await createResource(env, OWNER, KIND, bucket, { tenant }, now)
    return false
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'conflict')) throw error
    const owner = await bucketOwner(env, bucket)
    if (owner === tenant) return true
    throw new S3Error(
      'BucketAlreadyExists',
      'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
      { BucketName: bucket },
    )
  }
}

export async function releaseBucket(env: Env, bucket: string): Promise<void> {
  owners.delete(bucket)
  await deleteResource(env, OWNER, KIND, bucket).catch((error: unknown) => {
    if (!(error instanceof AppError && error.code === 'not_found')) throw error
  })
}

/**
 * Schemas of the blob store's management API (`/v1/blob`): access keys for the AWS wires
 * (S3 and SQS) and the tenant's buckets. The S3 API itself (`/s3`) speaks S3's XML.
 */
import * as v from 'valibot'

/** An S3 bucket name: 3–63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit. */
export const BucketName = v.pipe(
  v.string(),
  v.minLength(3),
  v.maxLength(63),
  v.regex(
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    'Lowercase letters, digits, "." and "-", starting and ending with a letter or digit',
  ),
)

export const AccessKeyId = v.pipe(
  v.string(),
  v.regex(/^EB[A-Z2-7]{18}$/, 'An access key id (EB + 18 characters)'),
)

export const CreateAccessKeyRequest = v.object({
  /** `read` allows GET/HEAD/List (and SQS receives); `read-write` everything. */
  permission: v.optional(v.picklist(['read', 'read-write']), 'read-write'),
  /** Only these buckets (absent: every bucket of the tenant). */
  buckets: v.optional(v.pipe(v.array(BucketName), v.minLength(1), v.maxLength(100))),
  /** Only these queues (absent: every queue of the tenant). */
  queues: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(80))), v.minLength(1), v.maxLength(100)),
  ),
  description: v.optional(v.pipe(v.string(), v.maxLength(256))),
})

export const AccessKeyView = v.object({
  accessKeyId: v.string(),
  permission: v.picklist(['read', 'read-write']),
  buckets: v.optional(v.array(v.string())),
  queues: v.optional(v.array(v.string())),
  description: v.optional(v.string()),
  createdAt: v.number(),
})

export const CreatedAccessKey = v.object({
  ...AccessKeyView.entries,
  /** Shown in this response only. */
  secretAccessKey: v.string(),
})

export const AccessKeyList = v.object({ items: v.array(AccessKeyView), nextCursor: v.optional(v.string()) })

export const AccessKeyParam = v.object({ accessKeyId: AccessKeyId })

export const BucketList = v.object({
  items: v.array(v.object({ name: v.string(), createdAt: v.number() })),
  nextCursor: v.optional(v.string()),
})

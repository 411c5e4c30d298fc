/**
 * Schemas of the key-value store (`/v1/kv`): namespaces (replication N/R/W, conflict
 * policy, TTL, value size), key operations and their headers, bulk writes, listings.
 * Bounds a client can hit live here; N ≤ the number of storage nodes is checked at creation.
 */
import * as v from 'valibot'
import { ResourceName } from './common'

export const KV_LIMITS = {
  maxReplicas: 7,
  /** Largest value a namespace may allow (Workers KV: 25 MiB; here one libSQL row). */
  maxValueBytes: 1024 * 1024,
  defaultMaxValueBytes: 64 * 1024,
  maxKeyBytes: 512,
  maxMetadataBytes: 1024,
  maxTtlSeconds: 365 * 24 * 3600,
  minTtlSeconds: 1,
  maxBulk: 1000,
  maxListLimit: 1000,
  maxContextLength: 8192,
  /** Tombstones (and expired values) are purged after this long, once every replica has seen them. */
  defaultTombstoneGraceSeconds: 24 * 3600,
} as const

/** Body limit of the block: a 1 MiB value or a bulk request. */
export const KV_MAX_BODY_BYTES = 4 * 1024 * 1024

const integer = (min: number, max: number) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))
const TtlSeconds = integer(KV_LIMITS.minTtlSeconds, KV_LIMITS.maxTtlSeconds)

export const CreateNamespaceRequest = v.pipe(
  v.strictObject({
    /** N: copies of each key (1 ≤ N ≤ storage nodes). */
    replicas: v.optional(integer(1, KV_LIMITS.maxReplicas), 3),
    /** R: replies a quorum read waits for (1 ≤ R ≤ N). */
    readQuorum: v.optional(integer(1, KV_LIMITS.maxReplicas), 2),
    /** W: stored copies a quorum write waits for (1 ≤ W ≤ N). */
    writeQuorum: v.optional(integer(1, KV_LIMITS.maxReplicas), 2),
    /** `siblings`: concurrent writes are all kept (vector clocks); `lww`: the latest hybrid-logical-clock write wins. */
    conflict: v.optional(v.picklist(['siblings', 'lww']), 'siblings'),
    defaultTtlSeconds: v.optional(v.nullable(TtlSeconds), null),
    maxValueBytes: v.optional(integer(1, KV_LIMITS.maxValueBytes), KV_LIMITS.defaultMaxValueBytes),
    tombstoneGraceSeconds: v.optional(integer(1, 30 * 24 * 3600), KV_LIMITS.defaultTombstoneGraceSeconds),
  }),
  v.forward(
    v.check((input) => input.readQuorum <= input.replicas, 'readQuorum (R) must be at most replicas (N)'),
    ['readQuorum'],
  ),
  v.forward(
    v.check((input) => input.writeQuorum <= input.replicas, 'writeQuorum (W) must be at most replicas (N)'),
    ['writeQuorum'],
  ),
)
export type CreateNamespaceInput = v.InferOutput<typeof CreateNamespaceRequest>

export const NamespaceSettings = v.object({
  replicas: v.number(),
  readQuorum: v.number(),
  writeQuorum: v.number(),
  conflict: v.picklist(['siblings', 'lww']),
  defaultTtlSeconds: v.nullable(v.number()),
  maxValueBytes: v.number(),
  tombstoneGraceSeconds: v.number(),
})

export const NamespaceView = v.object({
  name: v.string(),
  version: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
  settings: NamespaceSettings,
  /** The storage nodes of the namespace's ring, and the next ring during a rebalance. */
  ring: v.object({ members: v.array(v.string()), next: v.nullable(v.array(v.string())) }),
})
export const NamespaceList = v.object({ items: v.array(NamespaceView), nextCursor: v.optional(v.string()) })

export const NamespaceParam = v.object({ namespace: ResourceName })

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length

/** A key: 1–512 bytes of UTF-8 without control characters. */
export const Key = v.pipe(
  v.string(),
  v.minLength(1, 'Must not be empty'),
  v.check((key) => utf8Bytes(key) <= KV_LIMITS.maxKeyBytes, `At most ${KV_LIMITS.maxKeyBytes} bytes`),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
  v.regex(/^[^\u0000-\u001f\u007f]+$/, 'No control characters'),
)
export const KeyParam = v.object({ namespace: ResourceName, key: Key })

export const Consistency = v.optional(v.picklist(['eventual', 'quorum', 'strong']), 'quorum')
export type ConsistencyLevel = 'eventual' | 'quorum' | 'strong'

export const ReadQuery = v.object({ consistency: Consistency })

export const WriteQuery = v.object({
  consistency: Consistency,
  /** Seconds until the value expires (overrides the namespace default). */
  ttl: v.optional(v.pipe(v.string(), v.regex(/^\d{1,9}$/, 'Whole seconds'), v.transform(Number), TtlSeconds)),
})

const Metadata = v.pipe(
  v.string(),
  v.maxLength(KV_LIMITS.maxMetadataBytes, `At most ${KV_LIMITS.maxMetadataBytes} characters`),
  v.check((text) => {
    try {
      JSON.parse(text)
      return true
    } catch {
      return false
    }
  }, 'JSON'),
)

const Context = v.pipe(
  v.string(),
  v.maxLength(KV_LIMITS.maxContextLength),
  v.regex(/^[A-Za-z0-9_-]+$/, 'base64url'),
)

export const WriteHeaders = v.object({
  /** The causal context of the versions the writer read (`X-KV-Context` of a GET). */
  'x-kv-context': v.optional(Context),
  /** JSON metadata stored with the value. */
  'x-kv-metadata': v.optional(Metadata),
  'if-match': v.optional(v.pipe(v.string(), v.maxLength(1024))),
  'if-none-match': v.optional(v.literal('*', 'Only If-None-Match: * is supported')),
})

export const BulkRequest = v.strictObject({
  put: v.optional(
    v.pipe(
      v.array(
        v.strictObject({
          key: Key,
          /** Any JSON value; stored as `application/json`. */
          value: v.unknown(),
          metadata: v.optional(v.unknown()),
          ttlSeconds: v.optional(TtlSeconds),
        }),
      ),
      v.maxLength(KV_LIMITS.maxBulk, `At most ${KV_LIMITS.maxBulk} entries`),
    ),
    [],
  ),
  delete: v.optional(
    v.pipe(v.array(Key), v.maxLength(KV_LIMITS.maxBulk, `At most ${KV_LIMITS.maxBulk} keys`)),
    [],
  ),
})
export type BulkInput = v.InferOutput<typeof BulkRequest>

export const BulkResult = v.object({
  results: v.array(
    v.object({
      key: v.string(),
      op: v.picklist(['put', 'delete']),
      ok: v.boolean(),
      error: v.optional(v.string()),
    }),
  ),
})

export const ListQuery = v.object({
  prefix: v.optional(v.pipe(v.string(), v.maxLength(KV_LIMITS.maxKeyBytes)), ''),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,4}$/),
      v.transform(Number),
      v.minValue(1),
      v.maxValue(KV_LIMITS.maxListLimit),
    ),
    '100',
  ),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(2048))),
})

export const KeyList = v.object({
  items: v.array(v.object({ key: v.string(), siblings: v.number(), metadata: v.array(v.unknown()) })),
  nextCursor: v.optional(v.string()),
})

export const Sibling = v.object({
  /** The value, base64. */
  value: v.string(),
  contentType: v.string(),
  metadata: v.unknown(),
  expiresAt: v.nullable(v.number()),
})
export const SiblingsView = v.object({ context: v.string(), siblings: v.array(Sibling) })

export const WriteResult = v.object({
  version: v.string(),
  context: v.string(),
  acks: v.number(),
  siblings: v.number(),
})

export const AntiEntropyResult = v.object({
  nodesAnswered: v.number(),
  differingLeaves: v.number(),
  hashesCompared: v.number(),
  versionsCopied: v.number(),
  bytesExchanged: v.number(),
  purged: v.number(),
  /** Each answering node's Merkle root for the namespace (hex). */
  roots: v.record(v.string(), v.string()),
})

/** `?after=<seq>` of the changefeed (or the `Last-Event-ID` header). */
export const FeedQuery = v.object({
  after: v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/, 'A sequence number'))),
})
export const FeedHeaders = v.object({
  'last-event-id': v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/, 'A sequence number'))),
})

export const RebalanceRequest = v.strictObject({
  /** The storage node ids of the new ring (at least N, each configured in STORAGE_NODES). */
  members: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'A node id'))),
    v.minLength(1),
    v.maxLength(256),
  ),
})

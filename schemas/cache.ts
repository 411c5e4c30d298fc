/**
 * Schemas of the distributed cache: cache settings (registry) and the Upstash Redis REST
 * wire (a command is a JSON array of strings, numbers and booleans). Every bound is here.
 */
import * as v from 'valibot'
import { ResourceMeta } from './common'

export const CACHE_BOUNDS = {
  maxNodes: 64,
  /** Per node: 64 KiB to 32 MiB (a Durable Object has 128 MB of memory; the heap holds more than the encoded size). */
  minMemory: 64 * 1024,
  maxMemory: 32 * 1024 * 1024,
  /** One argument (a key or a value) of a command, in characters. */
  maxArgumentChars: 1024 * 1024,
  maxArguments: 100_000,
  maxPipeline: 1_000,
  /** The whole request body; larger bodies answer 413 before reaching the cache. */
  maxBodyBytes: 4 * 1024 * 1024,
} as const

export const CACHE_DEFAULTS = {
  nodes: 3,
  maxmemory: 8 * 1024 * 1024,
  policy: 'lru',
  persistent: false,
} as const

export const POLICIES = ['lru', 'lfu', 'volatile-lru', 'noeviction'] as const

const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url(),
  v.regex(/^https?:\/\//, 'An http:// or https:// URL'),
)

/** A backing source: a table in the tenant's own libSQL database, or an HTTP origin. */
export const BackingSource = v.variant('kind', [
  v.strictObject({
    kind: v.literal('libsql'),
    url: v.pipe(
      v.string(),
      v.maxLength(2048),
      v.regex(/^(libsql|https?):\/\/\S+$/, 'A libsql://, https:// or http:// URL'),
    ),
    authToken: v.optional(v.pipe(v.string(), v.maxLength(4096))),
    table: v.pipe(
      v.string(),
      v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'An SQL identifier of at most 64 characters'),
    ),
  }),
  v.strictObject({
    kind: v.literal('http'),
    url: HttpUrl,
    headers: v.optional(
      v.pipe(
        v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,64}$/)), v.pipe(v.string(), v.maxLength(1024))),
        v.check((headers) => Object.keys(headers).length <= 16, 'At most 16 headers'),
      ),
    ),
  }),
])

export const BackingSettings = v.strictObject({
  source: BackingSource,
  /** A GET that misses is looked up in the source and cached for `readTtlSeconds`. */
  readThrough: v.optional(v.boolean(), false),
  readTtlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(30 * 86_400)), 300),
  /** `through`: the source is written before the cache; `behind`: queued durably, flushed in batches. */
  write: v.optional(v.picklist(['none', 'through', 'behind']), 'none'),
})

/** Hot-key read replication: reads of a hot key spread over `replicas` nodes. */
export const ReplicationSettings = v.strictObject({
  replicas: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(1),
    v.maxValue(8),
    v.description('Owner plus read replicas'),
  ),
  hotReadsPerSecond: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(1_000_000),
      v.description('Reads per second per isolate that make a key hot'),
    ),
    50,
  ),
  copyTtlMs: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(10),
      v.maxValue(60_000),
      v.description('Longest a replica copy is served (its staleness bound)'),
    ),
    1_000,
  ),
})

export const CacheSettings = v.strictObject({
  nodes: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(CACHE_BOUNDS.maxNodes),
      v.description('Cache nodes (Durable Objects) on the hash ring'),
    ),
    CACHE_DEFAULTS.nodes,
  ),
  maxmemory: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(CACHE_BOUNDS.minMemory),
      v.maxValue(CACHE_BOUNDS.maxMemory),
      v.description('Memory budget per node in bytes (encoded keys and values)'),
    ),
    CACHE_DEFAULTS.maxmemory,
  ),
  policy: v.optional(
    v.pipe(v.picklist(POLICIES), v.description('Eviction when a node is over budget')),
    CACHE_DEFAULTS.policy,
  ),
  persistent: v.optional(
    v.pipe(v.boolean(), v.description('Snapshot every change to the node’s SQLite so a restart warms up')),
    CACHE_DEFAULTS.persistent,
  ),
  backing: v.optional(BackingSettings),
  replication: v.optional(ReplicationSettings),
})

export const CacheView = v.object({
  ...ResourceMeta.entries,
  nodes: v.number(),
  maxmemory: v.number(),
  policy: v.picklist(POLICIES),
  persistent: v.boolean(),
  replication: v.optional(
    v.object({ replicas: v.number(), hotReadsPerSecond: v.number(), copyTtlMs: v.number() }),
  ),
  backing: v.optional(
    v.object({
      source: v.object({
        kind: v.picklist(['libsql', 'http']),
        url: v.string(),
        table: v.optional(v.string()),
      }),
      readThrough: v.boolean(),
      readTtlSeconds: v.number(),
      write: v.picklist(['none', 'through', 'behind']),
    }),
  ),
})

export const CacheList = v.object({ items: v.array(CacheView), nextCursor: v.optional(v.string()) })

export const NodeStatsView = v.object({
  node: v.number(),
  hits: v.number(),
  misses: v.number(),
  evictions: v.number(),
  expired: v.number(),
  keys: v.number(),
  usedMemory: v.number(),
  maxmemory: v.number(),
})

export const CacheStats = v.object({ nodes: v.array(NodeStatsView) })

const Argument = v.union([
  v.pipe(
    v.string(),
    v.maxLength(
      CACHE_BOUNDS.maxArgumentChars,
      `ERR argument longer than ${CACHE_BOUNDS.maxArgumentChars} characters`,
    ),
  ),
  v.number(),
  v.boolean(),
])

/** `["SET", "key", "value", "EX", 60]`: a command name then its arguments. */
export const RedisCommand = v.pipe(
  v.array(Argument),
  v.minLength(1, 'ERR empty command'),
  v.maxLength(CACHE_BOUNDS.maxArguments, 'ERR too many arguments'),
)

export const RedisPipeline = v.pipe(
  v.array(RedisCommand),
  v.minLength(1, 'ERR empty pipeline'),
  v.maxLength(CACHE_BOUNDS.maxPipeline, 'ERR too many commands in one pipeline'),
)

const ReplyValue = v.unknown()
export const RedisReply = v.union([v.object({ result: ReplyValue }), v.object({ error: v.string() })])
export const RedisReplies = v.array(RedisReply)

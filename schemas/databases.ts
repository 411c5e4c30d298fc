/**
 * Schemas of the databases block (`/v1/databases`): database creation, migrations, the
 * views returned. The Hrana routes (`/v1/databases/{db}/v2|v3/…`) speak the Hrana wire and
 * are bounded by the block's body limit (`DATABASES_MAX_BODY_BYTES`) and `HRANA_LIMITS`.
 */
import * as v from 'valibot'
import { integer, ResourceMeta, ResourceName } from './common'

export const DATABASES_LIMITS = {
  maxMigrationStatements: 200,
  maxStatementBytes: 64 * 1024,
  maxMigrationIdLength: 128,
  /** Requests in one Hrana pipeline (a batch counts as its steps). */
  maxPipelineStatements: 500,
  /** Tables whose row counts the statistics report. */
  maxStatsTables: 100,
} as const

/** Body limit of the block: one Hrana pipeline or one migration. */
export const DATABASES_MAX_BODY_BYTES = 1024 * 1024

export const DatabaseParam = v.object({ db: ResourceName })

const TableName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(128),
  v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'A table name: letters, digits and "_"'),
)

export const PartitionedTable = v.strictObject({
  /** The partition key column: a row's shard is picked by its value. */
  key: TableName,
  /** `hash`: spread evenly (ranges of the key's 32-bit hash); `range`: neighbouring keys together. */
  by: v.picklist(['hash', 'range']),
  /**
   * shards − 1 strictly ascending exclusive upper bounds (shard i < bounds[i]): keys for `range`
   * (required); hash points, integers in [1, 2^32), for `hash` (optional: even ranges by default).
   */
  bounds: v.optional(
    v.pipe(v.array(v.union([v.number(), v.pipe(v.string(), v.maxLength(256))])), v.maxLength(63)),
  ),
})

export const Partitioning = v.strictObject({
  shards: integer(1, 64, 'shards'),
  /** Partitioned tables by name; other tables live whole on shard 0. */
  tables: v.pipe(
    v.record(TableName, PartitionedTable),
    v.check(
      (tables) => Object.keys(tables).length >= 1 && Object.keys(tables).length <= 100,
      '1 to 100 tables',
    ),
  ),
})

export const CreateDatabaseRequest = v.strictObject({
  name: ResourceName,
  /** Makes a partitioned (sharded) database: statements are routed by their tables' keys. */
  partitioning: v.optional(Partitioning),
})

export const MigrationRequest = v.strictObject({
  /** Applied at most once per database: a second request with the same id changes nothing. */
  id: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(DATABASES_LIMITS.maxMigrationIdLength),
    v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'Letters, digits, ".", "_" and "-"'),
  ),
  /** SQL statements, applied in one transaction: all or nothing. */
  statements: v.pipe(
    v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(DATABASES_LIMITS.maxStatementBytes))),
    v.minLength(1),
    v.maxLength(DATABASES_LIMITS.maxMigrationStatements),
  ),
})
export type MigrationInput = v.InferOutput<typeof MigrationRequest>

export const DatabaseView = v.object({
  ...ResourceMeta.entries,
  /** The storage node holding the database. */
  node: v.string(),
  /** The client URL path (append to the platform's origin): `@libsql/client` uses it as `url`. */
  url: v.string(),
  partitioning: v.optional(
    v.object({ ...Partitioning.entries, /** Each shard's storage node. */ nodes: v.array(v.string()) }),
  ),
})

export const DatabaseList = v.object({ items: v.array(DatabaseView), nextCursor: v.optional(v.string()) })

export const MigrationResult = v.object({ id: v.string(), applied: v.boolean() })

export const DatabaseStats = v.object({
  sizeBytes: v.number(),
  pageCount: v.number(),
  pageSize: v.number(),
  tables: v.array(v.object({ name: v.string(), rows: v.number() })),
  migrations: v.array(v.object({ id: v.string(), appliedAt: v.number() })),
})

/** Read replicas per database (each on its own storage node). */
export const MAX_REPLICAS = 4
/** The longest deliberate delay of a replica. */
export const MAX_REPLICA_DELAY_SECONDS = 86_400

export const ReplicaId = v.pipe(v.string(), v.regex(/^r-[0-9a-f]{8}$/, 'A replica id: r- and 8 hex digits'))

export const ReplicaParam = v.object({ db: ResourceName, replica: ReplicaId })

export const CreateReplicaRequest = v.strictObject({
  /** The storage node to hold the replica; by default the next node on the ring not yet used by the database. */
  node: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'A storage node id'))),
  /** A deliberately delayed replica applies each change only once it is this old. */
  delaySeconds: v.optional(integer(0, MAX_REPLICA_DELAY_SECONDS, 'delaySeconds'), 0),
  /** A synchronous replica: writes are acknowledged only once one applied them; enables failover. */
  synchronous: v.optional(v.boolean(), false),
})

const replicaFields = {
  id: v.string(),
  node: v.string(),
  delaySeconds: v.number(),
  createdAt: v.number(),
  /** Writes are acknowledged once a synchronous replica applied them (failover). */
  synchronous: v.boolean(),
  /** `catching-up` until the replica holds a complete copy; `ready` once reads may go to it. */
  state: v.picklist(['catching-up', 'ready']),
  /**
   * The last change (log `seq`) the replica applied; comparable to `Edgeblocks-Replication-Position`.
   * Of a partitioned database: the sum over its shard copies (with `primaryPosition`, so `lagChanges` adds up).
   */
  position: v.number(),
  primaryPosition: v.number(),
  /** Changes committed on the primary that the replica has not applied. */
  lagChanges: v.number(),
  /** Age of the oldest change the replica has not applied (0 when caught up). */
  lagMs: v.number(),
  /** Commit-to-apply delay of its recent changes. */
  lagP50Ms: v.nullable(v.number()),
  lagP99Ms: v.nullable(v.number()),
  /** The last replication error, while it keeps failing. */
  error: v.nullable(v.string()),
}

/** A read replica; of a partitioned database, a copy of every shard (sums and worst cases above, each copy in `shards`). */
export const ReplicaView = v.object({
  ...replicaFields,
  /** Partitioned databases: each shard's copy (its node, position against that shard's primary, lag). */
  shards: v.optional(v.array(v.object({ ...replicaFields, shard: v.number() }))),
})

export const ReplicaList = v.object({ items: v.array(ReplicaView) })
export type CreateReplicaInput = v.InferOutput<typeof CreateReplicaRequest>

const failoverFields = {
  /** The new epoch: writes routed under an older one are refused. */
  epoch: v.number(),
  /** The storage node of the new primary. */
  node: v.string(),
  /** The promoted replica's log position (covers every acknowledged write). */
  position: v.number(),
}
export const FailoverResult = v.union([
  v.object(failoverFields),
  /** A partitioned database: each shard failed over, with its own epoch. */
  v.object({ shards: v.array(v.object({ shard: v.number(), ...failoverFields })) }),
])
/** `{}`, or for a partitioned database `{shard}`: switch that shard over now. */
export const FailoverRequest = v.strictObject({ shard: v.optional(integer(0, 63, 'shard')) })

/** Online resharding of a partitioned database (one job at a time). */
export const ReshardJobId = v.pipe(v.string(), v.regex(/^j-[0-9a-f]{8}$/, 'A job id: j- and 8 hex digits'))
export const ReshardParam = v.object({ db: ResourceName, job: ReshardJobId })
const ShardIndex = integer(0, 63, 'shard')
export const ReshardRequest = v.union([
  v.strictObject({
    /**
     * Split shard `shard` at `at`: points from `at` up move to a new shard after it. Range tables:
     * `at` is a key (required). Hash tables: a hash point strictly inside the shard's range of
     * [0, 2^32), by default the range's midpoint.
     */
    split: v.strictObject({
      shard: ShardIndex,
      at: v.optional(v.union([v.pipe(v.number(), v.finite()), v.pipe(v.string(), v.maxLength(256))])),
    }),
  }),
  v.strictObject({
    /** Move shard `shard` to the storage node `node`. */
    move: v.strictObject({
      shard: ShardIndex,
      node: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'A storage node id')),
    }),
  }),
])
export const ReshardJobView = v.object({
  id: v.string(),
  /** prepare, copy, catch-up, freeze, final-catch-up, cutover, cleanup, done. */
  phase: v.string(),
  kind: v.picklist(['split', 'move']),
  request: v.unknown(),
  source: v.string(),
  target: v.string(),
  /** The partition map version the cutover installs. */
  mapVersion: v.number(),
  rowsCopied: v.number(),
  changesCaughtUp: v.number(),
  rowsDeleted: v.number(),
  frozenAt: v.nullable(v.number()),
  /** When the new map took over (the moved rows are deleted from the source after a grace period). */
  cutoverAt: v.nullable(v.number()),
  createdAt: v.number(),
  doneAt: v.nullable(v.number()),
  /** The last step's error (the step is retried). */
  error: v.nullable(v.string()),
})

const Rate = v.object({ count: v.number(), perSecond: v.number() })
export const ShardAnalysis = v.object({
  shards: v.array(
    v.object({
      shard: v.number(),
      node: v.string(),
      sizeBytes: v.number(),
      tables: v.array(v.object({ name: v.string(), rows: v.number() })),
      /** Statements routed to the shard by this isolate's router in the last `windowSeconds`. */
      reads: Rate,
      writes: Rate,
      /** The most frequent partition keys seen (Space-Saving: `count` over-estimates by at most `error`). */
      hottestKeys: v.array(
        v.object({ table: v.string(), key: v.unknown(), count: v.number(), error: v.number() }),
      ),
      /** The shard's read replicas (each a copy of this shard) and their lag behind this shard's primary. */
      replicas: v.array(
        v.object({
          id: v.string(),
          node: v.string(),
          lagMs: v.number(),
          lagChanges: v.number(),
          state: v.string(),
        }),
      ),
    }),
  ),
  mapVersion: v.number(),
  windowSeconds: v.number(),
})

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
  /** `hash`: spread evenly; `range`: neighbouring keys together, split at `bounds`. */
  by: v.picklist(['hash', 'range']),
  /** For `range`: shards − 1 strictly ascending exclusive upper bounds (shard i < bounds[i]). */
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

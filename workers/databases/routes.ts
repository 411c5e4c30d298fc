/**
 * `/v1/databases`: a tenant's SQL databases (create, list, get, delete, migrations,
 * statistics, shard analysis), their read replicas and failover, and online resharding.
 * Mounted beneath them, at `/v1/databases/{db}/`, two standard wires with their own errors:
 * Hrana over HTTP for `@libsql/client` and the libraries built on it (hrana-routes.ts), and
 * the sync protocol of its embedded replicas (`syncUrl`, sync-routes.ts).
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  CreateDatabaseRequest,
  CreateReplicaRequest,
  DatabaseList,
  DatabaseParam,
  DatabaseStats,
  DatabaseView,
  FailoverRequest,
  FailoverResult,
  MigrationRequest,
  MigrationResult,
  ReplicaList,
  ReplicaParam,
  ReplicaView,
  ReshardJobView,
  ReshardParam,
  ReshardRequest,
  ShardAnalysis,
} from '../../schemas/databases'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { applyMigration, databaseStats } from './admin'
import { captureSchema } from './capture'
import {
  backendClient,
  createDatabase,
  databaseResource,
  deleteDatabase,
  getDatabase,
  listDatabases,
} from './catalog'
import { databaseHranaRoutes } from './hrana-routes'
import { createReplica, deleteReplica, getReplica, listReplicas } from './replicas'
import { replicatorStub } from './replicator'
import { reshardStatus, startReshard } from './reshard'
import { failoverShards } from './shard-replicas'
import { shardAnalysis } from './shards'
import { databaseSyncRoutes } from './sync-routes'

const tags = ['databases']

export const databaseRoutes = new Hono<AuthEnv>()
  .get(
    '/',
    describe({
      tags,
      summary: "List the tenant's databases",
      scope: 'databases:read',
      responses: { 200: { description: 'A page of databases', schema: DatabaseList } },
    }),
    requireScope('databases:read'),
    validate('query', PageQuery),
    async function listDatabasesRoute(c) {
      return c.json(await listDatabases(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .post(
    '/',
    describe({
      tags,
      summary: 'Create a database',
      description:
        'The database lives on a storage node chosen by the consistent-hash ring; `url` is its Hrana URL. ' +
        'With `partitioning` it is split over `shards` shard databases spread over the nodes: each named ' +
        "table's rows go to the shard of their key; statements that pin the key run on one shard, reads " +
        'that do not are scattered and merged, cross-shard writes are refused (see the README).',
      scope: 'databases:write',
      responses: { 201: { description: 'Created', schema: DatabaseView } },
      problems: [409],
    }),
    requireScope('databases:write'),
    validate('json', CreateDatabaseRequest),
    async function createDatabaseRoute(c) {
      const { name, partitioning } = c.req.valid('json')
      return c.json(await createDatabase(c.env, tenantOf(c), name, partitioning), 201)
    },
  )
  .get(
    '/:db',
    describe({
      tags,
      summary: 'A database',
      scope: 'databases:read',
      responses: { 200: { description: 'The database', schema: DatabaseView } },
      problems: [404],
    }),
    requireScope('databases:read'),
    validate('param', DatabaseParam),
    async function getDatabaseRoute(c) {
      return c.json(await databaseResource(c.env, tenantOf(c), c.req.valid('param').db))
    },
  )
  .delete(
    '/:db',
    describe({
      tags,
      summary: 'Delete a database',
      description: 'Its tables are dropped; a database created again under the same name starts empty.',
      scope: 'databases:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('databases:write'),
    validate('param', DatabaseParam),
    async function deleteDatabaseRoute(c) {
      const name = c.req.valid('param').db
      const shards = (await getDatabase(c.env, tenantOf(c), name)).partitions?.shards.length ?? 0
      await deleteDatabase(c.env, tenantOf(c), name)
      await replicatorStub(c.env, tenantOf(c), name).reset()
      for (let shard = 0; shard < shards; shard++)
        await replicatorStub(c.env, tenantOf(c), name, shard).reset()
      return c.json({ deleted: true })
    },
  )
  .post(
    '/:db/migrations',
    describe({
      tags,
      summary: 'Apply a migration',
      description:
        'The statements run in one transaction with the record of `id`: all or nothing, and at most once ' +
        '(`applied: false` when `id` was applied before). A failing statement answers 400 and changes nothing.',
      scope: 'databases:write',
      responses: { 200: { description: 'The outcome', schema: MigrationResult } },
      problems: [404, 409, 502],
    }),
    requireScope('databases:write'),
    validate('param', DatabaseParam),
    validate('json', MigrationRequest),
    async function migrateRoute(c) {
      const db = await getDatabase(c.env, tenantOf(c), c.req.valid('param').db)
      const input = c.req.valid('json')
      if (db.partitions) {
        if (db.partitions.job !== undefined)
          throw new AppError(
            'conflict',
            `Resharding job ${db.partitions.job} is moving rows; migrate after it.`,
          )
        // a partitioned database: every shard, each all-or-nothing (a retry completes the rest)
        const outcomes = []
        for (const [index, shard] of db.partitions.shards.entries()) {
          outcomes.push(await applyMigration(shard, input))
          if (shard.replicas.length === 0) continue
          // Each shard's own replication group: its schema change logged before the answer.
          await captureSchema(backendClient(shard), 'check').catch(() => undefined)
          await replicatorStub(c.env, db.tenant, db.name, index).notify()
        }
        return c.json({ id: input.id, applied: outcomes.some((outcome) => outcome.applied) })
      }
      const result = await applyMigration(db, input)
      // With replicas, the migration's schema change is logged before the answer (capture.ts).
      await captureSchema(backendClient(db), 'check').catch(() => undefined)
      if (db.replicas.length > 0) await replicatorStub(c.env, db.tenant, db.name).notify()
      return c.json(result)
    },
  )
  .get(
    '/:db/replicas',
    describe({
      tags,
      summary: "A database's read replicas, with their lag",
      scope: 'databases:read',
      responses: { 200: { description: 'The replicas', schema: ReplicaList } },
      problems: [404],
    }),
    requireScope('databases:read'),
    validate('param', DatabaseParam),
    async function listReplicasRoute(c) {
      return c.json(await listReplicas(c.env, tenantOf(c), c.req.valid('param').db))
    },
  )
  .post(
    '/:db/replicas',
    describe({
      tags,
      summary: 'Add a read replica',
      description:
        'A copy of the database on another storage node, kept in step from the change log. It starts ' +
        '`catching-up` and becomes `ready` once it holds a complete copy; reads opt in with ' +
        '`?replica=nearest` (or the `Edgeblocks-Replica` header) on the Hrana URL. Of a partitioned ' +
        "database: a copy of every shard, each on a node other than that shard's primary and kept in step " +
        "by that shard's own replicator; `shards` lists each copy's node and lag, and the position token " +
        '(`Edgeblocks-Replication-Position`) holds one position per shard.',
      scope: 'databases:write',
      responses: { 201: { description: 'Created', schema: ReplicaView } },
      problems: [404, 409, 502],
    }),
    requireScope('databases:write'),
    validate('param', DatabaseParam),
    validate('json', CreateReplicaRequest),
    async function createReplicaRoute(c) {
      return c.json(
        await createReplica(c.env, tenantOf(c), c.req.valid('param').db, c.req.valid('json')),
        201,
      )
    },
  )
  .get(
    '/:db/replicas/:replica',
    describe({
      tags,
      summary: 'A read replica, with its lag',
      scope: 'databases:read',
      responses: { 200: { description: 'The replica', schema: ReplicaView } },
      problems: [404],
    }),
    requireScope('databases:read'),
    validate('param', ReplicaParam),
    async function getReplicaRoute(c) {
      const { db, replica } = c.req.valid('param')
      return c.json(await getReplica(c.env, tenantOf(c), db, replica))
    },
  )
  .delete(
    '/:db/replicas/:replica',
    describe({
      tags,
      summary: 'Remove a read replica',
      description: 'Reads stop going to it; its copy is dropped.',
      scope: 'databases:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404, 412],
    }),
    requireScope('databases:write'),
    validate('param', ReplicaParam),
    async function deleteReplicaRoute(c) {
      const { db, replica } = c.req.valid('param')
      await deleteReplica(c.env, tenantOf(c), db, replica)
      return c.json({ deleted: true })
    },
  )
  .post(
    '/:db/failover',
    describe({
      tags,
      summary: 'Fail over to a synchronous replica',
      description:
        'Promotes the replica holding every acknowledged write (the highest position), bumps the epoch so ' +
        'writes routed under the old one are refused, and rebuilds the other copies from it. The platform ' +
        'does the same on its own after consecutive failed health checks of the primary. 409 when the ' +
        'database has no synchronous replica or none reachable holds every acknowledged write. A partitioned ' +
        'database fails over shard by shard (each its own epoch): `{"shard": i}` switches that shard over now; ' +
        'without it, every shard with a synchronous replica whose primary does not answer fails over (409 when none).',
      scope: 'databases:write',
      responses: {
        200: {
          description: 'The new primary (per shard for a partitioned database)',
          schema: FailoverResult,
        },
      },
      problems: [404, 409, 502],
    }),
    requireScope('databases:write'),
    validate('param', DatabaseParam),
    async function failoverRoute(c) {
      // The replicator refuses (409) a database without a synchronous replica.
      const db = await getDatabase(c.env, tenantOf(c), c.req.valid('param').db)
      const text = await c.req.text()
      let json: unknown
      try {
        json = text.trim() === '' ? {} : JSON.parse(text)
      } catch {
        json = undefined
      }
      const body = v.safeParse(FailoverRequest, json)
      if (!body.success)
        throw new AppError('validation_failed', 'The body must be {} or {"shard": i}.', {
          errors: body.issues.map((issue) => ({
            path: `body/${v.getDotPath(issue) ?? ''}`,
            message: issue.message,
          })),
        })
      if (db.partitions) return c.json(await failoverShards(c.env, db, body.output.shard))
      if (body.output.shard !== undefined)
        throw new AppError('validation_failed', 'Only partitioned databases have shards.', {
          errors: [{ path: 'body/shard', message: 'Not a partitioned database' }],
        })
      return c.json(await replicatorStub(c.env, db.tenant, db.name).failover())
    },
  )
  .get(
    '/:db/stats',
    describe({
      tags,
      summary: "A database's size and statistics",
      scope: 'databases:read',
      responses: { 200: { description: 'Size, row counts, migrations', schema: DatabaseStats } },
      problems: [404, 502],
    }),
    requireScope('databases:read'),
    validate('param', DatabaseParam),
    async function statsRoute(c) {
      const db = await getDatabase(c.env, tenantOf(c), c.req.valid('param').db)
      return c.json(await databaseStats(db))
    },
  )
  .post(
    '/:db/reshard',
    describe({
      tags,
      summary: 'Reshard a partitioned database online',
      description:
        '`{split: {shard, at?}}` splits a shard at `at` (points from `at` up move to a new shard after it): ' +
        'for range-partitioned tables `at` is a key (required); for hash-partitioned tables, whose shards ' +
        "own ranges of the key's 32-bit hash, a hash point strictly inside the shard's range (default: its " +
        'midpoint). A database mixing range and hash tables, or stored with the old `hash mod shards` ' +
        'scheme, cannot split (409; move the shard instead). `{move: {shard, node}}` moves a shard to ' +
        'another storage node. ' +
        'Writes go on: rows are copied, the change log caught up, writes to the moving range refused ' +
        'briefly (503 with Retry-After), then the partition map is switched. Answers the job (202). ' +
        'Refused (409) while the shards have read replicas: remove replicas first.',
      scope: 'databases:write',
      responses: { 202: { description: 'The job, started', schema: ReshardJobView } },
      problems: [404, 409],
    }),
    requireScope('databases:write'),
    validate('param', DatabaseParam),
    validate('json', ReshardRequest),
    async function reshardRoute(c) {
      const { db } = c.req.valid('param')
      return c.json(await startReshard(c.env, tenantOf(c), db, c.req.valid('json')), 202)
    },
  )
  .get(
    '/:db/reshard/:job',
    describe({
      tags,
      summary: 'A resharding job: phase and progress',
      scope: 'databases:read',
      responses: { 200: { description: 'The job', schema: ReshardJobView } },
      problems: [404],
    }),
    requireScope('databases:read'),
    validate('param', ReshardParam),
    async function reshardStatusRoute(c) {
      const { db, job } = c.req.valid('param')
      return c.json(await reshardStatus(c.env, tenantOf(c), db, job))
    },
  )
  .get(
    '/:db/shards',
    describe({
      tags,
      summary: "Where a database's data and traffic are, per shard",
      description:
        'Per shard: node, size, rows per table, read and write statements routed to it in the last ' +
        "minute (by this Worker instance's router), its hottest partition keys (Space-Saving) and replica lag.",
      scope: 'databases:read',
      responses: { 200: { description: 'The shards', schema: ShardAnalysis } },
      problems: [404, 502],
    }),
    requireScope('databases:read'),
    validate('param', DatabaseParam),
    async function shardsRoute(c) {
      return c.json(await shardAnalysis(c.env, tenantOf(c), c.req.valid('param').db))
    },
  )
  // Hrana over HTTP and the embedded replicas' sync protocol (standard wires; their own errors).
  .route('/', databaseHranaRoutes)
  .route('/', databaseSyncRoutes)

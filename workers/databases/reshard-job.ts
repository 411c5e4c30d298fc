/**
 * `DatabaseReshardJob`: one online split or move of a partitioned database's shard
 * (`<tenant>:database-reshard:<db>/<job>`), run step by step from its alarm while writes go on:
 *
 * 1. prepare: the target namespace gets the moving tables' schema; the source shard gets the
 *    change-capture triggers of changelog.ts and the log's position is noted, in one transaction.
 * 2. copy: the source's rows, 500 per step in rowid order, those of the moving range written to
 *    the target (INSERT OR REPLACE with the same rowid: a repeated step changes nothing).
 * 3. catch-up: the log after the noted position, 500 changes per step, replayed on the target
 *    (changes of rows outside the moving range skipped), until a step finds less than a batch.
 * 4. freeze: fence triggers on the source refuse writes to the moving range (the router answers
 *    them 503 with Retry-After); 5. final catch-up: the rest of the log, now closed for the range.
 * 6. cutover: the partition map (new scheme and placements, version + 1) replaces the old one in
 *    the registry by compare-and-set; the fence stays, so an older map cannot write there.
 *    The source's capture triggers and log are dropped.
 * 7. cleanup: once no router can still hold the old map (`CLEANUP_GRACE_MS` after cutover:
 *    the catalog cache's lifetime plus a node request's timeout), the moved rows are deleted
 *    from the source, 500 per step.
 *
 * State lives in the object's storage after every step; each step is idempotent, so a crash
 * at any point resumes at the step it was in. Nothing is lost (every committed write is in
 * the snapshot or in the log) or duplicated (rows keep their rowid; replays overwrite).
 */

import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { getResource, updateResource } from '../platform/registry'
import { objectStub } from '../platform/tenancy'
import {
  CATALOG_CACHE_MS,
  DATABASE_KIND,
  type DatabaseConfig,
  dropAll,
  forgetDatabase,
  NODE_TIMEOUT_MS,
  namespaceClient,
  nodeById,
} from './catalog'
import {
  applyStatements,
  CHANGES_TABLE,
  type Change,
  CREATE_CHANGES,
  isCapturedTable,
  POSITION_SQL,
  quoteIdentifier,
  rowImage,
  SCHEMA_OBJECTS_SQL,
  type SchemaObject,
  triggerStatements,
} from './changelog'
import {
  deleteFenceName,
  fenceStatements,
  imageMovesSql,
  imageValue,
  keyColumns,
  type MovingTable,
  moves,
  placementsAfter,
  type ReshardPlan,
  type ReshardRequest,
  rowMoves,
} from './partitions/reshard'

declare global {
  namespace Cloudflare {
    interface Env {
      DATABASE_RESHARDS: DurableObjectNamespace<DatabaseReshardJob>
      /** Milliseconds between a job's steps (default 0; tests set it high and fire the alarm themselves). */
      RESHARD_STEP_DELAY_MS?: string
    }
  }
}

export const RESHARD_BATCH = 500
const RETRY_MS = 2_000
/** How long after cutover the moved rows stay (fenced) at the source. */
export const CLEANUP_GRACE_MS = CATALOG_CACHE_MS + NODE_TIMEOUT_MS

export type Phase =
  | 'prepare'
  | 'copy'
  | 'catch-up'
  | 'freeze'
  | 'final-catch-up'
  | 'cutover'
  | 'cleanup'
  | 'done'

interface Place {
  node: string
  namespace: string
}

export interface JobState {
  id: string
  tenant: string
  database: string
  request: ReshardRequest
  plan: ReshardPlan
  source: Place
  target: Place
  /** The map version the cutover installs. */
  version: number
  phase: Phase
  /** Tables that move (name, columns, partition key). */
  tables: MovingTable[]
  table: number
  cursor: number
  position: number
  rowsCopied: number
  changesApplied: number
  rowsDeleted: number
  steps: number
  attempts: number
  error: string | null
  createdAt: number
  updatedAt: number
  frozenAt: number | null
  cutoverAt?: number | null
  doneAt: number | null
}

export function reshardStub(env: Env, tenant: string, database: string, job: string) {
  return objectStub(env.DATABASE_RESHARDS, tenant, 'database-reshard', `${database}/${job}`)
}

export function jobView(state: JobState) {
  return {
    id: state.id,
    phase: state.phase,
    kind: state.plan.kind,
    request: state.request,
    source: state.source.node,
    target: state.target.node,
    mapVersion: state.version,
    rowsCopied: state.rowsCopied,
    changesCaughtUp: state.changesApplied,
    rowsDeleted: state.rowsDeleted,
    frozenAt: state.frozenAt,
    cutoverAt: state.cutoverAt ?? null,
    createdAt: state.createdAt,
    doneAt: state.doneAt,
    error: state.error,
  }
}

export class DatabaseReshardJob extends HostedObject<Env> {
  private running: Promise<void> | undefined
  clock: () => number = () => Date.now()

  async start(state: JobState): Promise<ReturnType<typeof jobView>> {
    const known = await this.ctx.storage.get<JobState>('job')
    if (!known) {
      await this.ctx.storage.put('job', state)
      await this.ctx.storage.setAlarm(this.clock() + this.pace())
    }
    return jobView(known ?? state)
  }

  async status(): Promise<ReturnType<typeof jobView> | null> {
    const state = await this.ctx.storage.get<JobState>('job')
    return state ? jobView(state) : null
  }

  override async alarm(): Promise<void> {
    await this.step()
  }

  /** Runs one step (the alarm's work), then re-arms the alarm unless the job is done. */
  async step(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined)
    this.running = this.runStep().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private pace(): number {
    return Number(this.env.RESHARD_STEP_DELAY_MS ?? 0) || 0
  }

  private client(place: Place) {
    return namespaceClient(nodeById(this.env, place.node), place.namespace)
  }

  private async runStep(): Promise<void> {
    const state = await this.ctx.storage.get<JobState>('job')
    if (!state || state.phase === 'done') return
    try {
      await this.advance(state)
      state.error = null
      state.attempts = 0
    } catch (error) {
      state.error = error instanceof Error ? error.message : String(error)
      state.attempts++
      if (error instanceof AppError && error.code === 'not_found') {
        // The database was deleted under the job: nothing left to move.
        state.phase = 'done'
        state.doneAt = this.clock()
      }
    }
    state.steps++
    state.updatedAt = this.clock()
    await this.ctx.storage.put('job', state)
    const waitUntil = state.phase === 'cleanup' && state.cutoverAt ? state.cutoverAt + CLEANUP_GRACE_MS : 0
    if ((state.phase as Phase) !== 'done')
      await this.ctx.storage.setAlarm(
        Math.max(
          waitUntil,
          this.clock() + this.pace() + (state.attempts > 0 ? RETRY_MS * Math.min(state.attempts, 30) : 0),
        ),
      )
  }

  private async advance(state: JobState): Promise<void> {
    const source = this.client(state.source)
    const target = this.client(state.target)
    switch (state.phase) {
      case 'prepare': {
        const schema = (await source.execute(SCHEMA_OBJECTS_SQL)).rows as unknown as SchemaObject[]
        const moving = schema.filter(
          (o) =>
            state.plan.kind === 'move' || Object.hasOwn(state.plan.scheme.tables, o.tbl_name.toLowerCase()),
        )
        const tables: JobState['tables'] = []
        for (const o of moving.filter(isCapturedTable)) {
          const columns = await source.execute({
            sql: 'SELECT name FROM pragma_table_info(?) ORDER BY cid',
            args: [o.name],
          })
          tables.push({
            name: o.name,
            columns: columns.rows.map((row) => String(row.name)),
            key: state.plan.scheme.tables[o.name.toLowerCase()]?.key ?? null,
          })
        }
        await dropAll(target)
        const order = ['table', 'index', 'view']
        const creates = [...moving].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type))
        if (creates.length > 0)
          await target.batch(
            creates.map((o) => o.sql),
            'write',
          )
        const installed = await source.batch(
          [CREATE_CHANGES, ...tables.flatMap((t) => triggerStatements(t.name, t.columns)), POSITION_SQL],
          'write',
        )
        state.position = Number(installed.at(-1)?.rows[0]?.position ?? 0)
        state.tables = tables
        state.table = 0
        state.cursor = 0
        state.phase = 'copy'
        return
      }
      case 'copy': {
        const table = state.tables[state.table]
        if (!table) {
          state.phase = 'catch-up'
          return
        }
        const rows = await source.execute({
          sql: `SELECT r.rowid AS rid, ${keyColumns(state.plan, table, 'r')}, ${rowImage('r', table.columns)} AS row FROM ${quoteIdentifier(table.name)} AS r WHERE r.rowid > ? ORDER BY r.rowid LIMIT ?`,
          args: [state.cursor, RESHARD_BATCH],
        })
        const statements = rows.rows
          .filter((row) => rowMoves(state.plan, table.name, row))
          .flatMap((row) =>
            applyStatements({
              seq: 0,
              tbl: table.name,
              op: 'I',
              rid: row.rid as number,
              old_rid: null,
              row: String(row.row),
            }),
          )
        if (statements.length > 0) await target.batch(statements, 'write')
        state.rowsCopied += statements.length
        if (rows.rows.length < RESHARD_BATCH) {
          state.table++
          state.cursor = 0
        } else state.cursor = Number(rows.rows.at(-1)?.rid)
        return
      }
      case 'catch-up':
      case 'final-catch-up': {
        const changes = (
          await source.execute({
            sql: `SELECT seq, tbl, op, rid, old_rid, row, ${imageMovesSql(state.plan, state.tables)} AS m FROM ${CHANGES_TABLE} WHERE seq > ? ORDER BY seq LIMIT ?`,
            args: [state.position, RESHARD_BATCH],
          })
        ).rows as unknown as Array<Change & { m: number | null }>
        const keyOf = new Map(state.tables.map((t) => [t.name, t.key]))
        const wanted = changes.filter((change) => {
          if (change.tbl === null || !keyOf.has(change.tbl)) return false
          if (change.op === 'D') return true
          if (change.m !== null) return Number(change.m) === 1
          const key = keyOf.get(change.tbl)
          return moves(state.plan, change.tbl, key ? imageValue(change.row, key) : undefined)
        })
        const statements = wanted.flatMap(applyStatements)
        if (statements.length > 0) await target.batch(statements, 'write')
        state.changesApplied += wanted.length
        if (changes.length > 0) state.position = Number(changes.at(-1)?.seq)
        if (changes.length < RESHARD_BATCH) state.phase = state.phase === 'catch-up' ? 'freeze' : 'cutover'
        return
      }
      case 'freeze': {
        await source.batch(
          state.tables.flatMap((t) =>
            fenceStatements(state.plan, t.name, 'this key range is being moved; retry'),
          ),
          'write',
        )
        state.frozenAt = this.clock()
        state.phase = 'final-catch-up'
        return
      }
      case 'cutover': {
        await this.cutover(state)
        // The log has served its purpose: cleanup's deletes are not captured.
        await source.batch(
          [
            ...state.tables.flatMap((t) => triggerStatements(t.name, t.columns).slice(0, 3)),
            `DROP TABLE IF EXISTS ${CHANGES_TABLE}`,
          ],
          'write',
        )
        state.table = 0
        state.cursor = 0
        state.cutoverAt = this.clock()
        state.phase = 'cleanup'
        return
      }
      case 'cleanup': {
        // Rows are deleted only once no router can still hold the old map (its cache has
        // expired and its requests timed out): until then the fence answers its writes.
        if (this.clock() < (state.cutoverAt ?? 0) + CLEANUP_GRACE_MS) return
        await this.cleanupStep(state, source)
        return
      }
    }
  }

  private async cutover(state: JobState): Promise<void> {
    const resource = await getResource<DatabaseConfig>(this.env, state.tenant, DATABASE_KIND, state.database)
    const partitioning = resource.config.partitioning
    if (!partitioning) throw new Error('The database is no longer partitioned.')
    if ((partitioning.version ?? 1) >= state.version) return // this step already ran
    const shards = placementsAfter(state.plan, partitioning.shards, state.target)
    const { job: _job, ...rest } = partitioning
    const home = shards[0] as Place
    await updateResource<DatabaseConfig>(
      this.env,
      state.tenant,
      DATABASE_KIND,
      state.database,
      {
        ...resource.config,
        node: home.node,
        namespace: home.namespace,
        partitioning: { ...rest, scheme: state.plan.scheme, shards, version: state.version },
      },
      { ifVersion: resource.version },
    )
    forgetDatabase(state.tenant, state.database)
  }

  private async cleanupStep(
    state: JobState,
    source: ReturnType<DatabaseReshardJob['client']>,
  ): Promise<void> {
    const table = state.tables[state.table]
    if (!table) {
      state.phase = 'done'
      state.doneAt = this.clock()
      return
    }
    const rows = await source.execute({
      sql: `SELECT r.rowid AS rid, ${keyColumns(state.plan, table, 'r')} FROM ${quoteIdentifier(table.name)} AS r WHERE r.rowid > ? ORDER BY r.rowid LIMIT ?`,
      args: [state.cursor, RESHARD_BATCH],
    })
    const doomed = rows.rows
      .filter((row) => rowMoves(state.plan, table.name, row))
      .map((row) => row.rid as number)
    if (doomed.length > 0) {
      const fence = fenceStatements(state.plan, table.name, 'this key range has moved; retry').at(
        -1,
      ) as string
      await source.batch(
        [
          `DROP TRIGGER IF EXISTS ${deleteFenceName(table.name)}`,
          {
            sql: `DELETE FROM ${quoteIdentifier(table.name)} WHERE rowid IN (SELECT value FROM json_each(?))`,
            args: [JSON.stringify(doomed)],
          },
          fence,
        ],
        'write',
      )
    }
    state.rowsDeleted += doomed.length
    if (rows.rows.length < RESHARD_BATCH) {
      state.table++
      state.cursor = 0
    } else state.cursor = Number(rows.rows.at(-1)?.rid)
  }
}

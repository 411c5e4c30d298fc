/**
 * Starting and reading resharding jobs (the job itself: reshard-job.ts). A job is admitted
 * only when the request fits the current map (partitions/reshard.ts) and no other job runs on
 * the database and its shards have no read replicas: the job id is written into the registry
 * entry by compare-and-set, so two concurrent requests (or a replica added meanwhile) cannot
 * both succeed. A refused request changes nothing.
 */
import type * as v from 'valibot'
import type { ReshardRequest as ReshardBody } from '../../schemas/databases'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { getResource, updateResource } from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import { DATABASE_KIND, type DatabaseConfig, forgetDatabase } from './catalog'
import { planReshard } from './partitions/reshard'
import { type JobState, reshardStub } from './reshard-job'
import { assertNoShardReplicas } from './shard-replicas'

export async function startReshard(
  env: Env,
  tenant: string,
  name: string,
  request: v.InferOutput<typeof ReshardBody>,
  now = Date.now(),
) {
  const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  const partitioning = resource.config.partitioning
  if (!partitioning) throw new AppError('conflict', 'Only partitioned databases can be resharded.')
  assertNoShardReplicas(partitioning)
  const plan = planReshard(partitioning.scheme, request)
  const invalid = (path: string, message: string) =>
    new AppError('validation_failed', message, { errors: [{ path, message }] })
  if (typeof plan === 'string') throw invalid(`body/${'split' in request ? 'split' : 'move'}`, plan)
  if ('conflict' in plan) throw new AppError('conflict', plan.conflict)
  if (plan.scheme.shards > 64) throw invalid('body/split', 'A database has at most 64 shards.')
  if (partitioning.job !== undefined) {
    const running = await reshardStub(env, tenant, name, partitioning.job).status()
    if (running && running.phase !== 'done')
      throw new AppError('conflict', `The resharding job ${partitioning.job} is still running.`)
  }
  const source = partitioning.shards[plan.source] as { node: string; namespace: string }
  const node = 'move' in request ? request.move.node : source.node
  if (!storageNodes(env).some((candidate) => candidate.id === node))
    throw invalid('body/move/node', `No storage node "${node}".`)
  if ('move' in request && node === source.node)
    throw invalid('body/move/node', `Shard ${plan.source} is already on "${node}".`)
  const id = `j-${crypto.randomUUID().slice(0, 8)}`
  const state: JobState = {
    id,
    tenant,
    database: name,
    request,
    plan,
    source,
    target: { node, namespace: `d${crypto.randomUUID().replaceAll('-', '')}` },
    version: (partitioning.version ?? 1) + 1,
    phase: 'prepare',
    tables: [],
    table: 0,
    cursor: 0,
    position: 0,
    rowsCopied: 0,
    changesApplied: 0,
    rowsDeleted: 0,
    steps: 0,
    attempts: 0,
    error: null,
    createdAt: now,
    updatedAt: now,
    frozenAt: null,
    doneAt: null,
  }
  await updateResource<DatabaseConfig>(
    env,
    tenant,
    DATABASE_KIND,
    name,
    { ...resource.config, partitioning: { ...partitioning, job: id } },
    { ifVersion: resource.version },
  )
  forgetDatabase(tenant, name)
  return await reshardStub(env, tenant, name, id).start(state)
}

export async function reshardStatus(env: Env, tenant: string, name: string, job: string) {
  await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
  const view = await reshardStub(env, tenant, name, job).status()
  if (!view) throw new AppError('not_found', `No resharding job "${job}" on "${name}".`)
  return view
}

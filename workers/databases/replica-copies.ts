/**
 * One replica copy, shared by single and partitioned databases: its view (position, lag,
 * state), the checks on a request for one, and starting it (a checkpoint of the primary
 * into the change log, the copy's starting position in its namespace, the replicator told).
 */
import { type CreateReplicaInput, MAX_REPLICAS } from '../../schemas/databases'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { storageNodes } from '../platform/storage-nodes'
import { captureSchema } from './capture'
import { backendClient, namespaceClient, nodeById, type ReplicaConfig } from './catalog'
import { seedReplicaStatements } from './changelog'
import { primaryStatements } from './failover'
import type { ReplicaStatus, replicatorStub } from './replicator'

export function replicaView(replica: ReplicaConfig, status: ReplicaStatus | undefined) {
  const position = status?.position ?? 0
  return {
    id: replica.id,
    node: replica.node,
    delaySeconds: replica.delayMs / 1000,
    synchronous: replica.synchronous === true,
    createdAt: replica.createdAt,
    state: status && position >= status.ready ? ('ready' as const) : ('catching-up' as const),
    position,
    primaryPosition: status?.primaryPosition ?? 0,
    lagChanges: status?.lagChanges ?? 0,
    lagMs: status?.lagMs ?? 0,
    lagP50Ms: status?.lagP50Ms ?? null,
    lagP99Ms: status?.lagP99Ms ?? null,
    error: status?.error ?? null,
  }
}

/** A 400 unless `node` is a configured storage node. */
export function checkNodeExists(env: Env, node: string): void {
  if (!storageNodes(env).some((candidate) => candidate.id === node)) {
    throw new AppError('validation_failed', `No storage node "${node}".`, {
      errors: [{ path: 'body/node', message: 'Not a configured storage node' }],
    })
  }
}

/** A copy of `primary` to start: seeded from a checkpoint, then handed to the replicator. */
export interface NewCopy {
  primary: { node: string; namespace: string }
  replica: ReplicaConfig
  synchronous: boolean
  /** The replicator (the database's, or its shard's) and what it replicates. */
  replicator: ReturnType<typeof replicatorStub>
  database: { tenant: string; name: string; shard?: number }
}

/** Checkpoints the primary, seeds the replica's namespace and attaches it to the replicator. */
export async function startCopy(env: Env, copy: NewCopy): Promise<void> {
  const { primary, replica } = copy
  const unreachable = (error: unknown, which: string) =>
    new AppError('bad_gateway', `The storage node "${which}" did not answer: ${String(error).slice(0, 200)}`)
  const source = { node: nodeById(env, primary.node), namespace: primary.namespace }
  const checkpoint = await captureSchema(backendClient(source), 'checkpoint').catch((error: unknown) => {
    throw unreachable(error, primary.node)
  })
  await namespaceClient(nodeById(env, replica.node), replica.namespace)
    .batch(seedReplicaStatements(checkpoint.start, checkpoint.end, replica.createdAt), 'write')
    .catch((error: unknown) => {
      throw unreachable(error, replica.node)
    })
  await copy.replicator.attach(
    primary,
    {
      id: replica.id,
      node: replica.node,
      namespace: replica.namespace,
      delayMs: replica.delayMs,
      synchronous: copy.synchronous,
    },
    checkpoint.start,
    checkpoint.end,
    copy.database,
  )
  if (copy.synchronous) {
    // Failover on: the primary's copy holds its epoch and refuses writes once deposed (failover.ts).
    const { epoch } = await copy.replicator.route()
    await backendClient(source).batch(primaryStatements(epoch), 'write')
  }
}

/** A new replica's configuration on `node` (its id shared by every shard's copy of a partitioned database). */
export function newReplicaConfig(
  input: CreateReplicaInput,
  node: string,
  id: string,
  now: number,
): ReplicaConfig {
  return {
    id,
    node,
    namespace: `r${crypto.randomUUID().replaceAll('-', '')}`,
    delayMs: input.delaySeconds * 1000,
    createdAt: now,
    ...(input.synchronous ? { synchronous: true } : {}),
  }
}

export function checkReplicaInput(input: CreateReplicaInput, existing: number): void {
  if (existing >= MAX_REPLICAS) {
    throw new AppError('conflict', `A database has at most ${MAX_REPLICAS} replicas.`)
  }
  if (input.synchronous && input.delaySeconds > 0) {
    throw new AppError('validation_failed', 'A synchronous replica cannot be delayed.', {
      errors: [{ path: 'body/delaySeconds', message: 'Must be 0 for a synchronous replica' }],
    })
  }
}

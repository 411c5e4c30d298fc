/**
 * Queue management: the registry row (libSQL, kind `queue`) is the queue's configuration
 * and listing; its partition objects receive that configuration on every change.
 *
 * Create writes the row, then initializes every partition (wiping anything left under the
 * name); if that fails the row is removed again. Delete refuses while another queue uses
 * this one as its dead-letter queue, destroys the partitions, then removes the row. Update
 * is a compare-and-set on the row's version (retried on a concurrent update).
 */
import type { CreateQueueInput, QueueCountersOutput, UpdateQueueInput } from '../../schemas/queue'
import { newWebhookSecret } from '../platform/delivery'
import type { Env } from '../platform/env'
import { AppError, asAppError } from '../platform/errors'
import {
  createResource,
  deleteResource,
  findResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { forgetQueue, partitionStub } from './client'
import {
  configForCreate,
  configForUpdate,
  type DeadLetterTarget,
  type PartitionConfig,
  QUEUE_KIND,
  type QueueConfig,
  settingsView,
} from './settings'

const UPDATE_ATTEMPTS = 3

async function deadLetterTarget(
  env: Env,
  tenant: string,
  config: { deadLetter: { queue: string } | null },
): Promise<DeadLetterTarget | undefined> {
  if (!config.deadLetter) return undefined
  const found = await findResource<QueueConfig>(env, tenant, QUEUE_KIND, config.deadLetter.queue)
  return found ? { name: found.name, config: found.config } : undefined
}

function partitionConfig(
  resource: Resource<QueueConfig>,
  tenant: string,
  partition: number,
  target: DeadLetterTarget | undefined,
): PartitionConfig {
  return {
    ...resource.config,
    tenant,
    queue: resource.name,
    partition,
    deadLetterPartitions: target?.config.partitions ?? 1,
    version: resource.version,
  }
}

export function queueView(resource: Resource<QueueConfig>, revealSecret = false) {
  return {
    name: resource.name,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
    settings: settingsView(resource.config, revealSecret),
  }
}

export async function createQueue(env: Env, tenant: string, name: string, input: CreateQueueInput) {
  const target = await deadLetterTarget(env, tenant, input)
  const config = configForCreate(name, input, target, newWebhookSecret)
  const resource = await createResource(env, tenant, QUEUE_KIND, name, config)
  try {
    await Promise.all(
      Array.from({ length: config.partitions }, (_, partition) =>
        partitionStub(env, tenant, name, partition).initialize(
          partitionConfig(resource, tenant, partition, target),
        ),
      ),
    )
  } catch (error) {
    await deleteResource(env, tenant, QUEUE_KIND, name).catch(() => undefined)
    throw error
  }
  forgetQueue(tenant, name)
  return queueView(resource, true)
}

export async function updateQueue(env: Env, tenant: string, name: string, patch: UpdateQueueInput) {
  for (let attempt = 1; ; attempt++) {
    const current = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, name)
    const target = await deadLetterTarget(env, tenant, {
      deadLetter: patch.deadLetter === undefined ? current.config.deadLetter : patch.deadLetter,
    })
    const config = configForUpdate(name, current.config, patch, target, newWebhookSecret)
    let updated: Resource<QueueConfig>
    try {
      updated = await updateResource(env, tenant, QUEUE_KIND, name, config, { ifVersion: current.version })
    } catch (error) {
      if (asAppError(error).code === 'precondition_failed' && attempt < UPDATE_ATTEMPTS) continue
      throw error
    }
    await Promise.all(
      Array.from({ length: config.partitions }, (_, partition) =>
        partitionStub(env, tenant, name, partition).configure(
          partitionConfig(updated, tenant, partition, target),
        ),
      ),
    )
    forgetQueue(tenant, name)
    const newSecret = config.push !== null && config.push.secret !== current.config.push?.secret
    return queueView(updated, newSecret)
  }
}

export async function listQueues(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const listed = await listResources<QueueConfig>(env, tenant, QUEUE_KIND, page)
  return {
    items: listed.items.map((resource) => queueView(resource)),
    ...(listed.nextCursor ? { nextCursor: listed.nextCursor } : {}),
  }
}

function sumStats(parts: QueueCountersOutput[]): QueueCountersOutput {
  const total = { ...(parts[0] as QueueCountersOutput) }
  for (const part of parts.slice(1)) {
    for (const key of Object.keys(total) as Array<keyof QueueCountersOutput>) {
      if (key === 'oldestMessageAgeSeconds') {
        const ages = [total.oldestMessageAgeSeconds, part.oldestMessageAgeSeconds].filter(
          (age) => age !== null,
        )
        total.oldestMessageAgeSeconds = ages.length > 0 ? Math.max(...ages) : null
      } else {
        total[key] += part[key]
      }
    }
  }
  return total
}

export async function queueWithStats(env: Env, tenant: string, name: string) {
  const resource = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, name)
  const parts: QueueCountersOutput[] = await Promise.all(
    Array.from({ length: resource.config.partitions }, (_, partition) =>
      partitionStub(env, tenant, name, partition).stats(),
    ),
  )
  return {
    ...queueView(resource),
    stats: sumStats(parts),
    partitionStats: parts.map((stats, partition) => ({ partition, ...stats })),
  }
}

/** The queues of the tenant whose dead-letter queue is `name`. */
async function queuesUsingAsDeadLetter(env: Env, tenant: string, name: string): Promise<string[]> {
  const users: string[] = []
  let cursor: string | undefined
  do {
    const page = await listResources<QueueConfig>(env, tenant, QUEUE_KIND, { limit: 1000, cursor })
    for (const queue of page.items) if (queue.config.deadLetter?.queue === name) users.push(queue.name)
    cursor = page.nextCursor
  } while (cursor)
  return users
}

export async function deleteQueue(env: Env, tenant: string, name: string): Promise<void> {
  const resource = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, name)
  const users = await queuesUsingAsDeadLetter(env, tenant, name)
  if (users.length > 0) {
    throw new AppError(
      'conflict',
      `The queue is the dead-letter queue of ${users.join(', ')}; change those first.`,
    )
  }
  await Promise.all(
    Array.from({ length: resource.config.partitions }, (_, partition) =>
      partitionStub(env, tenant, name, partition).destroy(),
    ),
  )
  forgetQueue(tenant, name)
  await deleteResource(env, tenant, QUEUE_KIND, name)
}

export async function purgeQueue(env: Env, tenant: string, name: string): Promise<number> {
  const resource = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, name)
  const purged = await Promise.all(
    Array.from({ length: resource.config.partitions }, (_, partition) =>
      partitionStub(env, tenant, name, partition).purge(),
    ),
  )
  return purged.reduce((sum, count) => sum + count, 0)
}

/** Moves up to `maxMessages` dead letters from this queue back to their source queues. */
export async function redriveQueue(env: Env, tenant: string, name: string, maxMessages: number) {
  const resource = await getResource<QueueConfig>(env, tenant, QUEUE_KIND, name)
  const totals = { moved: 0, failed: 0, pending: 0 }
  for (let partition = 0; partition < resource.config.partitions; partition++) {
    const remaining = maxMessages - totals.moved - totals.failed - totals.pending
    if (remaining <= 0) break
    const outcome = await partitionStub(env, tenant, name, partition).redrive(remaining)
    totals.moved += outcome.moved
    totals.failed += outcome.failed
    totals.pending += outcome.pending
  }
  return totals
}

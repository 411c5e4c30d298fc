/**
 * Queue settings: what a queue is configured with, and the rules a configuration must
 * keep. Pure logic (no I/O); the caller looks up the dead-letter queue and passes it in.
 *
 * Guarantees: a stored configuration always satisfies every rule below, so the objects
 * never see a contradictory one:
 * - a FIFO queue stays FIFO (and a standard queue standard) for its whole life;
 * - a FIFO queue has one partition; partitions may grow but never shrink (messages live
 *   in their partition, shrinking would strand them);
 * - the default delay is at most the retention;
 * - the dead-letter queue exists, belongs to the same tenant (the caller looks it up by
 *   tenant), has the same type, and is not the queue itself;
 * - push delivery needs a dead-letter queue, so a message whose attempts run out is moved
 *   there instead of being dropped.
 * Cost: O(1) per check.
 */
import type { CreateQueueInput, UpdateQueueInput } from '../../schemas/queue'
import { AppError, type FieldError } from '../platform/errors'

export const QUEUE_KIND = 'queue'

export interface DeadLetterConfig {
  queue: string
  maxReceiveCount: number
}

export interface PushConfig {
  url: string
  batchSize: number
  timeoutSeconds: number
  maxAttempts: number
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: string
}

/** A queue's configuration as kept in the registry. */
export interface QueueConfig {
  fifo: boolean
  contentBasedDeduplication: boolean
  visibilityTimeoutSeconds: number
  retentionSeconds: number
  delaySeconds: number
  partitions: number
  /**
   * The partition count at creation, fixed for the queue's life: Idempotency-Keys are hashed
   * over it (idempotency.ts). Absent on queues created before keys existed: 1.
   */
  keyPartitions?: number
  deadLetter: DeadLetterConfig | null
  push: PushConfig | null
}

/** What one partition object needs to know: the queue's config plus where it lives. */
export interface PartitionConfig extends QueueConfig {
  tenant: string
  queue: string
  partition: number
  /** The dead-letter queue's partition count when this config was written. */
  deadLetterPartitions: number
  /** The registry version it comes from; a partition ignores an older one arriving late. */
  version: number
}

/** The dead-letter queue as found in the registry (same tenant), or undefined if missing. */
export interface DeadLetterTarget {
  name: string
  config: QueueConfig
}

function check(config: QueueConfig, name: string, deadLetterTarget: DeadLetterTarget | undefined): void {
  const errors: FieldError[] = []
  if (config.delaySeconds > config.retentionSeconds) {
    errors.push({ path: 'body/delaySeconds', message: 'The default delay must not exceed the retention' })
  }
  if (config.fifo && config.partitions !== 1) {
    errors.push({ path: 'body/partitions', message: 'A FIFO queue has exactly one partition' })
  }
  if (config.deadLetter) {
    if (config.deadLetter.queue === name) {
      errors.push({ path: 'body/deadLetter/queue', message: 'A queue cannot be its own dead-letter queue' })
    } else if (!deadLetterTarget) {
      errors.push({ path: 'body/deadLetter/queue', message: `No queue named "${config.deadLetter.queue}"` })
    } else if (deadLetterTarget.config.fifo !== config.fifo) {
      errors.push({
        path: 'body/deadLetter/queue',
        message: `The dead-letter queue of a ${config.fifo ? 'FIFO' : 'standard'} queue must be ${config.fifo ? 'FIFO' : 'standard'} too`,
      })
    }
  }
  if (config.push && !config.deadLetter) {
    errors.push({
      path: 'body/push',
      message: 'Push delivery needs a deadLetter queue for messages whose attempts run out',
    })
  }
  if (errors.length > 0)
    throw new AppError('validation_failed', 'The queue settings are invalid.', { errors })
}

/** The configuration of a new queue; `newSecret` makes the push signing secret. */
export function configForCreate(
  name: string,
  input: CreateQueueInput,
  deadLetterTarget: DeadLetterTarget | undefined,
  newSecret: () => string,
): QueueConfig {
  const config: QueueConfig = {
    fifo: input.fifo,
    contentBasedDeduplication: input.contentBasedDeduplication,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds,
    retentionSeconds: input.retentionSeconds,
    delaySeconds: input.delaySeconds,
    partitions: input.partitions,
    keyPartitions: input.partitions,
    deadLetter: input.deadLetter,
    push: input.push ? { ...input.push, secret: newSecret() } : null,
  }
  check(config, name, deadLetterTarget)
  return config
}

/**
 * The configuration after a partial update. Changing the push URL makes a new secret;
 * keeping it keeps the secret. `fifo` may be repeated but not changed (409), and
 * `partitions` may grow but not shrink (409).
 */
export function configForUpdate(
  name: string,
  current: QueueConfig,
  patch: UpdateQueueInput,
  deadLetterTarget: DeadLetterTarget | undefined,
  newSecret: () => string,
): QueueConfig {
  if (patch.fifo !== undefined && patch.fifo !== current.fifo) {
    throw new AppError('conflict', 'A queue cannot change between FIFO and standard; create a new queue.')
  }
  if (patch.partitions !== undefined && patch.partitions < current.partitions) {
    throw new AppError(
      'conflict',
      `Partitions can grow but not shrink (the queue has ${current.partitions}).`,
    )
  }
  let push = current.push
  if (patch.push === null) push = null
  else if (patch.push) {
    const secret = current.push && current.push.url === patch.push.url ? current.push.secret : newSecret()
    push = { ...patch.push, secret }
  }
  const config: QueueConfig = {
    fifo: current.fifo,
    contentBasedDeduplication: patch.contentBasedDeduplication ?? current.contentBasedDeduplication,
    visibilityTimeoutSeconds: patch.visibilityTimeoutSeconds ?? current.visibilityTimeoutSeconds,
    retentionSeconds: patch.retentionSeconds ?? current.retentionSeconds,
    delaySeconds: patch.delaySeconds ?? current.delaySeconds,
    partitions: patch.partitions ?? current.partitions,
    ...(current.keyPartitions === undefined ? {} : { keyPartitions: current.keyPartitions }),
    deadLetter: patch.deadLetter === undefined ? current.deadLetter : patch.deadLetter,
    push,
  }
  check(config, name, deadLetterTarget)
  return config
}

/**
 * How many deliveries a message gets before it is dead-lettered: the push attempts when
 * the queue pushes, else the dead-letter policy's receive count; undefined = unlimited
 * (without a dead-letter queue a message is redelivered until its retention ends).
 */
export function deliveryLimit(config: QueueConfig): number | undefined {
  if (!config.deadLetter) return undefined
  return config.push ? config.push.maxAttempts : config.deadLetter.maxReceiveCount
}

/** The settings as shown to clients; the push secret only when `revealSecret`. */
export function settingsView(config: QueueConfig, revealSecret = false) {
  const { push, keyPartitions: _internal, ...rest } = config
  return {
    ...rest,
    push: push
      ? {
          url: push.url,
          batchSize: push.batchSize,
          timeoutSeconds: push.timeoutSeconds,
          maxAttempts: push.maxAttempts,
          ...(revealSecret ? { secret: push.secret } : {}),
        }
      : null,
  }
}

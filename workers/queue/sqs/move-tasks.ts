/**
 * SQS's dead-letter redrive tasks: StartMessageMoveTask moves a dead-letter queue's visible
 * messages back to their source queues (the queue block's redrive) within the call, so a
 * task is born and finished in one request; ListMessageMoveTasks reports the queue's last
 * ten tasks, newest first, with what SQS reports (handle, status, counts, start time);
 * CancelMessageMoveTask can only find finished tasks, which SQS does not cancel.
 * The history is kept in the dead-letter queue's `queue-sqs` row; costs: one registry read
 * and write per task, one stats read for the count to move.
 */
import { queueWithStats, redriveQueue } from '../manage'
import { optionalInteger, type SqsContext } from './context'
import { SqsError } from './errors'
import { type MoveTask, queueArn, queueFromArn } from './queue-attributes'
import { readExtras, writeExtras } from './queues'

type Input = Record<string, unknown>

const HISTORY = 10
/** The most messages one task moves. */
const MAX_MOVE = 100_000

function sourceQueue(c: SqsContext, arn: unknown): string {
  if (typeof arn !== 'string' || arn === '')
    throw new SqsError('MissingParameter', 'The request must contain the parameter SourceArn.')
  try {
    return queueFromArn(arn, c.tenant)
  } catch {
    throw new SqsError(
      'ResourceNotFoundException',
      'The resource that you specified for the SourceArn parameter doesn’t exist.',
    )
  }
}

function handleFor(arn: string, id: string): string {
  return btoa(JSON.stringify({ taskId: id, sourceArn: arn }))
}

function handleParts(handle: unknown): { sourceArn: string; taskId: string } | undefined {
  if (typeof handle !== 'string') return undefined
  try {
    const parsed = JSON.parse(atob(handle)) as { taskId?: unknown; sourceArn?: unknown }
    if (typeof parsed.taskId === 'string' && typeof parsed.sourceArn === 'string')
      return { taskId: parsed.taskId, sourceArn: parsed.sourceArn }
  } catch {
    return undefined
  }
  return undefined
}

async function startMessageMoveTask(c: SqsContext, input: Input) {
  const name = sourceQueue(c, input.SourceArn)
  c.allow(name, true)
  if (input.DestinationArn !== undefined)
    throw new SqsError(
      'UnsupportedOperation',
      'Messages move back to their source queues; DestinationArn is not supported.',
    )
  const rate = optionalInteger(input, 'MaxNumberOfMessagesPerSecond', 1, 500)
  const before = await queueWithStats(c.env, c.tenant, name).catch(() => {
    throw new SqsError(
      'ResourceNotFoundException',
      'The resource that you specified for the SourceArn parameter doesn’t exist.',
    )
  })
  const startedAt = Date.now()
  const arn = queueArn(c.region, c.tenant, name)
  const totals = await redriveQueue(c.env, c.tenant, name, MAX_MOVE)
  const task: MoveTask = {
    TaskHandle: handleFor(arn, crypto.randomUUID()),
    Status: totals.failed > 0 ? 'FAILED' : 'COMPLETED',
    SourceArn: arn,
    ...(rate !== undefined ? { MaxNumberOfMessagesPerSecond: rate } : {}),
    ApproximateNumberOfMessagesMoved: totals.moved,
    ApproximateNumberOfMessagesToMove: before.stats.visible,
    ...(totals.failed > 0
      ? { FailureReason: `${totals.failed} messages could not be moved back to their source queues.` }
      : {}),
    StartedTimestamp: startedAt,
  }
  const { moveTasks } = await readExtras(c, name)
  await writeExtras(c, name, { moveTasks: [task, ...moveTasks].slice(0, HISTORY) })
  return { TaskHandle: task.TaskHandle }
}

async function listMessageMoveTasks(c: SqsContext, input: Input) {
  const name = sourceQueue(c, input.SourceArn)
  c.allow(name, false)
  const max = optionalInteger(input, 'MaxResults', 1, HISTORY) ?? 1
  await queueWithStats(c.env, c.tenant, name).catch(() => {
    throw new SqsError(
      'ResourceNotFoundException',
      'The resource that you specified for the SourceArn parameter doesn’t exist.',
    )
  })
  const { moveTasks } = await readExtras(c, name)
  return { Results: moveTasks.slice(0, max) }
}

/** Tasks finish inside StartMessageMoveTask: a known handle names a task no longer running. */
async function cancelMessageMoveTask(c: SqsContext, input: Input) {
  const parts = handleParts(input.TaskHandle)
  if (!parts)
    throw new SqsError(
      'ResourceNotFoundException',
      'The resource that you specified for the TaskHandle parameter doesn’t exist.',
    )
  const name = sourceQueue(c, parts.sourceArn)
  c.allow(name, true)
  const task = (await readExtras(c, name)).moveTasks.find((entry) => entry.TaskHandle === input.TaskHandle)
  if (!task)
    throw new SqsError(
      'ResourceNotFoundException',
      'The resource that you specified for the TaskHandle parameter doesn’t exist.',
    )
  throw new SqsError(
    'ResourceNotFoundException',
    `Task is not running; its status is ${task.Status}. Only RUNNING tasks can be cancelled.`,
  )
}

export const MOVE_TASK_ACTIONS = {
  StartMessageMoveTask: startMessageMoveTask,
  ListMessageMoveTasks: listMessageMoveTasks,
  CancelMessageMoveTask: cancelMessageMoveTask,
} satisfies Record<string, (c: SqsContext, input: Input) => Promise<unknown>>

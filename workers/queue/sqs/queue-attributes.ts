/**
 * SQS queue attributes ↔ the queue block's settings (pure). Names, ARNs and URLs: a
 * queue's ARN is `arn:aws:sqs:<region>:<tenant>:<name>` and its URL
 * `<origin>/sqs/<tenant>/<name>`; a URL or ARN of another tenant names no queue.
 */
import type { CreateQueueInput, QueueCountersOutput, UpdateQueueInput } from '../../../schemas/queue'
import { SqsError } from './errors'

export const SQS_MOUNT = '/sqs'

/** Attributes the queue block keeps outside its own settings. */
export interface SqsExtras {
  receiveWaitSeconds: number
  tags: Record<string, string>
  /** The normalized RedriveAllowPolicy JSON; absent means allowAll. */
  redriveAllowPolicy?: string
  /** The last redrive tasks of this queue as a dead-letter queue, newest first. */
  moveTasks: MoveTask[]
}

/** One redrive task as ListMessageMoveTasks reports it. */
export interface MoveTask {
  TaskHandle: string
  Status: 'COMPLETED' | 'FAILED'
  SourceArn: string
  MaxNumberOfMessagesPerSecond?: number
  ApproximateNumberOfMessagesMoved: number
  ApproximateNumberOfMessagesToMove: number
  FailureReason?: string
  StartedTimestamp: number
}

export const NO_EXTRAS: SqsExtras = { receiveWaitSeconds: 0, tags: {}, moveTasks: [] }

export interface QueueSettings {
  fifo: boolean
  contentBasedDeduplication: boolean
  visibilityTimeoutSeconds: number
  retentionSeconds: number
  delaySeconds: number
  deadLetter: { queue: string; maxReceiveCount: number } | null
}

const invalid = (message: string) => new SqsError('InvalidAttributeValue', message)

export function queueArn(region: string, tenant: string, name: string): string {
  return `arn:aws:sqs:${region}:${tenant}:${name}`
}

export function queueUrl(origin: string, tenant: string, name: string): string {
  return `${origin}${SQS_MOUNT}/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}`
}

/** The queue name a URL names for this tenant. */
export function queueFromUrl(url: unknown, tenant: string): string {
  if (typeof url !== 'string' || url === '')
    throw new SqsError('MissingParameter', 'The request must contain the parameter QueueUrl.')
  let path: string
  try {
    path = new URL(url).pathname
  } catch {
    throw new SqsError('InvalidAddress', 'The address is not valid for this endpoint.')
  }
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent)
  const [name, owner] = [parts.at(-1), parts.at(-2)]
  if (!name || owner !== tenant)
    throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.')
  return name
}

export function queueFromArn(arn: unknown, tenant: string): string {
  const parts = typeof arn === 'string' ? arn.split(':') : []
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || parts[4] !== tenant || !parts[5])
    throw new SqsError(
      'InvalidParameterValue',
      `Value ${String(arn)} for parameter deadLetterTargetArn is invalid.`,
    )
  return parts[5]
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw invalid(`Invalid value for the parameter ${name}.`)
  return value
}

function bool(name: string, text: string): boolean {
  if (text !== 'true' && text !== 'false') throw invalid(`Invalid value for the parameter ${name}.`)
  return text === 'true'
}

/** Settings and extras from SQS attributes; unknown names are InvalidAttributeName. */
export function fromQueueAttributes(
  attributes: Record<string, string>,
  tenant: string,
): { patch: UpdateQueueInput; receiveWaitSeconds?: number; redriveAllowPolicy?: string } {
  const patch: UpdateQueueInput = {}
  let receiveWaitSeconds: number | undefined
  let redriveAllowPolicy: string | undefined
  for (const [name, raw] of Object.entries(attributes)) {
    const text = String(raw)
    switch (name) {
      case 'FifoQueue':
        patch.fifo = bool(name, text)
        break
      case 'ContentBasedDeduplication':
        patch.contentBasedDeduplication = bool(name, text)
        break
      case 'VisibilityTimeout':
        patch.visibilityTimeoutSeconds = integer(name, text, 0, 43_200)
        break
      case 'MessageRetentionPeriod':
        patch.retentionSeconds = integer(name, text, 60, 1_209_600)
        break
      case 'DelaySeconds':
        patch.delaySeconds = integer(name, text, 0, 900)
        break
      case 'ReceiveMessageWaitTimeSeconds':
        receiveWaitSeconds = integer(name, text, 0, 20)
        break
      case 'RedrivePolicy':
        patch.deadLetter = text === '' ? null : redrivePolicy(text, tenant)
        break
      case 'MaximumMessageSize':
        integer(name, text, 1024, 262_144)
        break
      case 'RedriveAllowPolicy':
        redriveAllowPolicy = text === '' ? '' : normalizedAllowPolicy(text)
        break
      case 'Policy':
      case 'KmsMasterKeyId':
      case 'KmsDataKeyReusePeriodSeconds':
      case 'SqsManagedSseEnabled':
      case 'DeduplicationScope':
      case 'FifoThroughputLimit':
        break
      default:
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`)
    }
  }
  return {
    patch,
    ...(receiveWaitSeconds !== undefined ? { receiveWaitSeconds } : {}),
    ...(redriveAllowPolicy !== undefined ? { redriveAllowPolicy } : {}),
  }
}

const ALLOW_POLICY_INVALID =
  'Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can’t create the redrive allow policy, as it’s in an unsupported format.'

/** A RedriveAllowPolicy checked and re-serialized: allowAll, denyAll, or byQueue with 1–10 queue ARNs. */
function normalizedAllowPolicy(text: string): string {
  let policy: { redrivePermission?: unknown; sourceQueueArns?: unknown }
  try {
    policy = JSON.parse(text)
  } catch {
    throw invalid(ALLOW_POLICY_INVALID)
  }
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy))
    throw invalid(ALLOW_POLICY_INVALID)
  const permission = policy.redrivePermission
  const arns = policy.sourceQueueArns
  if (permission === 'allowAll' || permission === 'denyAll') {
    if (arns !== undefined) throw invalid(ALLOW_POLICY_INVALID)
    return JSON.stringify({ redrivePermission: permission })
  }
  const arnShape = /^arn:aws:sqs:[^:]*:[^:]+:[A-Za-z0-9_-]{1,80}(\.fifo)?$/
  if (
    permission !== 'byQueue' ||
    !Array.isArray(arns) ||
    arns.length === 0 ||
    arns.length > 10 ||
    !arns.every((arn) => typeof arn === 'string' && arnShape.test(arn))
  )
    throw invalid(ALLOW_POLICY_INVALID)
  return JSON.stringify({ redrivePermission: permission, sourceQueueArns: arns })
}

/** Whether a dead-letter queue's RedriveAllowPolicy lets `source` (of `tenant`) name it. */
export function redriveAllowed(policy: string | undefined, tenant: string, source: string): boolean {
  if (!policy) return true
  const parsed = JSON.parse(policy) as { redrivePermission: string; sourceQueueArns?: string[] }
  if (parsed.redrivePermission === 'allowAll') return true
  if (parsed.redrivePermission === 'denyAll') return false
  return (parsed.sourceQueueArns ?? []).some((arn) => {
    const parts = arn.split(':')
    return parts[4] === tenant && parts[5] === source
  })
}

function redrivePolicy(text: string, tenant: string): { queue: string; maxReceiveCount: number } {
  let policy: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown }
  try {
    policy = JSON.parse(text)
  } catch {
    throw invalid(
      'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.',
    )
  }
  const queue = queueFromArn(policy.deadLetterTargetArn, tenant)
  const maxReceiveCount = integer('RedrivePolicy', String(policy.maxReceiveCount ?? ''), 1, 1000)
  return { queue, maxReceiveCount }
}

/** The settings of a CreateQueue: SQS's defaults where the attributes say nothing. */
export function createInput(name: string, patch: UpdateQueueInput): CreateQueueInput {
  const fifo = patch.fifo ?? false
  if (fifo !== name.endsWith('.fifo'))
    throw new SqsError(
      'InvalidParameterValue',
      'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix.',
    )
  return {
    fifo,
    contentBasedDeduplication: patch.contentBasedDeduplication ?? false,
    visibilityTimeoutSeconds: patch.visibilityTimeoutSeconds ?? 30,
    retentionSeconds: patch.retentionSeconds ?? 345_600,
    delaySeconds: patch.delaySeconds ?? 0,
    partitions: 1,
    deadLetter: patch.deadLetter ?? null,
    push: null,
  }
}

export interface AttributeContext {
  arn: string
  region: string
  tenant: string
  createdAt: number
  updatedAt: number
  stats: QueueCountersOutput
  extras: SqsExtras
}

/** Every SQS attribute of a queue, as strings. */
export function toQueueAttributes(
  settings: QueueSettings,
  context: AttributeContext,
): Record<string, string> {
  const attributes: Record<string, string> = {
    QueueArn: context.arn,
    ApproximateNumberOfMessages: String(context.stats.visible),
    ApproximateNumberOfMessagesNotVisible: String(context.stats.inFlight),
    ApproximateNumberOfMessagesDelayed: String(context.stats.delayed),
    CreatedTimestamp: String(Math.floor(context.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(context.updatedAt / 1000)),
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    MaximumMessageSize: '262144',
    MessageRetentionPeriod: String(settings.retentionSeconds),
    DelaySeconds: String(settings.delaySeconds),
    ReceiveMessageWaitTimeSeconds: String(context.extras.receiveWaitSeconds),
    SqsManagedSseEnabled: 'false',
  }
  if (settings.deadLetter) {
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: queueArn(context.region, context.tenant, settings.deadLetter.queue),
      maxReceiveCount: settings.deadLetter.maxReceiveCount,
    })
  }
  if (context.extras.redriveAllowPolicy) attributes.RedriveAllowPolicy = context.extras.redriveAllowPolicy
  if (settings.fifo) {
    attributes.FifoQueue = 'true'
    attributes.ContentBasedDeduplication = String(settings.contentBasedDeduplication)
    attributes.DeduplicationScope = 'queue'
    attributes.FifoThroughputLimit = 'perQueue'
  }
  return attributes
}

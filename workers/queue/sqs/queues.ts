/**
 * SQS's queue actions over the queue block's management functions (manage.ts): create,
 * URL lookup, listing, attributes, purge, delete, tags, dead-letter sources and redrive.
 * What the block has no setting for (ReceiveMessageWaitTimeSeconds, tags) is one registry
 * row per queue of kind `queue-sqs`, removed with the queue.
 */

import type { UpdateQueueInput } from '../../../schemas/queue'
import { AppError, asAppError } from '../../platform/errors'
import {
  createResource,
  deleteResource,
  findResource,
  getResource,
  listResources,
  updateResource,
} from '../../platform/registry'
import { createQueue, deleteQueue, purgeQueue, queueWithStats, updateQueue } from '../manage'
import { QUEUE_KIND, type QueueConfig } from '../settings'
import type { SqsContext } from './context'
import { SqsError } from './errors'
import {
  createInput,
  fromQueueAttributes,
  NO_EXTRAS,
  queueArn,
  queueFromUrl,
  redriveAllowed,
  type SqsExtras,
  toQueueAttributes,
} from './queue-attributes'

const EXTRAS_KIND = 'queue-sqs'
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/

type Input = Record<string, unknown>

export async function readExtras(c: SqsContext, name: string): Promise<SqsExtras> {
  const found = await findResource<SqsExtras>(c.env, c.tenant, EXTRAS_KIND, name)
  return found ? { ...NO_EXTRAS, ...found.config } : NO_EXTRAS
}

export async function writeExtras(c: SqsContext, name: string, change: Partial<SqsExtras>): Promise<void> {
  const found = await findResource<SqsExtras>(c.env, c.tenant, EXTRAS_KIND, name)
  if (!found) await createResource(c.env, c.tenant, EXTRAS_KIND, name, { ...NO_EXTRAS, ...change })
  else await updateResource(c.env, c.tenant, EXTRAS_KIND, name, { ...NO_EXTRAS, ...found.config, ...change })
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value))
    throw new SqsError('InvalidParameterValue', `${what} must be a map.`)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
}

/** Refuses a RedrivePolicy whose dead-letter queue's RedriveAllowPolicy does not allow `source`. */
async function checkRedriveAllowed(c: SqsContext, source: string, patch: UpdateQueueInput): Promise<void> {
  const target = patch.deadLetter?.queue
  if (!target) return
  if (redriveAllowed((await readExtras(c, target)).redriveAllowPolicy, c.tenant, source)) return
  throw new SqsError(
    'InvalidParameterValue',
    `Value ${JSON.stringify({ deadLetterTargetArn: queueArn(c.region, c.tenant, target), maxReceiveCount: patch.deadLetter?.maxReceiveCount })} for parameter RedrivePolicy is invalid. Reason: The dead-letter queue's RedriveAllowPolicy does not allow this queue as a source queue.`,
  )
}

/** The queue a request names, after the key's scope allows it. */
export function namedQueue(c: SqsContext, input: Input, write: boolean): string {
  const name = queueFromUrl(input.QueueUrl, c.tenant)
  c.allow(name, write)
  return name
}

async function createQueueAction(c: SqsContext, input: Input) {
  const name = input.QueueName
  if (typeof name !== 'string' || !QUEUE_NAME.test(name))
    throw new SqsError(
      'InvalidParameterValue',
      'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.',
    )
  c.allow(name, true)
  const { patch, receiveWaitSeconds, redriveAllowPolicy } = fromQueueAttributes(
    stringMap(input.Attributes, 'Attributes'),
    c.tenant,
  )
  const tags = stringMap(input.tags, 'tags')
  const settings = createInput(name, patch)
  await checkRedriveAllowed(c, name, patch)
  try {
    await createQueue(c.env, c.tenant, name, settings)
  } catch (error) {
    if (asAppError(error).code !== 'conflict') throw error
    const existing = await getResource<QueueConfig>(c.env, c.tenant, QUEUE_KIND, name)
    const same = (Object.keys(patch) as Array<keyof typeof patch>).every(
      (key) =>
        JSON.stringify(existing.config[key as keyof QueueConfig]) ===
        JSON.stringify(settings[key as keyof typeof settings]),
    )
    if (!same)
      throw new SqsError(
        'QueueNameExists',
        `A queue already exists with the same name and a different value for attribute(s).`,
      )
    return { QueueUrl: c.urlOf(name) }
  }
  if (receiveWaitSeconds !== undefined || Object.keys(tags).length > 0 || redriveAllowPolicy)
    await writeExtras(c, name, {
      receiveWaitSeconds: receiveWaitSeconds ?? 0,
      tags,
      ...(redriveAllowPolicy ? { redriveAllowPolicy } : {}),
    })
  return { QueueUrl: c.urlOf(name) }
}

async function getQueueUrl(c: SqsContext, input: Input) {
  const name = input.QueueName
  if (typeof name !== 'string')
    throw new SqsError('MissingParameter', 'The request must contain the parameter QueueName.')
  c.allow(name, false)
  await getResource(c.env, c.tenant, QUEUE_KIND, name)
  return { QueueUrl: c.urlOf(name) }
}

async function listQueues(c: SqsContext, input: Input) {
  const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : ''
  const max = input.MaxResults === undefined ? 1000 : Number(input.MaxResults)
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    throw new SqsError('InvalidParameterValue', 'MaxResults must be between 1 and 1000.')
  let cursor = typeof input.NextToken === 'string' ? input.NextToken : undefined
  const urls: string[] = []
  let next: string | undefined
  try {
    do {
      const page = await listResources<QueueConfig>(c.env, c.tenant, QUEUE_KIND, { limit: max, cursor })
      for (const queue of page.items) {
        if (!queue.name.startsWith(prefix) || !c.allows(queue.name)) continue
        urls.push(c.urlOf(queue.name))
        if (urls.length === max) {
          next = queue.name === page.items.at(-1)?.name ? page.nextCursor : undefined
          break
        }
      }
      cursor = urls.length === max ? undefined : page.nextCursor
    } while (cursor)
  } catch (error) {
    if (error instanceof AppError && error.code === 'validation_failed')
      throw new SqsError('InvalidParameterValue', 'Invalid NextToken value.')
    throw error
  }
  return { QueueUrls: urls, ...(input.MaxResults !== undefined && next ? { NextToken: next } : {}) }
}

async function getQueueAttributes(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, false)
  const queue = await queueWithStats(c.env, c.tenant, name)
  const all = toQueueAttributes(queue.settings, {
    arn: queueArn(c.region, c.tenant, name),
    region: c.region,
    tenant: c.tenant,
    createdAt: queue.createdAt,
    updatedAt: queue.updatedAt,
    stats: queue.stats,
    extras: await readExtras(c, name),
  })
  const wanted = Array.isArray(input.AttributeNames) ? (input.AttributeNames as string[]) : []
  if (wanted.includes('All')) return { Attributes: all }
  const picked: Record<string, string> = {}
  for (const attribute of wanted) {
    if (all[attribute] !== undefined) picked[attribute] = all[attribute]
    else if (
      ![
        'RedrivePolicy',
        'FifoQueue',
        'ContentBasedDeduplication',
        'Policy',
        'RedriveAllowPolicy',
        'DeduplicationScope',
        'FifoThroughputLimit',
      ].includes(attribute)
    )
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${attribute}.`)
  }
  return { Attributes: picked }
}

async function setQueueAttributes(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, true)
  const { patch, receiveWaitSeconds, redriveAllowPolicy } = fromQueueAttributes(
    stringMap(input.Attributes, 'Attributes'),
    c.tenant,
  )
  await checkRedriveAllowed(c, name, patch)
  if (Object.keys(patch).length > 0) await updateQueue(c.env, c.tenant, name, patch)
  else await getResource(c.env, c.tenant, QUEUE_KIND, name)
  const extras: Partial<SqsExtras> = {}
  if (receiveWaitSeconds !== undefined) extras.receiveWaitSeconds = receiveWaitSeconds
  if (redriveAllowPolicy !== undefined) extras.redriveAllowPolicy = redriveAllowPolicy || undefined
  if (Object.keys(extras).length > 0) await writeExtras(c, name, extras)
  return {}
}

async function deleteQueueAction(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, true)
  await deleteQueue(c.env, c.tenant, name)
  await deleteResource(c.env, c.tenant, EXTRAS_KIND, name).catch(() => undefined)
  return {}
}

async function purgeQueueAction(c: SqsContext, input: Input) {
  await purgeQueue(c.env, c.tenant, namedQueue(c, input, true))
  return {}
}

async function tagQueue(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, true)
  await getResource(c.env, c.tenant, QUEUE_KIND, name)
  const tags = { ...(await readExtras(c, name)).tags, ...stringMap(input.Tags, 'Tags') }
  if (Object.keys(tags).length > 50)
    throw new SqsError('InvalidParameterValue', 'Too many tags added for queue.')
  await writeExtras(c, name, { tags })
  return {}
}

async function untagQueue(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, true)
  await getResource(c.env, c.tenant, QUEUE_KIND, name)
  const keys = Array.isArray(input.TagKeys) ? input.TagKeys.map(String) : []
  const tags = Object.fromEntries(
    Object.entries((await readExtras(c, name)).tags).filter(([key]) => !keys.includes(key)),
  )
  await writeExtras(c, name, { tags })
  return {}
}

async function listQueueTags(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, false)
  await getResource(c.env, c.tenant, QUEUE_KIND, name)
  const { tags } = await readExtras(c, name)
  return Object.keys(tags).length > 0 ? { Tags: tags } : {}
}

async function listDeadLetterSourceQueues(c: SqsContext, input: Input) {
  const name = namedQueue(c, input, false)
  await getResource(c.env, c.tenant, QUEUE_KIND, name)
  const urls: string[] = []
  let cursor: string | undefined
  do {
    const page = await listResources<QueueConfig>(c.env, c.tenant, QUEUE_KIND, { limit: 1000, cursor })
    for (const queue of page.items)
      if (queue.config.deadLetter?.queue === name) urls.push(c.urlOf(queue.name))
    cursor = page.nextCursor
  } while (cursor)
  return { queueUrls: urls }
}

export const QUEUE_ACTIONS = {
  CreateQueue: createQueueAction,
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  GetQueueAttributes: getQueueAttributes,
  SetQueueAttributes: setQueueAttributes,
  DeleteQueue: deleteQueueAction,
  PurgeQueue: purgeQueueAction,
  TagQueue: tagQueue,
  UntagQueue: untagQueue,
  ListQueueTags: listQueueTags,
  ListDeadLetterSourceQueues: listDeadLetterSourceQueues,
} satisfies Record<string, (c: SqsContext, input: Input) => Promise<unknown>>

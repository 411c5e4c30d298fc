/**
 * SQS's message actions over the queue block's client (client.ts): send (one or a batch,
 * with partial failures per entry), delete and change visibility (one or a batch); receive
 * is in receive.ts. Message ids and receipt handles are the block's own, so a message
 * crosses between the two APIs as is.
 * Costs: a batch is one partition call; only when the block refuses a batch are its entries
 * retried one by one to tell which ones failed.
 */
import { AppError, asAppError } from '../../platform/errors'
import { ackMessages, changeVisibility, sendMessages } from '../client'
import { decodeReceipt, type OutgoingMessage } from '../messages'
import {
  md5OfAttributes,
  md5OfText,
  type SqsAttributeValue,
  toNativeAttributes,
  XML_TEXT,
} from './attributes'
import { optionalInteger, type SqsContext } from './context'
import { SqsError, toSqsError } from './errors'
import { namedQueue } from './queues'

type Input = Record<string, unknown>
const MAX_BATCH = 10
const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/

function optionalString(input: Input, name: string): string | undefined {
  const value = input[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string')
    throw new SqsError('InvalidParameterValue', `Value for parameter ${name} is invalid.`)
  return value
}

/** One SQS send entry as the block's message, plus the digests SQS answers with. */
function outgoing(input: Input): {
  message: OutgoingMessage
  md5Body: string
  md5Attributes: string | undefined
} {
  const body = input.MessageBody
  if (typeof body !== 'string' || body === '')
    throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.')
  if (!XML_TEXT.test(body)) throw new SqsError('InvalidMessageContents', 'Invalid characters found.')
  const typed = (input.MessageAttributes ?? {}) as Record<string, SqsAttributeValue>
  const attributes = toNativeAttributes(typed)
  const delaySeconds = optionalInteger(input, 'DelaySeconds', 0, 900)
  const groupId = optionalString(input, 'MessageGroupId')
  const deduplicationId = optionalString(input, 'MessageDeduplicationId')
  const message: OutgoingMessage = { body }
  if (attributes) message.attributes = attributes
  if (delaySeconds !== undefined) message.delaySeconds = delaySeconds
  if (groupId !== undefined) (message as { groupId?: string }).groupId = groupId
  if (deduplicationId !== undefined)
    (message as { deduplicationId?: string }).deduplicationId = deduplicationId
  return { message, md5Body: md5OfText(body), md5Attributes: md5OfAttributes(typed) }
}

function sentView(
  sent: { messageId: string; sequenceNumber: number },
  md5Body: string,
  md5Attributes: string | undefined,
  fifo: boolean,
) {
  return {
    MessageId: sent.messageId,
    MD5OfMessageBody: md5Body,
    ...(md5Attributes ? { MD5OfMessageAttributes: md5Attributes } : {}),
    ...(fifo ? { SequenceNumber: String(sent.sequenceNumber).padStart(20, '0') } : {}),
  }
}

async function sendMessage(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, true)
  const { message, md5Body, md5Attributes } = outgoing(input)
  const { results } = await sendMessages(c.env, c.tenant, queue, [message], 'body')
  return sentView(
    results[0] as { messageId: string; sequenceNumber: number },
    md5Body,
    md5Attributes,
    message.groupId !== undefined,
  )
}

/** The entries of a batch request, with SQS's checks on their count and ids. */
function batchEntries(input: Input): Input[] {
  const entries = input.Entries
  if (!Array.isArray(entries) || entries.length === 0)
    throw new SqsError(
      'EmptyBatchRequest',
      'There should be at least one SendMessageBatchRequestEntry in the request.',
    )
  if (entries.length > MAX_BATCH)
    throw new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${MAX_BATCH}. You have sent ${entries.length}.`,
    )
  const ids = new Set<string>()
  for (const entry of entries as Input[]) {
    const id = entry?.Id
    if (typeof id !== 'string' || !ENTRY_ID.test(id))
      throw new SqsError(
        'InvalidBatchEntryId',
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      )
    if (ids.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`)
    ids.add(id)
  }
  return entries as Input[]
}

function failure(id: string, error: unknown) {
  const sqs = toSqsError(error)
  return { Id: id, SenderFault: sqs.status < 500, Code: sqs.code, Message: sqs.message }
}

async function sendMessageBatch(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, true)
  const entries = batchEntries(input)
  const Failed: Array<ReturnType<typeof failure>> = []
  const prepared: Array<{ id: string } & ReturnType<typeof outgoing>> = []
  for (const entry of entries) {
    try {
      prepared.push({ id: entry.Id as string, ...outgoing(entry) })
    } catch (error) {
      Failed.push(failure(entry.Id as string, error))
    }
  }
  const Successful: Array<{ Id: string } & ReturnType<typeof sentView>> = []
  const record = (entry: (typeof prepared)[number], sent: { messageId: string; sequenceNumber: number }) =>
    Successful.push({
      Id: entry.id,
      ...sentView(sent, entry.md5Body, entry.md5Attributes, entry.message.groupId !== undefined),
    })
  if (prepared.length > 0) {
    try {
      const { results } = await sendMessages(
        c.env,
        c.tenant,
        queue,
        prepared.map((entry) => entry.message),
        'body/messages',
      )
      prepared.forEach((entry, index) => {
        record(entry, results[index] as { messageId: string; sequenceNumber: number })
      })
    } catch (error) {
      const code = asAppError(error).code
      if (code !== 'validation_failed' && code !== 'payload_too_large' && code !== 'unprocessable')
        throw error
      for (const entry of prepared) {
        try {
          const { results } = await sendMessages(c.env, c.tenant, queue, [entry.message], 'body')
          record(entry, results[0] as { messageId: string; sequenceNumber: number })
        } catch (entryError) {
          if (asAppError(entryError).code === 'not_found') throw entryError
          Failed.push(failure(entry.id, entryError))
        }
      }
    }
  }
  return { Successful, Failed }
}

function receiptOf(input: Input): string {
  const handle = input.ReceiptHandle
  if (typeof handle !== 'string' || handle === '')
    throw new SqsError('MissingParameter', 'The request must contain the parameter ReceiptHandle.')
  return handle
}

/** Receipt problems in SQS's terms: malformed → ReceiptHandleIsInvalid, not in flight → MessageNotInflight. */
function receiptError(error: unknown, handle: string): unknown {
  const code = asAppError(error).code
  if (code === 'validation_failed')
    return new SqsError(
      'ReceiptHandleIsInvalid',
      `The input receipt handle "${handle}" is not a valid receipt handle.`,
    )
  if (code === 'conflict' || code === 'gone')
    return new SqsError(
      'MessageNotInflight',
      'Message does not exist or is not available for visibility timeout change.',
    )
  return error
}

async function deleteMessage(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, true)
  const handle = receiptOf(input)
  await ackMessages(c.env, c.tenant, queue, [handle], () => 'ReceiptHandle').catch((error) => {
    throw receiptError(error, handle)
  })
  return {}
}

/** One ack call for the well-formed handles; per-entry calls only when the block refuses the batch. */
async function deleteMessageBatch(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, true)
  const entries = batchEntries(input)
  const results: Array<{ ok: true; id: string } | { ok: false; id: string; error: unknown }> = []
  const valid = entries.filter((entry) => {
    const handle = entry.ReceiptHandle
    if (typeof handle === 'string' && decodeReceipt(handle)) return true
    results.push({
      ok: false,
      id: entry.Id as string,
      error: receiptError(new AppError('validation_failed', 'x'), String(handle)),
    })
    return false
  })
  if (valid.length > 0) {
    try {
      const handles = valid.map((entry) => entry.ReceiptHandle as string)
      await ackMessages(c.env, c.tenant, queue, handles, (index) => `Entries/${index}`)
      for (const entry of valid) results.push({ ok: true, id: entry.Id as string })
    } catch (error) {
      if (asAppError(error).code !== 'validation_failed') throw error
      for (const entry of valid) {
        await deleteMessage(c, { QueueUrl: input.QueueUrl, ReceiptHandle: entry.ReceiptHandle }).then(
          () => results.push({ ok: true, id: entry.Id as string }),
          (entryError: unknown) => results.push({ ok: false, id: entry.Id as string, error: entryError }),
        )
      }
    }
  }
  return batchResult(results)
}

function batchResult(results: Array<{ ok: true; id: string } | { ok: false; id: string; error: unknown }>) {
  for (const result of results)
    if (!result.ok && asAppError(result.error).code === 'not_found') throw result.error
  return {
    Successful: results.filter((result) => result.ok).map((result) => ({ Id: result.id })),
    Failed: results.flatMap((result) => (result.ok ? [] : [failure(result.id, result.error)])),
  }
}

async function changeMessageVisibility(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, true)
  const handle = receiptOf(input)
  const seconds = optionalInteger(input, 'VisibilityTimeout', 0, 43_200)
  if (seconds === undefined)
    throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.')
  await changeVisibility(c.env, c.tenant, queue, handle, seconds).catch((error) => {
    throw receiptError(error, handle)
  })
  return {}
}

async function changeMessageVisibilityBatch(c: SqsContext, input: Input) {
  namedQueue(c, input, true)
  const entries = batchEntries(input)
  const results = await Promise.all(
    entries.map((entry) =>
      changeMessageVisibility(c, { ...entry, QueueUrl: input.QueueUrl }).then(
        () => ({ ok: true as const, id: entry.Id as string }),
        (error: unknown) => ({ ok: false as const, id: entry.Id as string, error }),
      ),
    ),
  )
  return batchResult(results)
}

export const MESSAGE_ACTIONS = {
  SendMessage: sendMessage,
  SendMessageBatch: sendMessageBatch,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  ChangeMessageVisibilityBatch: changeMessageVisibilityBatch,
} satisfies Record<string, (c: SqsContext, input: Input) => Promise<unknown>>

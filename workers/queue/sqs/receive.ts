/**
 * SQS's ReceiveMessage over the queue block's receive: maximum count, visibility, wait time
 * (the queue's ReceiveMessageWaitTimeSeconds when the call names none), the system
 * attributes asked for and the typed message attributes with their SQS digest.
 */
import { receiveMessages } from '../client'
import type { ReceivedMessage } from '../messages'
import { fromNativeAttributes, md5OfAttributes, md5OfText, selectAttributes } from './attributes'
import { optionalInteger, type SqsContext } from './context'
import { namedQueue, readExtras } from './queues'

type Input = Record<string, unknown>

const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'SenderId',
  'MessageGroupId',
  'SequenceNumber',
]

function receivedView(
  c: SqsContext,
  message: ReceivedMessage,
  systemNames: string[],
  attributeNames: string[],
) {
  const system: Record<string, string> = {
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
    SentTimestamp: String(message.sentAt),
    SenderId: c.tenant,
  }
  if (message.groupId !== undefined) {
    system.MessageGroupId = message.groupId
    system.SequenceNumber = String(message.sequenceNumber).padStart(20, '0')
  }
  const typed = selectAttributes(fromNativeAttributes(message.attributes), attributeNames)
  const md5Attributes = md5OfAttributes(typed)
  const attributes = selectAttributes(system, systemNames.includes('All') ? SYSTEM_ATTRIBUTES : systemNames)
  return {
    MessageId: message.messageId,
    ReceiptHandle: message.receiptHandle,
    Body: message.body,
    MD5OfBody: md5OfText(message.body),
    ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
    ...(md5Attributes ? { MessageAttributes: typed, MD5OfMessageAttributes: md5Attributes } : {}),
  }
}

function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

export async function receiveMessage(c: SqsContext, input: Input) {
  const queue = namedQueue(c, input, false)
  const maxMessages = optionalInteger(input, 'MaxNumberOfMessages', 1, 10) ?? 1
  const visibilityTimeoutSeconds = optionalInteger(input, 'VisibilityTimeout', 0, 43_200)
  const waitSeconds =
    optionalInteger(input, 'WaitTimeSeconds', 0, 20) ?? (await readExtras(c, queue)).receiveWaitSeconds
  const messages = await receiveMessages(c.env, c.tenant, queue, {
    maxMessages,
    visibilityTimeoutSeconds,
    waitSeconds,
  })
  const systemNames = [...names(input.AttributeNames), ...names(input.MessageSystemAttributeNames)]
  const attributeNames = names(input.MessageAttributeNames)
  return { Messages: messages.map((message) => receivedView(c, message, systemNames, attributeNames)) }
}

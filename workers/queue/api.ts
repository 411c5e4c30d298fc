/**
 * What other blocks may call (the scheduler delivers due tasks through it): send one
 * message to a tenant's queue exactly as `POST /v1/queues/{queue}/messages` would, with
 * the same checks (404 unknown queue, 413 over 256 KiB, 400 for fields that do not fit the
 * queue), so a caller can surface the AppError as is.
 */
import * as v from 'valibot'
import { OutgoingMessage } from '../../schemas/queue'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { sendMessages } from './client'
import { checkSizes } from './messages'

export interface QueueMessage {
  body: string
  attributes?: Record<string, string>
  /** Seconds before the message becomes visible; at most the queue's retention. */
  delaySeconds?: number
  /** FIFO queues: the message group (required there). */
  groupId?: string
  /** FIFO queues: sends with the same id within 5 minutes are stored once. */
  deduplicationId?: string
}

export interface QueueSendResult {
  messageId: string
  /** True when the send fell in the deduplication window of an earlier one: nothing was stored. */
  duplicate: boolean
  sequenceNumber: number
}

export async function sendToQueue(
  env: Env,
  tenant: string,
  queueName: string,
  message: QueueMessage,
): Promise<QueueSendResult> {
  checkSizes([message], 'body')
  const parsed = v.safeParse(OutgoingMessage, message)
  if (!parsed.success) {
    throw new AppError('validation_failed', 'The message is invalid.', {
      errors: parsed.issues.map((issue) => ({
        path: ['message', ...(issue.path ?? []).map((item) => String(item.key))].join('/'),
        message: issue.message,
      })),
    })
  }
  const {
    results: [sent],
  } = await sendMessages(env, tenant, queueName, [parsed.output], 'body')
  if (!sent) throw new AppError('internal', 'The queue returned no result for the send.')
  return sent
}

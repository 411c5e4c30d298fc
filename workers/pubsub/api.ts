/**
 * What other blocks call to publish (the scheduler fires jobs into topics this way):
 * `publishToTopic(env, tenant, topic, { data, attributes?, orderingKey?, deduplicationId? })`.
 * The caller supplies the tenant it acts for (its own resource's tenant, never one taken
 * from a request body). The same bounds as the HTTP API apply.
 *
 * `data` is bytes, or a string published as its UTF-8 bytes. Resolves once the message is
 * stored; throws `AppError` not_found when the topic does not exist, validation_failed when
 * the message is out of bounds.
 */
import * as v from 'valibot'
import { ResourceName } from '../../schemas/common'
import { Attributes, PUBSUB_LIMITS } from '../../schemas/pubsub'
import type { Env } from '../platform/env'
import { objectStub } from '../platform/tenancy'
import { type MessageDraft, messageSize, type PublishResult, textBytes } from './messages'
import { parseInput } from './route-helpers'

export type { PublishResult }

export interface PublishInput {
  data: string | Uint8Array
  attributes?: Record<string, string>
  orderingKey?: string
  deduplicationId?: string
}

const PublishTarget = v.object({
  topic: ResourceName,
  attributes: v.optional(Attributes, {}),
  orderingKey: v.optional(
    v.pipe(v.string(), v.minLength(1), v.maxLength(PUBSUB_LIMITS.maxOrderingKeyLength)),
  ),
  deduplicationId: v.optional(
    v.pipe(v.string(), v.minLength(1), v.maxLength(PUBSUB_LIMITS.maxDeduplicationIdLength)),
  ),
  size: v.pipe(v.number(), v.maxValue(PUBSUB_LIMITS.maxMessageBytes, 'A message is at most 256 KiB')),
})

export async function publishToTopic(
  env: Env,
  tenant: string,
  topic: string,
  message: PublishInput,
): Promise<PublishResult> {
  const draft: MessageDraft = {
    data: typeof message.data === 'string' ? textBytes(message.data) : message.data,
    attributes: message.attributes ?? {},
    orderingKey: message.orderingKey,
    deduplicationId: message.deduplicationId,
  }
  parseInput(PublishTarget, { ...draft, topic, size: messageSize(draft) }, 'message')
  const [result] = await objectStub(env.PUBSUB_TOPICS, tenant, 'topic', topic).publish([draft])
  if (!result) throw new Error('publish returned no result')
  return result
}

/**
 * What a subscriber receives, in the format its subscription asked for.
 *
 * - `raw`: the Pub/Sub message (`{ message }`; a push body is `{ message, subscription }`,
 *   Google Cloud Pub/Sub's push format).
 * - `cloudevents-structured`: the message's CloudEvent as JSON (`{ event }`; a push body is
 *   the event itself, `content-type: application/cloudevents+json`).
 * - `cloudevents-binary`: pull and stream clients get the message with the event's context
 *   as `ce-*` attributes (the Pub/Sub binding); a push is an HTTP binary-mode request, the
 *   context in `ce-*` headers and the data as the body. Standard Webhooks signs text, so
 *   data that is not UTF-8 is pushed in structured mode (with `data_base64`) instead.
 *
 * Guarantees: the same message renders to the same bytes for the same subscription, so a
 * retried push has the body its signature covers and receivers can compare deliveries.
 * Cost: one base64 or JSON encoding of the message per rendering.
 */
import type { DeliveryFormat } from '../../schemas/pubsub-subscriptions'
import {
  binaryHeaders,
  type EventOrigin,
  eventOfMessage,
  toBindingMessage,
  toStructured,
} from './cloudevents'
import { type PubsubMessage, type StoredMessage, toPubsubMessage, utf8OrUndefined } from './messages'

/** A message as pull responses and stream frames carry it. */
export type RenderedMessage = { message: PubsubMessage } | { event: Record<string, unknown> }

export function renderForClient(
  format: DeliveryFormat,
  message: StoredMessage,
  origin: EventOrigin,
): RenderedMessage {
  if (format === 'raw') return { message: toPubsubMessage(message) }
  const event = eventOfMessage(message, origin)
  if (format === 'cloudevents-structured') return { event: toStructured(event) }
  return { message: toPubsubMessage(toBindingMessage(event, message)) }
}

export interface PushRequestParts {
  headers: Record<string, string>
  body: string
}

export function renderForPush(
  format: DeliveryFormat,
  message: StoredMessage,
  origin: EventOrigin,
): PushRequestParts {
  if (format === 'raw') {
    return {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: toPubsubMessage(message), subscription: origin.subscription }),
    }
  }
  const event = eventOfMessage(message, origin)
  if (format === 'cloudevents-binary') {
    const text = event.data ? utf8OrUndefined(event.data) : ''
    if (text !== undefined) return { headers: binaryHeaders(event), body: text }
  }
  return {
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify(toStructured(event)),
  }
}

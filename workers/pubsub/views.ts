/**
 * What the object answers about itself: topic statistics and subscription views. A push
 * subscription's secret is shown only in the answer that created it.
 */
import type { SubscriptionConfig, SubscriptionRecord } from './subscriptions'

export interface TopicStats {
  headSeq: number
  oldestSeq: number
  messages: number
  bytes: number
  subscriptions: number
  streams: number
}

export interface SubscriptionStats {
  cursor: number
  backlog: number
  outstanding: number
  streams: number
}

export interface SubscriptionView {
  name: string
  topic: string
  type: SubscriptionConfig['type']
  format: SubscriptionConfig['format']
  filter: SubscriptionConfig['filter']
  ackDeadlineSeconds: number
  deadLetter: SubscriptionConfig['deadLetter']
  push: {
    endpoint: string
    secret?: string
    timeoutSeconds: number
    retry: { baseDelaySeconds: number; maxDelaySeconds: number }
  } | null
  createdAt: number
  stats: SubscriptionStats
}

export function subscriptionView(
  record: SubscriptionRecord,
  topic: string,
  stats: SubscriptionStats,
  withSecret: boolean,
): SubscriptionView {
  const { config } = record
  const push = config.push
    ? {
        endpoint: config.push.endpoint,
        ...(withSecret ? { secret: config.push.secret } : {}),
        timeoutSeconds: config.push.timeoutSeconds,
        retry: config.push.retry,
      }
    : null
  return {
    name: record.name,
    topic,
    type: config.type,
    format: config.format,
    filter: config.filter,
    ackDeadlineSeconds: config.ackDeadlineSeconds,
    deadLetter: config.deadLetter,
    push,
    createdAt: record.createdAt,
    stats,
  }
}

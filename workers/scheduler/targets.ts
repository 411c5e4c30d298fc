/**
 * What a task does when it runs: one attempt against its target.
 *
 * - `http`: an HTTP request signed per Standard Webhooks (`signWebhook`, with the
 *   tenant's scheduler secret) and sent by `deliver` with the task's timeout. The
 *   `webhook-id` is the task id, the same on every attempt, so a receiver that keeps the
 *   ids it has processed can drop duplicates (delivery is at-least-once).
 * - `queue`: `sendToQueue` of the queue block; `topic`: `publishToTopic` of pub-sub. Both
 *   pass the task id as their deduplication id (for FIFO queues, and every topic).
 * Any non-2xx answer, network error, timeout or refusal by the block is a failed attempt;
 * nothing here throws.
 */
import { deliver, signWebhook } from '../platform/delivery'
import type { Env } from '../platform/env'
import { asAppError } from '../platform/errors'
import { publishToTopic } from '../pubsub/api'
import { sendToQueue } from '../queue/api'

export interface HttpTarget {
  type: 'http'
  url: string
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: string
}

export interface QueueTarget {
  type: 'queue'
  queue: string
  body: string
  attributes?: Record<string, string>
  /** FIFO queues: the message group. */
  groupId?: string
}

export interface TopicTarget {
  type: 'topic'
  topic: string
  data: string
  attributes?: Record<string, string>
  orderingKey?: string
}

export type Target = HttpTarget | QueueTarget | TopicTarget

export interface AttemptContext {
  env: Env
  tenant: string
  taskId: string
  attempt: number
  /** The tenant's Standard Webhooks secret (`whsec_…`). */
  secret: string
  timeoutMs: number
  fetcher: (request: Request) => Promise<Response>
}

export interface AttemptResult {
  ok: boolean
  responseCode?: number
  error?: string
  durationMs: number
}

const USER_AGENT = 'edgeblocks-scheduler/1'

export async function runAttempt(target: Target, context: AttemptContext): Promise<AttemptResult> {
  if (target.type === 'http') return runHttp(target, context)
  const started = Date.now()
  try {
    await withTimeout<unknown>(context.timeoutMs, () =>
      target.type === 'queue'
        ? sendToQueue(context.env, context.tenant, target.queue, {
            body: target.body,
            ...(target.attributes ? { attributes: target.attributes } : {}),
            ...(target.groupId ? { groupId: target.groupId, deduplicationId: context.taskId } : {}),
          })
        : publishToTopic(context.env, context.tenant, target.topic, {
            data: target.data,
            deduplicationId: context.taskId,
            ...(target.attributes ? { attributes: target.attributes } : {}),
            ...(target.orderingKey ? { orderingKey: target.orderingKey } : {}),
          }),
    )
    return { ok: true, durationMs: Date.now() - started }
  } catch (error) {
    const problem = asAppError(error)
    if (problem.code === 'internal') {
      console.error(
        JSON.stringify({ level: 'error', event: 'target_failed', target: target.type, error: String(error) }),
      )
    }
    const detail =
      problem.code === 'internal'
        ? `the ${target.type} could not take the message (internal error)`
        : problem.detail
    return {
      ok: false,
      responseCode: problem.status,
      error: `${target.type} ${problem.code}: ${detail}`,
      durationMs: Date.now() - started,
    }
  }
}

async function runHttp(target: HttpTarget, context: AttemptContext): Promise<AttemptResult> {
  const body = target.body ?? ''
  // The signature carries the real time of sending: receivers check it against their clock.
  const signature = await signWebhook(context.secret, context.taskId, Math.floor(Date.now() / 1000), body)
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    ...(target.body !== undefined ? { 'content-type': contentTypeOf(target.body) } : {}),
    ...lowercaseKeys(target.headers ?? {}),
    'x-scheduler-attempt': String(context.attempt),
    ...signature,
  }
  const outcome = await deliver(
    {
      url: target.url,
      method: target.method,
      headers,
      ...(target.body !== undefined && target.method !== 'GET' ? { body: target.body } : {}),
      timeoutMs: context.timeoutMs,
    },
    context.fetcher,
  )
  return {
    ok: outcome.ok,
    ...(outcome.status !== undefined ? { responseCode: outcome.status } : {}),
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    durationMs: outcome.durationMs,
  }
}

/** JSON when the body parses as JSON, plain text otherwise (a `content-type` header wins). */
function contentTypeOf(body: string): string {
  try {
    JSON.parse(body)
    return 'application/json'
  } catch {
    return 'text/plain; charset=utf-8'
  }
}

function lowercaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
}

async function withTimeout<T>(timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([work(), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Helpers of the pub-sub tests: a tenant with a topic, publishing, subscriptions, reaching
 * the topic's object (to wait for in-flight deliveries, fire alarms, move its clock), and
 * a push endpoint served by mocking the outbound `fetch` of the Worker's isolate.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { vi } from 'vitest'
import type { PubsubTopic } from '../../workers/pubsub/object'
import { call, tokenFor, uniqueTenant } from '../helpers'

export const b64 = (text: string) => btoa(text)
export const fromB64 = (base64: string) => atob(base64)

export interface Fixture {
  tenant: string
  token: string
  topic: string
}

export async function topicFixture(options: Record<string, unknown> = {}): Promise<Fixture> {
  const tenant = uniqueTenant('ps')
  const token = await tokenFor(tenant, ['pubsub:read', 'pubsub:write'])
  const topic = `topic-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/pubsub/topics', { token, body: { name: topic, ...options } })
  if (created.status !== 201) throw new Error(`topic create failed: ${JSON.stringify(created.body)}`)
  return { tenant, token, topic }
}

export async function createTopic(fixture: Pick<Fixture, 'token'>, name: string, options = {}) {
  const created = await call('/v1/pubsub/topics', { token: fixture.token, body: { name, ...options } })
  if (created.status !== 201) throw new Error(`topic create failed: ${JSON.stringify(created.body)}`)
}

export async function subscribe(fixture: Fixture, body: Record<string, unknown>) {
  const created = await call<Record<string, unknown>>(`/v1/pubsub/topics/${fixture.topic}/subscriptions`, {
    token: fixture.token,
    body,
  })
  if (created.status !== 201) throw new Error(`subscribe failed: ${JSON.stringify(created.body)}`)
  return created.body
}

export interface PublishMessage {
  data?: string
  attributes?: Record<string, string>
  orderingKey?: string
  deduplicationId?: string
}

/** Publishes messages (data given as text) and returns their sequence numbers. */
export async function publish(fixture: Fixture, messages: PublishMessage[], topic = fixture.topic) {
  const response = await call<{ messages: Array<{ seq: number; duplicate: boolean }> }>(
    `/v1/pubsub/topics/${topic}/messages`,
    {
      token: fixture.token,
      body: {
        messages: messages.map((m) => ({ ...m, data: m.data === undefined ? undefined : b64(m.data) })),
      },
    },
  )
  if (response.status !== 200) throw new Error(`publish failed: ${JSON.stringify(response.body)}`)
  return response.body.messages
}

export interface Received {
  ackId: string
  deliveryAttempt: number
  message?: { seq: number; data: string; attributes: Record<string, string>; orderingKey?: string }
  event?: Record<string, unknown>
}

export async function pull(fixture: Fixture, subscription: string, body: Record<string, unknown> = {}) {
  const response = await call<{ receivedMessages: Received[] }>(
    `/v1/pubsub/topics/${fixture.topic}/subscriptions/${subscription}/pull`,
    { token: fixture.token, body },
  )
  if (response.status !== 200) throw new Error(`pull failed: ${JSON.stringify(response.body)}`)
  return response.body.receivedMessages
}

export async function ack(fixture: Fixture, subscription: string, ackIds: string[]) {
  return call<{ count: number; invalidAckIds: string[] }>(
    `/v1/pubsub/topics/${fixture.topic}/subscriptions/${subscription}/ack`,
    { token: fixture.token, body: { ackIds } },
  )
}

export function topicObject(tenant: string, topic: string) {
  return env.PUBSUB_TOPICS.get(env.PUBSUB_TOPICS.idFromName(`${tenant}:topic:${topic}`))
}

/** Waits until the topic's push loops, stream pumps and dead-letter moves are idle. */
export async function settle(tenant: string, topic: string): Promise<void> {
  await runInDurableObject(topicObject(tenant, topic), (instance: PubsubTopic) => instance.settled())
}

/** Fires the topic's alarm (if one is armed) and waits for what it started. */
export async function fireAlarm(tenant: string, topic: string): Promise<boolean> {
  const ran = await runDurableObjectAlarm(topicObject(tenant, topic))
  await settle(tenant, topic)
  return ran
}

/** Makes `ms` pass for the topic: every stored time moves that far into the past. */
export async function elapse(tenant: string, topic: string, ms: number): Promise<void> {
  await runInDurableObject(topicObject(tenant, topic), (_instance, state) => {
    const sql = state.storage.sql
    sql.exec('UPDATE messages SET published_at = published_at - ?', ms)
    sql.exec(
      'UPDATE topic SET last_published_at = last_published_at - ?, created_at = created_at - ?',
      ms,
      ms,
    )
    sql.exec('UPDATE deliveries SET visible_at = visible_at - ? WHERE visible_at > 0', ms)
    sql.exec('UPDATE dedup SET expires_at = expires_at - ?', ms)
    sql.exec('UPDATE timers SET due_at = due_at - ?', ms)
  })
}

export interface PushRequest {
  url: string
  headers: Record<string, string>
  body: string
}

/**
 * Serves `https://push.test/…` from `respond` by mocking the isolate's outbound fetch
 * (the Worker and its objects run in the test's isolate); every other URL goes out.
 */
export function mockPushEndpoints(respond: (request: PushRequest) => Response | Promise<Response>) {
  const realFetch = globalThis.fetch
  const received: PushRequest[] = []
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (!url.startsWith('https://push.test/')) return realFetch(input, init)
    const request = new Request(input, init)
    const headers: Record<string, string> = {}
    request.headers.forEach((value, key) => {
      headers[key] = value
    })
    const pushed = { url: request.url, headers, body: await request.text() }
    received.push(pushed)
    return respond(pushed)
  })
  return { received, restore: () => spy.mockRestore() }
}

/**
 * Runs `count` calls with at most `concurrency` in flight (every request authenticates
 * against the local libSQL server, which refuses far more simultaneous connections).
 */
export async function inParallel<T>(count: number, concurrency: number, run: (i: number) => Promise<T>) {
  const results: T[] = new Array(count)
  let next = 0
  async function worker() {
    while (next < count) {
      const i = next++
      results[i] = await run(i)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return results
}

/**
 * Helpers for the queue tests: a tenant with a token, queue creation, send / receive / ack
 * through the Worker, and direct access to a queue's partition objects for firing alarms.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect } from 'vitest'
import type { QueuePartition } from '../../workers/queue/object'
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface Received {
  messageId: string
  receiptHandle: string
  body: string
  attributes: Record<string, string>
  receiveCount: number
  sequenceNumber: number
  groupId?: string
  deadLetter?: Record<string, unknown>
}

export interface QueueClient {
  tenant: string
  token: string
  create(name: string, settings?: Record<string, unknown>): Promise<Record<string, unknown>>
  send(
    queue: string,
    message: Record<string, unknown> | string,
  ): Promise<{ messageId: string; duplicate: boolean }>
  sendBatch(queue: string, messages: Array<Record<string, unknown>>): Promise<Array<{ messageId: string }>>
  receive(queue: string, options?: Record<string, unknown>): Promise<Received[]>
  ack(queue: string, receiptHandle: string): Promise<{ status: number; body: Record<string, unknown> }>
  stats(queue: string): Promise<Record<string, number | null>>
}

export async function queueClient(): Promise<QueueClient> {
  const tenant = uniqueTenant('q')
  const token = await tokenFor(tenant, ['queue:read', 'queue:write'])
  const path = (queue: string) => `/v1/queues/${queue}`
  return {
    tenant,
    token,
    async create(name, settings = {}) {
      const response = await call(path(name), { method: 'PUT', token, body: settings })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      return response.body
    },
    async send(queue, message) {
      const body = typeof message === 'string' ? { body: message } : message
      const response = await call<{ messageId: string; duplicate: boolean }>(`${path(queue)}/messages`, {
        token,
        body,
      })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      return response.body
    },
    async sendBatch(queue, messages) {
      const response = await call<{ messages: Array<{ messageId: string }> }>(
        `${path(queue)}/messages/batch`,
        {
          token,
          body: { messages },
        },
      )
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      return response.body.messages
    },
    async receive(queue, options = {}) {
      const response = await call<{ messages: Received[] }>(`${path(queue)}/messages/receive`, {
        token,
        body: { maxMessages: 10, ...options },
      })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      return response.body.messages
    },
    async ack(queue, receiptHandle) {
      return call(`${path(queue)}/messages/${receiptHandle}`, { method: 'DELETE', token })
    },
    async stats(queue) {
      const response = await call<{ stats: Record<string, number | null> }>(path(queue), { token })
      expect(response.status, JSON.stringify(response.body)).toBe(200)
      return response.body.stats
    },
  }
}

export function partition(tenant: string, queue: string, index = 0): DurableObjectStub<QueuePartition> {
  return env.QUEUES.get(env.QUEUES.idFromName(`${tenant}:queue:${queue}#${index}`))
}

/**
 * Moves a partition's clock forward and fires its alarm, then waits for the alarm's work
 * (moves to other queues, pushes) to finish — also when the runtime fired it first.
 */
export async function advance(stub: DurableObjectStub<QueuePartition>, ms: number): Promise<void> {
  await stub.advanceClockForTest(ms)
  await settle(stub)
}

export async function settle(stub: DurableObjectStub<QueuePartition>): Promise<void> {
  await runDurableObjectAlarm(stub)
  await runInDurableObject(stub, (instance: QueuePartition) => instance.whenIdle())
}

export function problemCode(body: unknown): string | undefined {
  const type = (body as { type?: string }).type
  return type?.split(':').at(-1)
}

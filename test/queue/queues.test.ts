import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { sendToQueue } from '../../workers/queue/api'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { problemCode, queueClient } from './support'

describe('queue management', () => {
  it('creates a queue with defaults, lists it and shows its stats', async () => {
    const q = await queueClient()
    const created = await q.create('emails')
    expect(created).toMatchObject({
      name: 'emails',
      version: 1,
      settings: {
        fifo: false,
        visibilityTimeoutSeconds: 30,
        retentionSeconds: 4 * 24 * 3600,
        delaySeconds: 0,
        partitions: 1,
        deadLetter: null,
        push: null,
      },
    })
    const again = await call('/v1/queues/emails', { method: 'PUT', token: q.token, body: {} })
    expect(again.status).toBe(409)
    expect(problemCode(again.body)).toBe('conflict')

    const shown = await call<{ stats: Record<string, unknown>; partitionStats: unknown[] }>(
      '/v1/queues/emails',
      {
        token: q.token,
      },
    )
    expect(shown.status).toBe(200)
    expect(shown.body.stats).toMatchObject({
      visible: 0,
      inFlight: 0,
      delayed: 0,
      oldestMessageAgeSeconds: null,
    })
    expect(shown.body.partitionStats).toHaveLength(1)
  })

  it('lists queues by name with a cursor', async () => {
    const q = await queueClient()
    for (const name of ['c', 'a', 'e', 'b', 'd']) await q.create(name)
    const names: string[] = []
    let cursor: string | undefined
    do {
      const page = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(
        `/v1/queues?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: q.token },
      )
      expect(page.status).toBe(200)
      names.push(...page.body.items.map((item) => item.name))
      cursor = page.body.nextCursor
    } while (cursor)
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('configures a queue and keeps the rules of its type', async () => {
    const q = await queueClient()
    await q.create('jobs', { partitions: 2 })
    const patched = await call<{ version: number; settings: Record<string, unknown> }>('/v1/queues/jobs', {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 120, partitions: 4 },
    })
    expect(patched.status).toBe(200)
    expect(patched.body.version).toBe(2)
    expect(patched.body.settings).toMatchObject({ visibilityTimeoutSeconds: 120, partitions: 4 })

    const cases: Array<[Record<string, unknown>, number]> = [
      [{ fifo: true }, 409],
      [{ partitions: 3 }, 409],
      [{ delaySeconds: 3600, retentionSeconds: 600 }, 400],
      [{ visibilityTimeoutSeconds: 12 * 3600 + 1 }, 400],
      [{ deadLetter: { queue: 'missing', maxReceiveCount: 3 } }, 400],
      [{ deadLetter: { queue: 'jobs', maxReceiveCount: 3 } }, 400],
      [{ push: { url: 'http://insecure.example/hook' } }, 400],
      [{ unknownSetting: true }, 400],
    ]
    for (const [body, status] of cases) {
      const response = await call('/v1/queues/jobs', { method: 'PATCH', token: q.token, body })
      expect(response.status, JSON.stringify(body)).toBe(status)
    }
    const after = await call<{ version: number; settings: Record<string, unknown> }>('/v1/queues/jobs', {
      token: q.token,
    })
    expect(after.body.version).toBe(2)
    expect(after.body.settings).toMatchObject({
      visibilityTimeoutSeconds: 120,
      partitions: 4,
      deadLetter: null,
    })
  })

  it('checks dead-letter queues: same type, and push needs one', async () => {
    const q = await queueClient()
    await q.create('standard-dlq')
    await q.create('fifo-dlq', { fifo: true })
    const fifoWithStandardDlq = await call('/v1/queues/f', {
      method: 'PUT',
      token: q.token,
      body: { fifo: true, deadLetter: { queue: 'standard-dlq', maxReceiveCount: 2 } },
    })
    expect(fifoWithStandardDlq.status).toBe(400)
    const fifoWithPartitions = await call('/v1/queues/f', {
      method: 'PUT',
      token: q.token,
      body: { fifo: true, partitions: 2 },
    })
    expect(fifoWithPartitions.status).toBe(400)
    const pushWithoutDlq = await call('/v1/queues/p', {
      method: 'PUT',
      token: q.token,
      body: { push: { url: 'https://hooks.example/q' } },
    })
    expect(pushWithoutDlq.status).toBe(400)
    expect(problemCode(pushWithoutDlq.body)).toBe('validation_failed')
    const listed = await call<{ items: unknown[] }>('/v1/queues', { token: q.token })
    expect(listed.body.items).toHaveLength(2)

    await q.create('f', { fifo: true, deadLetter: { queue: 'fifo-dlq', maxReceiveCount: 2 } })
    const inUse = await call('/v1/queues/fifo-dlq', { method: 'DELETE', token: q.token })
    expect(inUse.status).toBe(409)
  })

  it('returns the push secret once', async () => {
    const q = await queueClient()
    await q.create('dlq')
    const created = await q.create('pushed', {
      deadLetter: { queue: 'dlq', maxReceiveCount: 5 },
      push: { url: 'https://hooks.example/q' },
    })
    const secret = (created.settings as { push: { secret: string } }).push.secret
    expect(secret).toMatch(/^whsec_/)
    const shown = await call<{ settings: { push: Record<string, unknown> } }>('/v1/queues/pushed', {
      token: q.token,
    })
    expect(shown.body.settings.push).not.toHaveProperty('secret')
    const sameUrl = await call<{ settings: { push: Record<string, unknown> } }>('/v1/queues/pushed', {
      method: 'PATCH',
      token: q.token,
      body: { push: { url: 'https://hooks.example/q', batchSize: 20 } },
    })
    expect(sameUrl.body.settings.push).not.toHaveProperty('secret')
    const newUrl = await call<{ settings: { push: { secret: string } } }>('/v1/queues/pushed', {
      method: 'PATCH',
      token: q.token,
      body: { push: { url: 'https://hooks.example/other' } },
    })
    expect(newUrl.body.settings.push.secret).toMatch(/^whsec_/)
    expect(newUrl.body.settings.push.secret).not.toBe(secret)
  })

  it('purges and deletes; a deleted queue answers 404 and a new one under the name starts empty', async () => {
    const q = await queueClient()
    await q.create('tmp')
    await q.sendBatch('tmp', [{ body: 'a' }, { body: 'b' }])
    const purged = await call('/v1/queues/tmp/purge', { method: 'POST', token: q.token })
    expect(purged.body).toEqual({ purged: 2 })
    await q.send('tmp', 'c')
    expect((await call('/v1/queues/tmp', { method: 'DELETE', token: q.token })).status).toBe(200)
    expect((await call('/v1/queues/tmp', { token: q.token })).status).toBe(404)
    expect((await call('/v1/queues/tmp/messages', { token: q.token, body: { body: 'x' } })).status).toBe(404)
    expect((await call('/v1/queues/tmp', { method: 'DELETE', token: q.token })).status).toBe(404)
    await q.create('tmp')
    expect(await q.receive('tmp')).toEqual([])
    expect(await q.stats('tmp')).toMatchObject({ sent: 0, purged: 0 })
  })
})

describe('bad input changes nothing', () => {
  it('answers 4xx problems for oversize, overlong, out-of-range and malformed input', async () => {
    const q = await queueClient()
    await q.create('strict', { retentionSeconds: 3600 })
    await q.create('fifo', { fifo: true })
    const send = (body: unknown, queue = 'strict') =>
      call(`/v1/queues/${queue}/messages`, { token: q.token, body })
    const batch = (messages: unknown[]) =>
      call('/v1/queues/strict/messages/batch', { token: q.token, body: { messages } })
    const receive = (body: unknown, queue = 'strict') =>
      call(`/v1/queues/${queue}/messages/receive`, { token: q.token, body })

    const oversize = await send({ body: 'x'.repeat(256 * 1024 + 1) })
    expect(oversize.status).toBe(413)
    expect(problemCode(oversize.body)).toBe('payload_too_large')
    const exactly = 'é'.repeat(128 * 1024 - 8)
    const withAttributes = await send({ body: exactly, attributes: { 'a-long-name': 'x'.repeat(20) } })
    expect(withAttributes.status).toBe(413)
    const bigBatch = await batch(Array.from({ length: 5 }, () => ({ body: 'y'.repeat(250 * 1024) })))
    expect(bigBatch.status).toBe(413)
    const tooMany = await batch(Array.from({ length: 101 }, () => ({ body: 'z' })))
    expect(tooMany.status).toBe(400)
    expect(problemCode(tooMany.body)).toBe('validation_failed')
    expect((await send({ body: 'late', delaySeconds: 3601 })).status).toBe(400)
    expect((await send({ body: 'group', groupId: 'g' })).status).toBe(400)
    expect((await send({ body: 'no group', deduplicationId: 'd' }, 'fifo')).status).toBe(400)
    expect((await send({ body: 'no dedup', groupId: 'g' }, 'fifo')).status).toBe(400)
    expect((await send({ body: 1 })).status).toBe(400)
    const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v']))
    expect((await send({ body: 'attrs', attributes })).status).toBe(400)
    expect((await receive({ visibilityTimeoutSeconds: 12 * 3600 + 1 })).status).toBe(400)
    expect((await receive({ maxMessages: 101 })).status).toBe(400)
    expect((await receive({ waitSeconds: 21 })).status).toBe(400)
    expect((await receive({}, 'nope')).status).toBe(404)
    expect((await send({ body: 'x' }, 'nope')).status).toBe(404)
    expect((await call('/v1/queues/Bad:Name', { method: 'PUT', token: q.token, body: {} })).status).toBe(400)
    expect(
      (await call('/v1/queues/r', { method: 'PUT', token: q.token, body: { retentionSeconds: 59 } })).status,
    ).toBe(400)

    for (const handle of ['not-a-handle', 'AAAA', btoa('0.1.zzz.nonce').replace(/=+$/, '')]) {
      const ack = await q.ack('strict', handle)
      expect(ack.status, handle).toBe(400)
      expect(problemCode(ack.body)).toBe('validation_failed')
    }
    await q.send('strict', 'kept')
    const [message] = await q.receive('strict', { visibilityTimeoutSeconds: 60 })
    const mixed = await call('/v1/queues/strict/messages/ack', {
      token: q.token,
      body: { receiptHandles: [message?.receiptHandle, 'garbage'] },
    })
    expect(mixed.status).toBe(400)
    const beyond = await call(`/v1/queues/strict/messages/${message?.receiptHandle}`, {
      method: 'PATCH',
      token: q.token,
      body: { visibilityTimeoutSeconds: 12 * 3600 + 1 },
    })
    expect(beyond.status).toBe(400)

    expect(await q.stats('strict')).toMatchObject({ sent: 1, visible: 0, inFlight: 1, acked: 0 })
    expect(await q.stats('fifo')).toMatchObject({ sent: 0 })
    expect((await q.ack('strict', message?.receiptHandle ?? '')).status).toBe(200)
  })
})

describe('tenancy and scopes', () => {
  it('keeps tenants apart even under the same queue name', async () => {
    const a = await queueClient()
    const b = await queueClient()
    await a.create('shared')
    await b.create('shared')
    await a.create('only-a')
    await a.send('shared', 'for a')
    expect(await b.receive('shared')).toEqual([])
    const [message] = await a.receive('shared')
    expect((await b.ack('shared', message?.receiptHandle ?? '')).status).toBe(410)
    expect((await call('/v1/queues/only-a', { token: b.token })).status).toBe(404)
    expect((await call('/v1/queues/only-a/messages', { token: b.token, body: { body: 'x' } })).status).toBe(
      404,
    )
    const bList = await call<{ items: Array<{ name: string }> }>('/v1/queues', { token: b.token })
    expect(bList.body.items.map((item) => item.name)).toEqual(['shared'])
    expect((await a.ack('shared', message?.receiptHandle ?? '')).status).toBe(200)
  })

  it('needs queue:write to send and queue:read to receive', async () => {
    const tenant = uniqueTenant('q')
    const admin = await tokenFor(tenant, ['queue:read', 'queue:write'])
    const reader = await tokenFor(tenant, ['queue:read'])
    const writer = await tokenFor(tenant, ['queue:write'])
    expect((await call('/v1/queues/s', { method: 'PUT', token: admin, body: {} })).status).toBe(201)
    expect((await call('/v1/queues/s/messages', { token: reader, body: { body: 'x' } })).status).toBe(403)
    expect((await call('/v1/queues/s/messages/receive', { token: writer, body: {} })).status).toBe(403)
    expect((await call('/v1/queues/s', { method: 'DELETE', token: reader })).status).toBe(403)
    expect((await call('/v1/queues/s')).status).toBe(401)
  })
})

describe('for other blocks and for the docs', () => {
  it('sendToQueue sends like the route does, with the same errors', async () => {
    const q = await queueClient()
    await q.create('tasks.fifo', { fifo: true })
    const sent = await sendToQueue(env, q.tenant, 'tasks.fifo', {
      body: 'run report',
      groupId: 'reports',
      deduplicationId: 'report-1',
      attributes: { source: 'scheduler' },
    })
    expect(sent.duplicate).toBe(false)
    const again = await sendToQueue(env, q.tenant, 'tasks.fifo', {
      body: 'run report',
      groupId: 'reports',
      deduplicationId: 'report-1',
    })
    expect(again).toMatchObject({ messageId: sent.messageId, duplicate: true })
    const [received] = await q.receive('tasks.fifo')
    expect(received).toMatchObject({ messageId: sent.messageId, attributes: { source: 'scheduler' } })
    await expect(sendToQueue(env, q.tenant, 'missing', { body: 'x' })).rejects.toMatchObject({
      code: 'not_found',
    })
    await expect(sendToQueue(env, q.tenant, 'tasks.fifo', { body: 'x' })).rejects.toThrow(/groupId/)
    await expect(
      sendToQueue(env, q.tenant, 'tasks.fifo', { body: 'x'.repeat(300_000) }),
    ).rejects.toMatchObject({ code: 'payload_too_large' })
    await expect(
      sendToQueue(env, q.tenant, 'tasks.fifo', { body: 'x', groupId: 'has space' }),
    ).rejects.toMatchObject({ code: 'validation_failed' })
  })

  it('documents every queue route in the OpenAPI document', async () => {
    const { status, body } = await call<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json')
    expect(status).toBe(200)
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/queues',
        '/v1/queues/{queue}',
        '/v1/queues/{queue}/purge',
        '/v1/queues/{queue}/redrive',
        '/v1/queues/{queue}/messages',
        '/v1/queues/{queue}/messages/batch',
        '/v1/queues/{queue}/messages/receive',
        '/v1/queues/{queue}/messages/ack',
        '/v1/queues/{queue}/messages/{receiptHandle}',
      ]),
    )
    expect(Object.keys(body.paths['/v1/queues/{queue}'] ?? {}).sort()).toEqual([
      'delete',
      'get',
      'patch',
      'put',
    ])
  })
})

/**
 * The platform's answers to hostile input, checked at the shared machinery every block
 * uses: forged cursors (registry), non-JSON bodies and arrays (validate('json')), header-
 * unsafe text (schemas/text.ts), expected errors inside Durable Objects (hosted-object.ts).
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { isHeaderSafeText, isWellFormedText } from '../../schemas/text'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { liveOperations } from '../support/openapi-operations'

async function tenantWithQueue() {
  const tenant = uniqueTenant('hard')
  const token = await tokenFor(tenant, ['admin'])
  expect((await call('/v1/queues/q', { method: 'PUT', token, body: {} })).status).toBe(201)
  return { tenant, token }
}

function expectProblem(response: { status: number; headers: Headers; body: unknown }, status: number) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toBe('application/problem+json')
  expect(response.body).toMatchObject({ status })
}

describe('forged cursors', () => {
  it('are a 400 on every listing that takes a cursor, never a 500', async () => {
    const { token } = await tenantWithQueue()
    const listings = (await liveOperations()).filter(
      (op) => op.method === 'GET' && op.queryParams.includes('cursor') && op.pathParams.length === 0,
    )
    expect(listings.length).toBeGreaterThanOrEqual(5)
    for (const op of listings) {
      // base64url of "\0", of "a\0b", of a lone surrogate's bytes, and of invalid UTF-8.
      for (const cursor of ['AA', 'YQBi', '7aCA', '_w']) {
        const response = await call(`${op.path}?cursor=${cursor}`, { token })
        expectProblem(response, 400)
        expect(response.body).toMatchObject({ errors: [{ path: 'query/cursor' }] })
      }
    }
  })

  it('still page through a listing when the server issued them', async () => {
    const { token } = await tenantWithQueue()
    await call('/v1/queues/r', { method: 'PUT', token, body: {} })
    const first = await call<{ items: Array<{ name: string }>; nextCursor: string }>('/v1/queues?limit=1', {
      token,
    })
    const second = await call<{ items: Array<{ name: string }> }>(
      `/v1/queues?limit=1&cursor=${first.body.nextCursor}`,
      {
        token,
      },
    )
    expect([...first.body.items, ...second.body.items].map((q) => q.name)).toEqual(['q', 'r'])
  })
})

describe('JSON bodies', () => {
  it('answer 415 to another media type and change nothing', async () => {
    const { token } = await tenantWithQueue()
    const before = await call<{ version: number }>('/v1/queues/q', { token })
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const response = await call('/v1/queues/q', {
        method: 'PATCH',
        token,
        body: JSON.stringify({ visibilityTimeoutSeconds: 99 }),
        headers: { 'content-type': contentType },
      })
      expectProblem(response, 415)
    }
    // A body without any content type is not JSON either.
    const noType = await SELF.fetch('http://edge.test/v1/queues/q', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}` },
      body: new TextEncoder().encode('{"visibilityTimeoutSeconds":99}'),
    })
    expect(noType.status).toBe(415)
    const after = await call<{ version: number; settings: { visibilityTimeoutSeconds: number } }>(
      '/v1/queues/q',
      { token },
    )
    expect(after.body.version).toBe(before.body.version)
    expect(after.body.settings.visibilityTimeoutSeconds).toBe(30)
  })

  it('accept application/json with parameters and +json types', async () => {
    const { token } = await tenantWithQueue()
    for (const contentType of [
      'application/json; charset=utf-8',
      'Application/JSON;charset=UTF-8',
      'application/merge-patch+json',
    ]) {
      const response = await call('/v1/queues/q', {
        method: 'PATCH',
        token,
        body: { visibilityTimeoutSeconds: 45 },
        headers: { 'content-type': contentType },
      })
      expect(response.status, contentType).toBe(200)
    }
  })

  it('must be a plain object where an object is expected: arrays, null and scalars are 400', async () => {
    const { token } = await tenantWithQueue()
    for (const body of ['[]', '[{}]', 'null', '"text"', '42']) {
      for (const [method, path] of [
        ['PUT', '/v1/queues/fresh'],
        ['PATCH', '/v1/queues/q'],
        ['POST', '/v1/queues/q/messages/receive'],
        ['POST', '/v1/sequencer/clocks/c/lamport'],
      ] as const) {
        const response = await call(path, { method, token, body })
        expectProblem(response, 400)
        expect(response.body).toMatchObject({
          errors: [{ path: 'body', message: 'Must be a plain JSON object' }],
        })
      }
    }
    expect((await call('/v1/queues/fresh', { token })).status).toBe(404)
  })

  it('answers malformed JSON with a 400 problem', async () => {
    const { token } = await tenantWithQueue()
    expectProblem(await call('/v1/queues/q', { method: 'PATCH', token, body: '{"a":' }), 400)
  })

  it('treats an empty body without a content type as no options', async () => {
    const { token } = await tenantWithQueue()
    const response = await call('/v1/queues/q/messages/receive', { method: 'POST', token })
    expect(response.status).toBe(200)
  })
})

describe('text that may reach headers and logs', () => {
  it('is checked by one reusable rule', () => {
    expect(isWellFormedText('ok 😀')).toBe(true)
    expect(isWellFormedText('\ud800')).toBe(false)
    expect(isWellFormedText('x\udc00')).toBe(false)
    expect(isHeaderSafeText('tab\tok')).toBe(true)
    for (const bad of ['a\u0000b', 'a\r\nb', 'a\nb', '\u007f', '\ud83d'])
      expect(isHeaderSafeText(bad)).toBe(false)
  })

  it('is refused in pub-sub attributes, ordering keys and deduplication ids, and in a pause note', async () => {
    const tenant = uniqueTenant('hard')
    const token = await tokenFor(tenant, ['admin'])
    expect((await call('/v1/pubsub/topics', { token, body: { name: 't' } })).status).toBe(201)
    for (const message of [
      { data: 'aGk=', attributes: { k: 'a\r\nInjected: 1' } },
      { data: 'aGk=', attributes: { k: 'a\u0000' } },
      { data: 'aGk=', orderingKey: 'k\ud800' },
      { data: 'aGk=', deduplicationId: 'd\n' },
    ]) {
      expectProblem(await call('/v1/pubsub/topics/t/messages', { token, body: { messages: [message] } }), 400)
    }
    const stats = await call<{ stats?: { messages: number } }>('/v1/pubsub/topics/t', { token })
    expect(stats.body.stats?.messages ?? 0).toBe(0)
    const schedule = await call('/v1/scheduler/schedules', {
      token,
      body: { name: 's', cron: '0 3 1 1 *', target: { type: 'queue', queue: 'q', body: 'x' } },
    })
    expect(schedule.status).toBe(201)
    expectProblem(await call('/v1/scheduler/schedules/s/pause', { token, body: { note: 'a\u0000b' } }), 400)
    expect((await call<{ paused: boolean }>('/v1/scheduler/schedules/s', { token })).body.paused).toBe(false)
  })
})

describe('expected errors inside Durable Objects', () => {
  it('cross the RPC boundary as the same problem', async () => {
    const token = await tokenFor(uniqueTenant('hard'), ['admin'])
    await call('/v1/pubsub/topics', { token, body: { name: 't' } })
    const response = await call('/v1/pubsub/topics/t/subscriptions/missing/pull', { token, body: {} })
    expectProblem(response, 404)
    expect(response.body).toMatchObject({ type: 'urn:edgeblocks:problem:not_found' })
  })
})

import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { b64, publish, topicFixture } from './helpers'

type Problem = { type: string; detail?: string; errors?: Array<{ path: string; message: string }> }

describe('topics', () => {
  it('creates, gets, lists with a cursor and deletes topics', async () => {
    const tenant = uniqueTenant('ps')
    const token = await tokenFor(tenant, ['pubsub:read', 'pubsub:write'])
    const created = await call('/v1/pubsub/topics', {
      token,
      body: { name: 'orders', retention: { maxAgeSeconds: 3600 }, deduplicationWindowSeconds: 60 },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'orders',
      retention: { maxAgeSeconds: 3600, maxBytes: 256 * 1024 * 1024 },
      deduplicationWindowSeconds: 60,
      stats: { headSeq: 0, oldestSeq: 1, messages: 0, bytes: 0, subscriptions: 0, streams: 0 },
    })
    for (const name of ['a-topic', 'b-topic', 'c-topic']) {
      expect((await call('/v1/pubsub/topics', { token, body: { name } })).status).toBe(201)
    }

    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await call<{ items: Array<{ name: string }>; nextCursor?: string }>(
        `/v1/pubsub/topics?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token },
      )
      expect(page.status).toBe(200)
      expect(page.body.items.length).toBeLessThanOrEqual(2)
      seen.push(...page.body.items.map((item) => item.name))
      cursor = page.body.nextCursor
    } while (cursor)
    expect(seen).toEqual(['a-topic', 'b-topic', 'c-topic', 'orders'])

    await call('/v1/pubsub/topics/orders/messages', { token, body: { messages: [{ data: b64('x') }] } })
    const got = await call<{ stats: { headSeq: number; messages: number; bytes: number } }>(
      '/v1/pubsub/topics/orders',
      { token },
    )
    expect(got.status).toBe(200)
    expect(got.body.stats).toMatchObject({ headSeq: 1, messages: 1, bytes: 1 })

    expect((await call('/v1/pubsub/topics/orders', { token, method: 'DELETE' })).body).toEqual({
      deleted: true,
    })
    expect((await call('/v1/pubsub/topics/orders', { token })).status).toBe(404)
    const publishAfterDelete = await call<Problem>('/v1/pubsub/topics/orders/messages', {
      token,
      body: { messages: [{ data: b64('x') }] },
    })
    expect(publishAfterDelete.status).toBe(404)
    expect(publishAfterDelete.body.type).toMatch(/not_found$/)
    expect(publishAfterDelete.body.detail).toBe('No topic named "orders".')
  })

  it('recreating a deleted topic starts an empty log', async () => {
    const fixture = await topicFixture()
    await publish(fixture, [{ data: 'one' }, { data: 'two' }])
    await call(`/v1/pubsub/topics/${fixture.topic}`, { token: fixture.token, method: 'DELETE' })
    await call('/v1/pubsub/topics', { token: fixture.token, body: { name: fixture.topic } })
    const [first] = await publish(fixture, [{ data: 'fresh' }])
    expect(first?.seq).toBe(1)
  })

  it('answers 409 for a duplicate name and changes nothing', async () => {
    const fixture = await topicFixture({ deduplicationWindowSeconds: 30 })
    const again = await call<Problem>('/v1/pubsub/topics', {
      token: fixture.token,
      body: { name: fixture.topic, deduplicationWindowSeconds: 90 },
    })
    expect(again.status).toBe(409)
    expect(again.body.type).toMatch(/conflict$/)
    const got = await call<{ deduplicationWindowSeconds: number }>(`/v1/pubsub/topics/${fixture.topic}`, {
      token: fixture.token,
    })
    expect(got.body.deduplicationWindowSeconds).toBe(30)
  })

  it('rejects bad topic settings with 400 and creates nothing', async () => {
    const tenant = uniqueTenant('ps')
    const token = await tokenFor(tenant, ['pubsub:read', 'pubsub:write'])
    const cases: Array<[unknown, string]> = [
      [{ name: '-bad' }, 'body/name'],
      [{ name: 'x'.repeat(129) }, 'body/name'],
      [{ name: 'ok', retention: { maxAgeSeconds: 10 } }, 'body/retention/maxAgeSeconds'],
      [{ name: 'ok', retention: { maxBytes: 1 } }, 'body/retention/maxBytes'],
      [{ name: 'ok', deduplicationWindowSeconds: 86_401 }, 'body/deduplicationWindowSeconds'],
      [{ name: 'ok', surprise: true }, 'body/surprise'],
    ]
    for (const [body, path] of cases) {
      const response = await call<Problem>('/v1/pubsub/topics', { token, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.type).toMatch(/validation_failed$/)
      expect(response.body.errors?.map((error) => error.path)).toContain(path)
    }
    const list = await call<{ items: unknown[] }>('/v1/pubsub/topics', { token })
    expect(list.body.items).toEqual([])
  })

  it('needs the pubsub scopes', async () => {
    const fixture = await topicFixture()
    const readOnly = await tokenFor(fixture.tenant, ['pubsub:read'])
    const other = await tokenFor(fixture.tenant, ['queue:write'])
    expect((await call('/v1/pubsub/topics', { token: other })).status).toBe(403)
    expect((await call(`/v1/pubsub/topics/${fixture.topic}`, { token: readOnly })).status).toBe(200)
    const denied = await call(`/v1/pubsub/topics/${fixture.topic}/messages`, {
      token: readOnly,
      body: { messages: [{ data: b64('x') }] },
    })
    expect(denied.status).toBe(403)
    expect((await call('/v1/pubsub/topics')).status).toBe(401)
  })

  it('isolates tenants: same topic names, separate logs, no reach across', async () => {
    const a = await topicFixture()
    const bTenant = uniqueTenant('ps')
    const bToken = await tokenFor(bTenant, ['pubsub:read', 'pubsub:write'])
    expect((await call(`/v1/pubsub/topics/${a.topic}`, { token: bToken })).status).toBe(404)
    const crossPublish = await call(`/v1/pubsub/topics/${a.topic}/messages`, {
      token: bToken,
      body: { messages: [{ data: b64('intrusion') }] },
    })
    expect(crossPublish.status).toBe(404)
    expect((await call('/v1/pubsub/topics', { token: bToken, body: { name: a.topic } })).status).toBe(201)
    const b = { tenant: bTenant, token: bToken, topic: a.topic }
    await publish(a, [{ data: 'a1' }, { data: 'a2' }])
    const [bFirst] = await publish(b, [{ data: 'b1' }])
    expect(bFirst?.seq).toBe(1)
    const aTopic = await call<{ stats: { headSeq: number } }>(`/v1/pubsub/topics/${a.topic}`, {
      token: a.token,
    })
    expect(aTopic.body.stats.headSeq).toBe(2)
    const bList = await call<{ items: Array<{ name: string }> }>('/v1/pubsub/topics', { token: bToken })
    expect(bList.body.items.map((item) => item.name)).toEqual([a.topic])

    await call(`/v1/pubsub/topics/${a.topic}/subscriptions`, {
      token: a.token,
      body: { name: 'only-a', type: 'pull' },
    })
    await call(`/v1/pubsub/topics/${a.topic}/subscriptions`, {
      token: a.token,
      body: { name: 'live-a', type: 'streaming' },
    })
    await publish(a, [{ data: 'a3' }])
    const aSubscription = `/v1/pubsub/topics/${a.topic}/subscriptions/only-a`
    expect((await call(`${aSubscription}/pull`, { token: bToken, body: {} })).status).toBe(404)
    expect((await call(aSubscription, { token: bToken })).status).toBe(404)
    expect(
      (await call(`/v1/pubsub/topics/${a.topic}/subscriptions/live-a/stream`, { token: bToken })).status,
    ).toBe(404)
    const aPull = await call<{ receivedMessages: unknown[] }>(`${aSubscription}/pull`, {
      token: a.token,
      body: {},
    })
    expect(aPull.body.receivedMessages).toHaveLength(1)
  })
})

import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { mintTicket, verifyTicket } from '../../workers/platform/auth/tickets'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface Ticket {
  ticket: string
  path: string
  expiresAt: number
  scopes: string[]
}

async function ticketFor(token: string, path: string, ttlSeconds?: number) {
  return call<Ticket>('/v1/stream-tickets', {
    token,
    body: { path, ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) },
  })
}

/** A counter with a live stream, and a token that can read it. */
async function liveCounter(scopes = ['counters:read', 'counters:write']) {
  const tenant = uniqueTenant('tk')
  const token = await tokenFor(tenant, scopes)
  const name = `c-${crypto.randomUUID().slice(0, 8)}`
  const admin = await tokenFor(tenant, ['admin'])
  const created = await call(`/v1/counters/${name}/increment`, { token: admin, body: { by: 1 } })
  expect(created.status).toBe(200)
  return { tenant, token, name, path: `/v1/counters/${name}/live` }
}

function openWithTicket(
  path: string,
  ticket: string,
  init: RequestInit = { headers: { upgrade: 'websocket' } },
) {
  return SELF.fetch(`http://edge.test${path}?ticket=${encodeURIComponent(ticket)}`, init)
}

describe('POST /v1/stream-tickets', () => {
  it('mints a ticket with the token’s tenant and scopes for one path', async () => {
    const { token, path } = await liveCounter(['counters:read'])
    const minted = await ticketFor(token, path, 20)
    expect(minted.status).toBe(201)
    expect(minted.body.path).toBe(path)
    expect(minted.body.scopes).toEqual(['counters:read'])
    const now = Math.floor(Date.now() / 1000)
    expect(minted.body.expiresAt).toBeGreaterThan(now)
    expect(minted.body.expiresAt).toBeLessThanOrEqual(now + 21)
  })

  it('opens a WebSocket once; a second use is refused without opening it', async () => {
    const { token, path } = await liveCounter()
    const { ticket } = (await ticketFor(token, path)).body
    const first = await openWithTicket(path, ticket)
    expect(first.status).toBe(101)
    first.webSocket?.accept()
    const message = await new Promise<string>((resolve) =>
      first.webSocket?.addEventListener('message', (event) => resolve(event.data as string)),
    )
    expect(JSON.parse(message)).toMatchObject({ type: 'total', value: 1 })
    first.webSocket?.close(1000)
    const second = await openWithTicket(path, ticket)
    expect(second.status).toBe(401)
    expect(second.headers.get('content-type')).toContain('application/problem+json')
    expect(((await second.json()) as { detail: string }).detail).toMatch(/already been used/)
  })

  it('lets exactly one of 20 concurrent uses of a ticket through', async () => {
    const { token, path } = await liveCounter()
    const { ticket } = (await ticketFor(token, path)).body
    const responses = await Promise.all(Array.from({ length: 20 }, () => openWithTicket(path, ticket)))
    const statuses = responses.map((response) => response.status)
    expect(statuses.filter((status) => status === 101)).toHaveLength(1)
    expect(statuses.filter((status) => status === 401)).toHaveLength(19)
    for (const response of responses) response.webSocket?.accept()
    for (const response of responses) response.webSocket?.close(1000)
  })

  it('refuses a ticket on another path, even of the same tenant', async () => {
    const first = await liveCounter()
    const otherName = `c-${crypto.randomUUID().slice(0, 8)}`
    const { ticket } = (await ticketFor(first.token, first.path)).body
    const response = await openWithTicket(`/v1/counters/${otherName}/live`, ticket)
    expect(response.status).toBe(401)
    expect(((await response.json()) as { detail: string }).detail).toMatch(/another path/)
    // Refused before use: the ticket still opens its own path.
    expect((await openWithTicket(first.path, ticket)).status).toBe(101)
  })

  it('refuses an expired ticket (checked at an injected time)', async () => {
    const principal = {
      tenant: 'expiry',
      scopes: new Set(['counters:read']),
      tokenId: crypto.randomUUID(),
      expiresAt: 2_000_000_000,
    }
    const now = 1_900_000_000
    const { ticket, expiresAt } = await mintTicket(secret(), principal, '/v1/x', 10, now)
    expect(expiresAt).toBe(now + 10)
    await expect(verifyTicket(secret(), ticket, '/v1/x', now + 9)).resolves.toMatchObject({
      path: '/v1/x',
    })
    await expect(verifyTicket(secret(), ticket, '/v1/x', now + 11)).rejects.toMatchObject({
      code: 'unauthorized',
    })
  })

  it('never outlives the token that minted it', async () => {
    const principal = { tenant: 't', scopes: new Set(['admin']), tokenId: 'id', expiresAt: 1_000 }
    const { expiresAt } = await mintTicket(secret(), principal, '/v1/x', 60, 990)
    expect(expiresAt).toBe(1_000)
  })

  it('refuses a ticket whose minting token was revoked', async () => {
    const tenant = uniqueTenant('rv')
    const minted = await call<{ token: string; tokenId: string }>('/v1/tokens', {
      token: env.ROOT_KEY,
      body: { tenant, scopes: ['admin'], ttlSeconds: 600 },
    })
    expect(minted.status).toBe(201)
    const { token, tokenId } = minted.body
    const name = `c-${crypto.randomUUID().slice(0, 8)}`
    expect((await call(`/v1/counters/${name}/increment`, { token, body: { by: 1 } })).status).toBe(200)
    const path = `/v1/counters/${name}/live`
    const { ticket } = (await ticketFor(token, path)).body
    expect((await call(`/v1/tokens/${tokenId}`, { method: 'DELETE', token })).status).toBe(200)
    const response = await openWithTicket(path, ticket)
    expect(response.status).toBe(401)
  })

  it('carries no more than the token’s scopes', async () => {
    const tenant = uniqueTenant('sc')
    const token = await tokenFor(tenant, ['counters:read'])
    const path = '/v1/pubsub/topics/t/subscriptions/s/stream'
    const { ticket } = (await ticketFor(token, path)).body
    const response = await openWithTicket(path, ticket, {})
    expect(response.status).toBe(403)
  })

  it('keeps tickets and access tokens apart', async () => {
    const { token, path } = await liveCounter()
    const { ticket } = (await ticketFor(token, path)).body
    // A ticket is not a bearer token …
    const asBearer = await call('/v1/whoami', { token: ticket })
    expect(asBearer.status).toBe(401)
    // … an access token is not a ticket …
    expect((await openWithTicket(path, token)).status).toBe(401)
    // … and a ticket cannot mint another ticket.
    const chained = await SELF.fetch(`http://edge.test/v1/stream-tickets?ticket=${ticket}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path }),
    })
    expect(chained.status).toBe(401)
    // The ticket was never used by any of these.
    expect((await openWithTicket(path, ticket)).status).toBe(101)
  })

  it('opens a pub-sub Server-Sent Events stream', async () => {
    const tenant = uniqueTenant('sse')
    const token = await tokenFor(tenant, ['pubsub:read', 'pubsub:write'])
    expect((await call('/v1/pubsub/topics', { token, body: { name: 'news' } })).status).toBe(201)
    const subscribed = await call('/v1/pubsub/topics/news/subscriptions', {
      token,
      body: { name: 'live', type: 'streaming' },
    })
    expect(subscribed.status).toBe(201)
    const path = '/v1/pubsub/topics/news/subscriptions/live/stream'
    const { ticket } = (await ticketFor(token, path)).body
    const response = await openWithTicket(path, ticket, {})
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    await response.body?.cancel()
  })

  it('answers 400 to bad requests and 401 without a token', async () => {
    const { token } = await liveCounter()
    for (const body of [
      { path: '/v1/x', ttlSeconds: 61 },
      { path: '/v1/x', ttlSeconds: 0 },
      { path: '/healthz' },
      { path: '/v1/x?y=1' },
      { path: `/v1/${'a'.repeat(600)}` },
      {},
    ]) {
      const response = await call('/v1/stream-tickets', { token, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
    }
    expect((await call('/v1/stream-tickets', { body: { path: '/v1/x' } })).status).toBe(401)
  })
})

it('binds the ledger to the platform', () => {
  expect(env.STREAM_TICKETS).toBeDefined()
})

function secret(): string {
  if (!env.JWT_SECRET) throw new Error('JWT_SECRET is not bound')
  return env.JWT_SECRET
}

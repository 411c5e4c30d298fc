import { runDurableObjectAlarm, SELF } from 'cloudflare:test'
import { expect, it } from 'vitest'
import { call } from '../helpers'
import {
  aggregatorObject,
  counterTenant,
  flushPushes,
  incarnationOf,
  increment,
  inWaves,
  type Problem,
} from './support'

interface LiveMessage {
  type: 'total'
  name: string
  value: number | string
  members: number
  at: number
}

/** Opens the live stream through the Worker and collects its messages. */
async function openLive(token: string, name: string) {
  const response = await SELF.fetch(`http://edge.test/v1/counters/${name}/live`, {
    headers: { upgrade: 'websocket', authorization: `Bearer ${token}` },
  })
  expect(response.status).toBe(101)
  const socket = response.webSocket
  if (!socket) throw new Error('no WebSocket in the response')
  const messages: LiveMessage[] = []
  const waiters: Array<{ until: (m: LiveMessage) => boolean; resolve: (m: LiveMessage) => void }> = []
  let closed: { code: number; reason: string } | undefined
  const closeWaiters: Array<(c: { code: number; reason: string }) => void> = []
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data as string) as LiveMessage
    messages.push(message)
    for (const waiter of waiters.splice(0)) {
      if (waiter.until(message)) waiter.resolve(message)
      else waiters.push(waiter)
    }
  })
  socket.addEventListener('close', (event) => {
    closed = { code: event.code, reason: event.reason }
    for (const resolve of closeWaiters.splice(0)) resolve(closed)
  })
  socket.accept()
  return {
    socket,
    messages,
    /** The first message (already received or to come) that satisfies `until`. */
    next(until: (m: LiveMessage) => boolean): Promise<LiveMessage> {
      const seen = messages.find(until)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve) => waiters.push({ until, resolve }))
    },
    closed(): Promise<{ code: number; reason: string }> {
      return closed ? Promise.resolve(closed) : new Promise((resolve) => closeWaiters.push(resolve))
    },
  }
}

it('sends the current total on connect and delivers the final total after increments', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/plays', { method: 'PUT', token, body: { shards: 4 } })
  await increment(token, 'plays', 7)
  const live = await openLive(token, 'plays')
  expect(await live.next(() => true)).toMatchObject({ type: 'total', name: 'plays', value: 7, members: 0 })

  await inWaves(200, 100, (i) => increment(token, 'plays', (i % 5) + 1))
  await call('/v1/counters/plays/members/ann', { method: 'PUT', token })
  const expected = 7 + 200 * 3
  await flushPushes(tenant, 'plays', 4)
  const last = await live.next((m) => m.value === expected && m.members === 1)
  expect(last).toMatchObject({ type: 'total', name: 'plays', value: expected, members: 1 })
  live.socket.close(1000, 'done')
})

it('coalesces broadcasts to at most one per 100 ms, ending with the final total', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/clicks', { method: 'PUT', token, body: { shards: 1 } })
  await increment(token, 'clicks', 1)
  const live = await openLive(token, 'clicks')
  await live.next((m) => m.value === 1)
  const aggregator = aggregatorObject(tenant, 'clicks')
  const identity = { tenant, name: 'clicks', incarnation: await incarnationOf(tenant, 'clicks') }

  const changes = 30
  for (let version = 1_000; version < 1_000 + changes; version++) {
    const value = BigInt(version)
    expect(
      await aggregator.report(identity, { shard: 0, version, value, members: 0, knownAt: Date.now() }),
    ).toBe(true)
    await runDurableObjectAlarm(aggregator)
  }
  const finalValue = 1_000 + changes - 1
  await live.next((m) => m.value === finalValue)

  const broadcasts = live.messages.slice(1)
  expect(broadcasts.length).toBeLessThan(changes)
  for (let i = 1; i < broadcasts.length; i++) {
    expect(broadcasts[i]!.at - broadcasts[i - 1]!.at).toBeGreaterThanOrEqual(100)
  }
  live.socket.close(1000, 'done')
})

it('closes the stream when the counter is deleted', async () => {
  const { token } = await counterTenant()
  await increment(token, 'gone', 1)
  const live = await openLive(token, 'gone')
  await live.next(() => true)
  expect((await call('/v1/counters/gone', { method: 'DELETE', token })).status).toBe(200)
  expect((await live.closed()).code).toBe(1000)
})

it('needs an Upgrade header, an existing counter and the read scope', async () => {
  const { token } = await counterTenant()
  const noUpgrade = await call<Problem>('/v1/counters/nothing/live', { token })
  expect(noUpgrade.status).toBe(400)
  expect(noUpgrade.body.type).toMatch(/validation_failed$/)
  const missing = await SELF.fetch('http://edge.test/v1/counters/nothing/live', {
    headers: { upgrade: 'websocket', authorization: `Bearer ${token}` },
  })
  expect(missing.status).toBe(404)
  const writer = await counterTenant(['counters:write'])
  await increment(writer.token, 'x', 1)
  const forbidden = await SELF.fetch('http://edge.test/v1/counters/x/live', {
    headers: { upgrade: 'websocket', authorization: `Bearer ${writer.token}` },
  })
  expect(forbidden.status).toBe(403)
})

import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { advance, partition, queueClient, settle } from './support'

interface Captured {
  headers: Record<string, string>
  body: string
}

interface PushedPayload {
  type: string
  data: {
    queue: string
    partition: number
    messages: Array<{ messageId: string; body: string; receiveCount: number }>
  }
}

/**
 * A receiver for push deliveries: outbound fetches to `https://receiver.test/…` are
 * answered here with the next scripted status (200 once the script runs out); every other
 * fetch (the libSQL client's) goes out as usual.
 */
function receiver(statuses: number[] = []) {
  const captured: Captured[] = []
  const realFetch = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (!url.startsWith('https://receiver.test/')) return realFetch(input, init)
    const request = new Request(input, init)
    captured.push({ headers: Object.fromEntries(request.headers), body: await request.text() })
    return new Response(null, { status: statuses[captured.length - 1] ?? 200 })
  })
  return captured
}

afterEach(() => {
  vi.restoreAllMocks()
})

async function pushQueue(settings: Record<string, unknown>) {
  const q = await queueClient()
  await q.create('hooks-dlq')
  const created = await q.create('hooks', {
    deadLetter: { queue: 'hooks-dlq', maxReceiveCount: 10 },
    push: { url: 'https://receiver.test/hooks', ...settings },
  })
  const secret = (created.settings as { push: { secret: string } }).push.secret
  return { q, secret, stub: partition(q.tenant, 'hooks') }
}

describe('push delivery', () => {
  it('POSTs batches signed per Standard Webhooks', async () => {
    const captured = receiver()
    const { q, secret, stub } = await pushQueue({ batchSize: 2 })
    await q.sendBatch('hooks', [{ body: 'a' }, { body: 'b' }, { body: 'c' }])
    await settle(stub)

    expect(captured).toHaveLength(2)
    const webhook = new Webhook(secret)
    const payloads = captured.map(({ body, headers }) => webhook.verify(body, headers) as PushedPayload)
    expect(
      payloads.every((payload) => payload.type === 'queue.messages' && payload.data.queue === 'hooks'),
    ).toBe(true)
    expect(payloads.flatMap((payload) => payload.data.messages.map((message) => message.body))).toEqual([
      'a',
      'b',
      'c',
    ])
    const [first] = captured as [Captured]
    expect(() => webhook.verify(first.body.replace('"a"', '"A"'), first.headers)).toThrow()
    expect(() =>
      new Webhook(`whsec_${btoa('another secret, 24 bytes')}`).verify(first.body, first.headers),
    ).toThrow()
    expect(await q.stats('hooks')).toMatchObject({ pushed: 3, visible: 0, inFlight: 0, pushFailures: 0 })
  })

  it('retries a failed delivery with backoff under the same webhook id until it succeeds', async () => {
    const captured = receiver([500, 503, 200])
    const { q, secret, stub } = await pushQueue({ maxAttempts: 5 })
    const { messageId } = await q.send('hooks', 'retry me')
    await settle(stub)
    for (let round = 0; captured.length < 3 && round < 10; round++) await advance(stub, 60_000)
    await settle(stub)

    expect(captured).toHaveLength(3)
    const webhook = new Webhook(secret)
    const attempts = captured.map(({ body, headers }) => webhook.verify(body, headers) as PushedPayload)
    expect(
      attempts.map((payload) => payload.data.messages.map((m) => [m.messageId, m.receiveCount])),
    ).toEqual([[[messageId, 1]], [[messageId, 2]], [[messageId, 3]]])
    expect(new Set(captured.map(({ headers }) => headers['webhook-id'])).size).toBe(1)
    expect(await q.stats('hooks')).toMatchObject({ pushed: 1, pushFailures: 2, visible: 0, delayed: 0 })
  })

  it('dead-letters a message once its attempts run out', async () => {
    const captured = receiver([500, 500, 500, 500])
    const { q, stub } = await pushQueue({ maxAttempts: 3 })
    await q.send('hooks', 'undeliverable')
    await settle(stub)
    for (let round = 0; captured.length < 3 && round < 10; round++) await advance(stub, 60_000)
    await settle(stub)

    expect(captured).toHaveLength(3)
    expect(await q.stats('hooks')).toMatchObject({ pushFailures: 3, deadLettered: 1, visible: 0, delayed: 0 })
    const [dead] = await q.receive('hooks-dlq', { waitSeconds: 5 })
    expect(dead?.body).toBe('undeliverable')
    expect(dead?.deadLetter).toMatchObject({
      sourceQueue: 'hooks',
      reason: 'push-exhausted',
      receiveCount: 3,
    })
  })
})

import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { isWebhookSecret } from '../../schemas/webhook-secret'
import {
  backoffDelayMs,
  deliver,
  describeFetchFailure,
  newWebhookSecret,
  signWebhook,
} from '../../workers/platform/delivery'

describe('Standard Webhooks signatures', () => {
  it('verify with the reference implementation', async () => {
    const secret = newWebhookSecret()
    expect(isWebhookSecret(secret)).toBe(true)
    const body = JSON.stringify({ hello: 'wörld', n: 1 })
    const timestamp = Math.floor(Date.now() / 1000)
    const headers = await signWebhook(secret, 'msg_1', timestamp, body)
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual({ hello: 'wörld', n: 1 })
  })

  it('fail verification when the body or the id changes', async () => {
    const secret = newWebhookSecret()
    const timestamp = Math.floor(Date.now() / 1000)
    const headers = await signWebhook(secret, 'msg_1', timestamp, '{"a":1}')
    expect(() => new Webhook(secret).verify('{"a":2}', { ...headers })).toThrow()
    expect(() => new Webhook(secret).verify('{"a":1}', { ...headers, 'webhook-id': 'msg_2' })).toThrow()
  })

  it('recognises secrets', () => {
    expect(isWebhookSecret('whsec_')).toBe(false)
    expect(isWebhookSecret('secret')).toBe(false)
    expect(isWebhookSecret('whsec_!!!!')).toBe(false)
  })
})

describe('full-jitter backoff', () => {
  const policy = { baseMs: 1000, capMs: 60_000 }

  it('stays within [0, min(cap, base·2^(attempt-1))]', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1))
      expect(backoffDelayMs(attempt, 0, policy)).toBe(0)
      expect(backoffDelayMs(attempt, 0.999999, policy)).toBe(ceiling - 1)
      expect(backoffDelayMs(attempt, 0.5, policy)).toBe(Math.floor(ceiling / 2))
    }
  })
})

describe('deliver', () => {
  it('reports 2xx as success and anything else as a failed attempt, never throwing', async () => {
    const ok = await deliver({ url: 'https://t.example/ok', timeoutMs: 1000 }, async () => new Response('x'))
    expect(ok).toMatchObject({ ok: true, status: 200 })
    const failed = await deliver(
      { url: 'https://t.example/fail', timeoutMs: 1000 },
      async () => new Response('no', { status: 503 }),
    )
    expect(failed).toMatchObject({ ok: false, status: 503, error: 'HTTP 503' })
    const thrown = await deliver({ url: 'https://t.example/down', timeoutMs: 1000 }, async () => {
      throw new TypeError('connection refused')
    })
    expect(thrown).toMatchObject({ ok: false, error: expect.stringContaining('connection refused') })
  })

  it("says what went wrong in its own words and never the runtime's raw text", () => {
    const cases: Array<[unknown, string]> = [
      [
        new TypeError('getaddrinfo ENOTFOUND nowhere.example'),
        'DNS lookup failed: the host name did not resolve',
      ],
      [new TypeError('connect ECONNREFUSED 127.0.0.1:9'), 'connection refused by the target'],
      [new Error('TLS peer certificate is not trusted'), 'TLS handshake with the target failed'],
      [new TypeError('Network connection lost.'), 'the connection was lost before a response'],
      [
        new Error('internal error; reference = 0abc123def'),
        'the request failed before any response arrived (network error)',
      ],
    ]
    for (const [error, description] of cases) expect(describeFetchFailure(error)).toBe(description)
  })

  it('counts a hanging target as a timed-out attempt', async () => {
    const hanging = await deliver({ url: 'https://t.example/hang', timeoutMs: 20 }, (request) => {
      return new Promise((_, reject) =>
        request.signal.addEventListener('abort', () => reject(request.signal.reason)),
      )
    })
    expect(hanging).toMatchObject({ ok: false, error: 'timed out after 20 ms' })
  })
})

/** Live tail: Loki's WebSocket tail and SSE see new lines (within a one-second deadline). */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { newTenant, ns, pushJson, request } from './support'

/** Resolves with the first value `next` produces, or rejects once `ms` have passed. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms)),
  ])
}

describe('live tail', () => {
  it('sends matching lines over the Loki tail WebSocket', async () => {
    const tenant = await newTenant('tail')
    const query = '{app="web"} |= "error" | logfmt | status >= 500'
    const response = await SELF.fetch(`http://edge.test/loki/api/v1/tail?${new URLSearchParams({ query })}`, {
      headers: { upgrade: 'websocket', authorization: `Bearer ${tenant.token}` },
    })
    expect(response.status).toBe(101)
    const socket = response.webSocket as WebSocket
    socket.accept()
    const messages: unknown[] = []
    const first = new Promise<unknown>((resolve) =>
      socket.addEventListener('message', (event) => {
        messages.push(JSON.parse(event.data as string))
        resolve(messages[0])
      }),
    )
    const time = ns(Date.now())
    const pushed = await pushJson(tenant, [
      {
        stream: { app: 'web' },
        values: [
          [time, 'level=error status=503 msg=upstream'],
          [time, 'level=info status=200'],
        ],
      },
      { stream: { app: 'other' }, values: [[time, 'level=error status=500']] },
    ])
    expect(pushed.status).toBe(204)
    expect(await within(1000, first)).toEqual({
      streams: [
        {
          stream: { app: 'web', level: 'error', status: '503', msg: 'upstream' },
          values: [[time, 'level=error status=503 msg=upstream']],
        },
      ],
      dropped_entries: null,
    })
    socket.close(1000, 'done')
  })

  it('refuses metric queries and plain GETs on the WebSocket endpoint', async () => {
    const tenant = await newTenant('tail')
    const metric = await request(
      tenant,
      `/loki/api/v1/tail?${new URLSearchParams({ query: 'rate({app="x"}[1m])' })}`,
      { headers: { upgrade: 'websocket' } },
    )
    expect(metric.status).toBe(400)
    const plain = await request(tenant, `/loki/api/v1/tail?${new URLSearchParams({ query: '{app="x"}' })}`)
    expect(plain.status).toBe(400)
  })

  it('streams matching lines as Server-Sent Events', async () => {
    const tenant = await newTenant('tail')
    const response = await request(tenant, `/v1/logs/tail?${new URLSearchParams({ query: '{app="sse"}' })}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    const nextEvent = async () => {
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buffer += decoder.decode(value)
        const data = /^data: (.*)$/m.exec(buffer)?.[1]
        if (data) return JSON.parse(data)
      }
    }
    const event = nextEvent()
    const time = ns(Date.now())
    await pushJson(tenant, [{ stream: { app: 'sse' }, values: [[time, 'hello over sse']] }])
    expect(await within(1000, event)).toEqual({
      streams: [{ stream: { app: 'sse' }, values: [[time, 'hello over sse']] }],
      dropped_entries: null,
    })
    await reader.cancel()
  })
})

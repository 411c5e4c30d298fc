/**
 * Streaming clients for the tests: a WebSocket and a Server-Sent Events reader over
 * `SELF`, each collecting the frames it receives.
 */
import { SELF } from 'cloudflare:test'
import type { Fixture } from './helpers'

export interface Frame {
  seq: number
  message?: { seq: number; data: string; attributes: Record<string, string>; orderingKey?: string }
  event?: Record<string, unknown>
}

export interface StreamClient {
  frames: Frame[]
  /** SSE only: the `id:` of each event, in order. */
  ids: string[]
  close(): Promise<void>
}

function streamUrl(fixture: Fixture, subscription: string, after?: number) {
  const query = after === undefined ? '' : `?after=${after}`
  return `http://edge.test/v1/pubsub/topics/${fixture.topic}/subscriptions/${subscription}/stream${query}`
}

export async function openWebSocket(
  fixture: Fixture,
  subscription: string,
  after?: number,
): Promise<StreamClient> {
  const response = await SELF.fetch(streamUrl(fixture, subscription, after), {
    headers: { upgrade: 'websocket', authorization: `Bearer ${fixture.token}` },
  })
  const ws = response.webSocket
  if (response.status !== 101 || !ws)
    throw new Error(`no websocket: ${response.status} ${await response.text()}`)
  ws.accept()
  const frames: Frame[] = []
  ws.addEventListener('message', (event) => {
    frames.push(JSON.parse(String(event.data)) as Frame)
  })
  return {
    frames,
    ids: [],
    async close() {
      ws.close(1000, 'done')
    },
  }
}

export async function openEventStream(
  fixture: Fixture,
  subscription: string,
  options: { lastEventId?: string; after?: number } = {},
): Promise<StreamClient & { response: Response; ended: Promise<void> }> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${fixture.token}`,
    accept: 'text/event-stream',
  }
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId
  const response = await SELF.fetch(streamUrl(fixture, subscription, options.after), { headers })
  if (response.status !== 200 || !response.body) {
    throw new Error(`no event stream: ${response.status} ${await response.text()}`)
  }
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  const frames: Frame[] = []
  const ids: string[] = []
  let buffer = ''
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n')
        const id = block.split('\n').find((line) => line.startsWith('id: '))
        if (data) {
          frames.push(JSON.parse(data) as Frame)
          ids.push(id?.slice(4) ?? '')
        }
        end = buffer.indexOf('\n\n')
      }
    }
  })()
  return {
    response,
    frames,
    ids,
    ended: reading,
    async close() {
      await reader.cancel().catch(() => {})
      await reading
    },
  }
}

/** The changefeed: every acknowledged change in order, over SSE and WebSocket, resumable. */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { kvClient } from './support'

interface Frame {
  seq: number
  key: string
  version: string
  deleted: boolean
}

async function readEvents(response: Response, count: number): Promise<Frame[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const frames: Frame[] = []
  while (frames.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const event = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = /^data: (.*)$/m.exec(event)?.[1]
      const id = /^id: (.*)$/m.exec(event)?.[1]
      if (data) {
        const frame = JSON.parse(data) as Frame
        expect(String(frame.seq)).toBe(id)
        frames.push(frame)
      }
      end = buffer.indexOf('\n\n')
    }
  }
  await reader.cancel()
  return frames
}

describe('kv changefeed', () => {
  it('streams every acknowledged change over SSE and resumes after Last-Event-ID', async () => {
    const kv = await kvClient()
    const url = `http://edge.test/v1/kv/namespaces/${kv.namespace}/changes`
    const auth = { authorization: `Bearer ${kv.token}` }
    const live = await SELF.fetch(url, { headers: auth })
    expect(live.headers.get('content-type')).toMatch(/text\/event-stream/)
    const a = await kv.put('a', '1')
    const b = await kv.put('b', '2')
    const del = await kv.del('a')
    const frames = await readEvents(live, 3)
    expect(frames.map((f) => [f.seq, f.key, f.version, f.deleted])).toEqual([
      [1, 'a', a.json.version, false],
      [2, 'b', b.json.version, false],
      [3, 'a', del.json.version, true],
    ])
    const resumed = await SELF.fetch(url, { headers: { ...auth, 'last-event-id': '1' } })
    expect((await readEvents(resumed, 2)).map((f) => f.seq)).toEqual([2, 3])
    const failed = await kv.put('big\u0001', 'x')
    expect(failed.status).toBe(400)
    const next = await SELF.fetch(`${url}?after=3`, { headers: auth })
    await kv.put('c', '3')
    expect((await readEvents(next, 1)).map((f) => [f.seq, f.key])).toEqual([[4, 'c']])
  })

  it('streams over a WebSocket from a resume point', async () => {
    const kv = await kvClient()
    await kv.put('x', '1')
    await kv.put('y', '2')
    const response = await SELF.fetch(`http://edge.test/v1/kv/namespaces/${kv.namespace}/changes?after=1`, {
      headers: { authorization: `Bearer ${kv.token}`, upgrade: 'websocket' },
    })
    expect(response.status).toBe(101)
    const socket = response.webSocket as WebSocket
    const frames: Frame[] = []
    const got = new Promise<void>((resolve) => {
      socket.addEventListener('message', (event) => {
        frames.push(JSON.parse(String(event.data)))
        if (frames.length === 2) resolve()
      })
    })
    socket.accept()
    await kv.put('z', '3')
    await got
    expect(frames.map((f) => [f.seq, f.key])).toEqual([
      [2, 'y'],
      [3, 'z'],
    ])
    socket.close(1000, 'done')
  })

  it('refuses a bad resume point', async () => {
    const kv = await kvClient()
    const response = await kv.call(`/v1/kv/namespaces/${kv.namespace}/changes?after=-1`, { token: kv.token })
    expect(response.status).toBe(400)
  })
})

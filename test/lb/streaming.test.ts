// 100 MiB bodies stream through the balancer both ways without being buffered: each origin or
// client holds back the rest of its body until the other side has seen the first MiB, which
// only a streaming proxy can satisfy (a buffering one would never deliver that first MiB).
import { describe, expect, it } from 'vitest'
import { lbClient, openGate, startOrigins } from './support'

const MiB = 1024 * 1024
const TOTAL = 100 * MiB
const patternByte = (i: number) => (i * 31 + 7) & 0xff

describe('streaming 100 MiB', () => {
  it('streams a response: the first MiB arrives while the origin still holds the rest', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'down')
    await lb.setup('big', [origin as never])
    const gate = crypto.randomUUID()
    const response = await lb.proxy('big', `/bytes/${TOTAL}?gate=${gate}`)
    expect(response.status).toBe(200)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let received = 0
    let mismatches = 0
    let opened = false
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      for (let i = 0; i < value.length; i += 4093) if (value[i] !== patternByte(received + i)) mismatches++
      if (value[value.length - 1] !== patternByte(received + value.length - 1)) mismatches++
      received += value.length
      if (!opened && received >= MiB) {
        opened = true
        await openGate(gate)
      }
    }
    expect(opened).toBe(true)
    expect(received).toBe(TOTAL)
    expect(mismatches).toBe(0)
  })

  it('streams a request body: the origin has the first MiB before the client sends the rest', async () => {
    const lb = await lbClient()
    const [origin] = await startOrigins(1, 'up')
    await lb.setup('upload', [origin as never])
    const chunk = new Uint8Array(64 * 1024).fill(7)
    let sent = 0
    let waitedForOrigin = false
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= TOTAL) return controller.close()
        if (sent === MiB) {
          // Hold the rest until the origin has really received the first MiB.
          while (((await origin?.stats())?.bytesReceived ?? 0) < MiB) await scheduler.wait(10)
          waitedForOrigin = true
        }
        controller.enqueue(chunk)
        sent += chunk.length
      },
    })
    const response = await lb.proxy('upload', '/upload', { method: 'PUT', body })
    const seen = (await response.json()) as { bodyBytes: number }
    expect(response.status).toBe(200)
    expect(waitedForOrigin).toBe(true)
    expect(seen.bodyBytes).toBe(TOTAL)
  })
})

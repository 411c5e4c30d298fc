import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let port: number

beforeAll(async () => {
  process.env.EDGEBLOCKS_HOST = 'node'
  platform = await startPlatform()
  port = Number(new URL(platform.url).port)
}, 180_000)

afterAll(async () => {
  await platform?.stop()
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Writes raw bytes and collects what the server answers until it closes (or `until` matches). */
async function raw(bytes: string, until = /\r\n\r\n/): Promise<string> {
  const socket = await open()
  return new Promise((resolve) => {
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
      if (until.test(answer)) {
        socket.destroy()
        resolve(answer)
      }
    })
    socket.on('close', () => resolve(answer))
    socket.on('error', () => resolve(answer))
    socket.write(bytes)
  })
}

async function healthy(): Promise<void> {
  const response = await fetch(`${platform.url}/healthz`)
  expect(response.status).toBe(200)
}

describe('the Node host under hostile HTTP', () => {
  it('answers 431 to 64 KiB of headers and keeps serving', async () => {
    const answer = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 431/)
    await healthy()
  })

  it('answers 400 to a malformed request line and to a bad header, and keeps serving', async () => {
    expect(await raw('NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await raw('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    await healthy()
  })

  it('keeps serving while 100 clients dribble headers and bodies (slowloris)', async () => {
    const slow = await Promise.all(Array.from({ length: 100 }, () => open()))
    slow.forEach((socket, index) => {
      socket.on('error', () => {})
      socket.write(
        index % 2 === 0
          ? 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '
          : 'POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"ten',
      )
    })
    await healthy()
    const token = await platform.token(crypto.randomUUID(), ['counters:read'])
    const whoami = await fetch(`${platform.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
    expect(whoami.status).toBe(200)
    for (const socket of slow) socket.destroy()
  })

  it('answers a body cut short by the client without crashing', async () => {
    const socket = await open()
    socket.on('error', () => {})
    socket.write(
      'POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"a":',
    )
    socket.destroy()
    await healthy()
  })
})

describe('the Node host’s WebSockets', () => {
  it('streams a counter’s live total over a real WebSocket, hibernation API underneath', async () => {
    const token = await platform.token(crypto.randomUUID(), ['counters:read', 'counters:write'])
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const name = `live-${crypto.randomUUID().slice(0, 8)}`
    const created = await fetch(`${platform.url}/v1/counters/${name}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ shards: 2 }),
    })
    expect(created.status).toBe(201)
    const socket = new WebSocket(`${platform.url.replace('http', 'ws')}/v1/counters/${name}/live`, {
      headers,
    })
    const totals: number[] = []
    socket.on('message', (data) => totals.push((JSON.parse(String(data)) as { value: number }).value))
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    while (totals.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(totals[0]).toBe(0)
    const increment = await fetch(`${platform.url}/v1/counters/${name}/increment`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 5 }),
    })
    expect(increment.status).toBe(200)
    while (!totals.includes(5)) await new Promise((resolve) => setTimeout(resolve, 20))
    socket.close()
  })
})

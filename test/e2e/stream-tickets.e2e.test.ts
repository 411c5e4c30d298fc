/**
 * Stream tickets in a real browser (Debian's Chromium driven by playwright-core): a page
 * that cannot send `Authorization` opens a counter's live WebSocket and a pub-sub
 * Server-Sent Events stream with tickets, and sees the updates made meanwhile.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { launchChromium } from './browser'

let platform: RunningPlatform
let browser: Browser
let page: Page
let token: string

async function api(path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function ticketFor(path: string): Promise<string> {
  const minted = await api('/v1/stream-tickets', { path })
  expect(minted.status).toBe(201)
  return minted.body.ticket as string
}

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('browser', ['counters:read', 'counters:write', 'pubsub:read', 'pubsub:write'])
  browser = await launchChromium()
  page = await browser.newPage()
  await page.goto(`${platform.url}/healthz`)
})

afterAll(async () => {
  await browser?.close()
  await platform?.stop()
})

describe('stream tickets in Chromium', () => {
  it('opens a live counter WebSocket with a ticket and sees the total change', async () => {
    expect((await api('/v1/counters/visits/increment', { by: 1 })).status).toBe(200)
    const path = '/v1/counters/visits/live'
    const url = `${platform.url.replace(/^http/, 'ws')}${path}?ticket=${await ticketFor(path)}`
    // The page collects totals until it sees 3; Node increments once the socket is open.
    const seen = page.evaluate(
      (socketUrl) =>
        new Promise<number[]>((resolve, reject) => {
          const totals: number[] = []
          const socket = new WebSocket(socketUrl)
          socket.addEventListener('open', () => {
            ;(globalThis as unknown as { socketOpen: boolean }).socketOpen = true
          })
          socket.addEventListener('error', () => reject(new Error('WebSocket failed')))
          socket.addEventListener('message', (event) => {
            const total = JSON.parse((event as MessageEvent).data as string) as { value: number }
            totals.push(total.value)
            if (total.value >= 3) {
              socket.close()
              resolve(totals)
            }
          })
        }),
      url,
    )
    await page.waitForFunction(() => (globalThis as unknown as { socketOpen?: boolean }).socketOpen === true)
    expect((await api('/v1/counters/visits/increment', { by: 2 })).status).toBe(200)
    const totals = await seen
    expect(totals[0]).toBe(1)
    expect(totals.at(-1)).toBe(3)
  })

  it('opens a pub-sub EventSource with a ticket and receives what is published', async () => {
    expect((await api('/v1/pubsub/topics', { name: 'news' })).status).toBe(201)
    expect(
      (await api('/v1/pubsub/topics/news/subscriptions', { name: 'page', type: 'streaming' })).status,
    ).toBe(201)
    const path = '/v1/pubsub/topics/news/subscriptions/page/stream'
    const url = `${platform.url}${path}?ticket=${await ticketFor(path)}`
    const received = page.evaluate(
      (streamUrl) =>
        new Promise<string>((resolve, reject) => {
          const source = new EventSource(streamUrl)
          source.addEventListener('open', () => {
            ;(globalThis as unknown as { sseOpen: boolean }).sseOpen = true
          })
          source.addEventListener('error', () => {
            source.close()
            reject(new Error('EventSource failed'))
          })
          source.addEventListener('message', (event) => {
            source.close()
            resolve((event as MessageEvent).data as string)
          })
        }),
      url,
    )
    await page.waitForFunction(() => (globalThis as unknown as { sseOpen?: boolean }).sseOpen === true)
    const published = await api('/v1/pubsub/topics/news/messages', {
      messages: [{ data: btoa('hello browser') }],
    })
    expect(published.status).toBe(200)
    const frame = JSON.parse(await received) as { message: { data: string } }
    expect(atob(frame.message.data)).toBe('hello browser')
  })

  it('refuses a replayed ticket in the browser', async () => {
    const path = '/v1/counters/visits/live'
    const ticket = await ticketFor(path)
    const url = `${platform.url.replace(/^http/, 'ws')}${path}?ticket=${ticket}`
    const open = (socketUrl: string) =>
      page.evaluate(
        (target) =>
          new Promise<boolean>((resolve) => {
            const socket = new WebSocket(target)
            socket.addEventListener('open', () => {
              socket.close()
              resolve(true)
            })
            socket.addEventListener('error', () => resolve(false))
          }),
        socketUrl,
      )
    expect(await open(url)).toBe(true)
    expect(await open(url)).toBe(false)
  })
})

/**
 * Publish-subscribe through the real platform (`npm run dev`'s stack, loopback):
 * 1. publish throughput in messages/s — one message per request and batches of 10 and 100,
 *    into a topic with one pull subscription (delivery starts after a publish returns, so it
 *    is not on this path);
 * 2. end-to-end latency from the start of a publish to a message's arrival at 1, 10 and 100
 *    WebSocket subscribers (Node 22's WebSocket client), one message at a time.
 * Both are compared with the authenticated no-op floor `GET /v1/whoami` measured in the
 * same run: the ratio is the number to read.
 */
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type LoadResult, percentile, printTable, runLoad } from './harness'

const CONCURRENCY = 32
const DURATION_MS = 4_000
const LATENCY_MESSAGES = 100

let platform: RunningPlatform | undefined

async function api<T>(token: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${platform?.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text.slice(0, 200)}`)
  return (text ? JSON.parse(text) : {}) as T
}

/** Node's WebSocket (undici) accepts headers, which the browser API does not. */
type NodeWebSocket = {
  addEventListener(type: 'open' | 'error' | 'close', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  close(): void
}
const NodeWebSocketClass = globalThis.WebSocket as unknown as new (
  url: string,
  init: { headers: Record<string, string> },
) => NodeWebSocket

function message(text: string, attributes: Record<string, string> = {}) {
  return { data: Buffer.from(text).toString('base64'), attributes }
}

async function publishThroughput(token: string, whoami: LoadResult) {
  const rows: Array<Record<string, string | number>> = [
    {
      subject: 'GET /v1/whoami (baseline)',
      'requests/s': whoami.opsPerSec,
      'messages/s': '–',
      'p50 ms': whoami.p50Ms,
      'p99 ms': whoami.p99Ms,
      errors: whoami.errors,
      'messages/s ÷ whoami requests/s': '1.00× (baseline)',
    },
  ]
  await api(token, '/v1/pubsub/topics', { name: 'throughput' })
  await api(token, '/v1/pubsub/topics/throughput/subscriptions', { name: 'pull', type: 'pull' })
  for (const batch of [1, 10, 100]) {
    const body = {
      messages: Array.from({ length: batch }, (_, i) => message(`payload ${i} ${'x'.repeat(100)}`)),
    }
    const result = await runLoad({
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
      warmupOps: 20,
      op: () => api(token, '/v1/pubsub/topics/throughput/messages', body),
    })
    const messagesPerSecond = result.opsPerSec * batch
    rows.push({
      subject: `publish, ${batch} message${batch === 1 ? '' : 's'} per request`,
      'requests/s': result.opsPerSec,
      'messages/s': messagesPerSecond,
      'p50 ms': result.p50Ms,
      'p99 ms': result.p99Ms,
      errors: result.errors,
      'messages/s ÷ whoami requests/s': `${(messagesPerSecond / whoami.opsPerSec).toFixed(2)}×`,
    })
  }
  printTable(`Publish throughput (concurrency ${CONCURRENCY}, ${DURATION_MS / 1000} s each, one topic)`, rows)
}

async function fanOutLatency(subscribers: number, token: string) {
  const topic = `fanout-${subscribers}`
  await api(token, '/v1/pubsub/topics', { name: topic })
  await api(token, `/v1/pubsub/topics/${topic}/subscriptions`, { name: 'live', type: 'streaming' })
  const sentAt = new Map<number, number>()
  const latencies: number[] = []
  const arrivals = new Map<number, number>()
  let waiting: { index: number; resolve: () => void } | undefined
  const url = `${platform?.url.replace('http', 'ws')}/v1/pubsub/topics/${topic}/subscriptions/live/stream`
  const sockets = await Promise.all(
    Array.from(
      { length: subscribers },
      () =>
        new Promise<NodeWebSocket>((resolve, reject) => {
          const ws = new NodeWebSocketClass(url, { headers: { authorization: `Bearer ${token}` } })
          ws.addEventListener('open', () => resolve(ws))
          ws.addEventListener('error', () => reject(new Error('websocket failed')))
          ws.addEventListener('message', (event) => {
            const frame = JSON.parse(String(event.data)) as { message: { data: string } }
            const index = Number(Buffer.from(frame.message.data, 'base64').toString())
            const started = sentAt.get(index)
            if (started !== undefined) latencies.push(performance.now() - started)
            const count = (arrivals.get(index) ?? 0) + 1
            arrivals.set(index, count)
            if (waiting?.index === index && count === subscribers) waiting.resolve()
          })
        }),
    ),
  )
  const deadline = performance.now() + 15_000
  let published = 0
  for (let index = 0; index < LATENCY_MESSAGES && performance.now() < deadline; index++) {
    const allArrived = new Promise<void>((resolve) => {
      waiting = { index, resolve }
    })
    sentAt.set(index, performance.now())
    await api(token, `/v1/pubsub/topics/${topic}/messages`, { messages: [message(String(index))] })
    await Promise.race([allArrived, new Promise((resolve) => setTimeout(resolve, 2_000))])
    published++
  }
  for (const ws of sockets) ws.close()
  latencies.sort((a, b) => a - b)
  return {
    published,
    deliveries: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  }
}

async function main() {
  platform = await startPlatform()
  const token = await platform.token('bench-pubsub', ['pubsub:read', 'pubsub:write'])
  const whoami = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op: () => api(token, '/v1/whoami'),
  })
  await publishThroughput(token, whoami)

  const unloaded = await runLoad({ concurrency: 1, durationMs: 2_000, op: () => api(token, '/v1/whoami') })
  const rows: Array<Record<string, string | number>> = [
    {
      subject: 'GET /v1/whoami round trip (baseline)',
      messages: '–',
      deliveries: unloaded.ops,
      'p50 ms': unloaded.p50Ms,
      'p99 ms': unloaded.p99Ms,
      'p50 ÷ whoami p50': '1.00× (baseline)',
    },
  ]
  for (const subscribers of [1, 10, 100]) {
    const result = await fanOutLatency(subscribers, token)
    rows.push({
      subject: `publish → ${subscribers} WebSocket subscriber${subscribers === 1 ? '' : 's'}`,
      messages: result.published,
      deliveries: result.deliveries,
      'p50 ms': result.p50,
      'p99 ms': result.p99,
      'p50 ÷ whoami p50': `${(result.p50 / unloaded.p50Ms).toFixed(2)}×`,
    })
  }
  printTable('End-to-end latency: publish start → frame at every subscriber (one message at a time)', rows)
}

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(async () => {
    await platform?.stop()
  })

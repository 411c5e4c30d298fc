/**
 * The message queue through the real platform (`npm run dev`'s stack, loopback):
 * 1. send throughput in messages/s: one message per request, batches of 10 and 100, and a
 *    4-partition queue;
 * 2. receive+ack throughput in messages/s: receive 1 + ack, receive 10 + batch ack,
 *    receive 100 + batch ack, from pre-filled queues;
 * 3. end-to-end latency from the start of a send to its arrival at a long-polling receiver.
 * Each is compared with the authenticated no-op floor `GET /v1/whoami` measured in the
 * same run: the ratio is the number to read.
 */
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type LoadResult, percentile, printTable, runLoad } from './harness'

const CONCURRENCY = 32
const DURATION_MS = 3_000

let platform: RunningPlatform | undefined
/** The first failure of each kind, printed after the tables. */
const failures = new Map<string, string>()

async function api<T>(token: string, path: string, body?: unknown, method?: string): Promise<T> {
  const response = await fetch(`${platform?.url}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await response.text()
  if (!response.ok) {
    const failure = `${method ?? (body === undefined ? 'GET' : 'POST')} ${path.replace(/messages\/[^/]+$/, 'messages/…')}: HTTP ${response.status}`
    if (!failures.has(failure)) failures.set(failure, text.slice(0, 300))
    throw new Error(failure)
  }
  return (text ? JSON.parse(text) : {}) as T
}

interface Received {
  messages: Array<{ receiptHandle: string; body: string }>
}

function row(subject: string, result: LoadResult, messagesPerOp: number, baseline: LoadResult) {
  const messagesPerSecond = result.opsPerSec * messagesPerOp
  return {
    subject,
    'requests/s': result.opsPerSec,
    'messages/s': messagesPerSecond,
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'messages/s ÷ whoami requests/s': `${(messagesPerSecond / baseline.opsPerSec).toFixed(2)}×`,
  }
}

function baselineRow(result: LoadResult) {
  return {
    subject: 'GET /v1/whoami (baseline)',
    'requests/s': result.opsPerSec,
    'messages/s': '–',
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'messages/s ÷ whoami requests/s': '1.00× (baseline)',
  }
}

async function measureSend(token: string, queue: string, batchSize: number) {
  const body = 'x'.repeat(256)
  return runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 50,
    op: () =>
      batchSize === 1
        ? api(token, `/v1/queues/${queue}/messages`, { body })
        : api(token, `/v1/queues/${queue}/messages/batch`, {
            messages: Array.from({ length: batchSize }, () => ({ body })),
          }),
  })
}

async function fill(token: string, queue: string, count: number) {
  const body = 'y'.repeat(256)
  await runLoad({
    concurrency: 8,
    durationMs: 60_000,
    maxOps: Math.ceil(count / 100),
    op: () =>
      api(token, `/v1/queues/${queue}/messages/batch`, {
        messages: Array.from({ length: 100 }, () => ({ body })),
      }),
  })
}

/** Receive+ack; the result counts requests, `messages` counts what was actually consumed. */
async function measureConsume(token: string, queue: string, batchSize: number, prefill: number) {
  await fill(token, queue, prefill)
  let messages = 0
  const result = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    maxOps: Math.floor(prefill / batchSize),
    op: async () => {
      const received = await api<Received>(token, `/v1/queues/${queue}/messages/receive`, {
        maxMessages: batchSize,
        visibilityTimeoutSeconds: 300,
      })
      if (received.messages.length === 0) return
      if (batchSize === 1) {
        await api(
          token,
          `/v1/queues/${queue}/messages/${received.messages[0]?.receiptHandle}`,
          undefined,
          'DELETE',
        )
      } else {
        await api(token, `/v1/queues/${queue}/messages/ack`, {
          receiptHandles: received.messages.map((message) => message.receiptHandle),
        })
      }
      messages += received.messages.length
    },
  })
  return { result, messagesPerOp: result.ops > 0 ? messages / result.ops : 0 }
}

/** A receiver long-polls; once it is parked, one message is sent; latency = send start → arrival. */
async function measureEndToEnd(token: string, queue: string, samples: number) {
  const latencies: number[] = []
  const sendLatencies: number[] = []
  for (let i = 0; i < samples; i++) {
    const waiting = api<Received>(token, `/v1/queues/${queue}/messages/receive`, {
      maxMessages: 1,
      waitSeconds: 20,
    })
    await new Promise((resolve) => setTimeout(resolve, 15))
    const sentAt = performance.now()
    await api(token, `/v1/queues/${queue}/messages`, { body: `sample ${i}` })
    sendLatencies.push(performance.now() - sentAt)
    const received = await waiting
    latencies.push(performance.now() - sentAt)
    const handle = received.messages[0]?.receiptHandle
    if (handle) await api(token, `/v1/queues/${queue}/messages/${handle}`, undefined, 'DELETE')
  }
  return { endToEnd: latencies.sort((a, b) => a - b), send: sendLatencies.sort((a, b) => a - b) }
}

try {
  platform = await startPlatform()
  const token = await platform.token('bench-queue', ['queue:read', 'queue:write'])
  const whoami = () =>
    runLoad({
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
      warmupOps: 200,
      op: () => api(token, '/v1/whoami'),
    })
  for (const [name, settings] of [
    ['send-1', {}],
    ['send-4p', { partitions: 4 }],
    ['consume', {}],
    ['latency', {}],
  ] as const) {
    await api(token, `/v1/queues/${name}`, settings, 'PUT')
  }

  const sendBaseline = await whoami()
  const single = await measureSend(token, 'send-1', 1)
  const ten = await measureSend(token, 'send-1', 10)
  const hundred = await measureSend(token, 'send-1', 100)
  const partitioned = await measureSend(token, 'send-4p', 1)
  printTable(`Send (${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s each, 256-byte bodies)`, [
    baselineRow(sendBaseline),
    row('send 1 per request', single, 1, sendBaseline),
    row('send batch of 10', ten, 10, sendBaseline),
    row('send batch of 100', hundred, 100, sendBaseline),
    row('send 1 per request, 4 partitions', partitioned, 1, sendBaseline),
  ])
  await api(token, '/v1/queues/send-1/purge', {})
  await api(token, '/v1/queues/send-4p/purge', {})

  const consumeBaseline = await whoami()
  const consumeOne = await measureConsume(token, 'consume', 1, 3_000)
  const consumeTen = await measureConsume(token, 'consume', 10, 10_000)
  const consumeHundred = await measureConsume(token, 'consume', 100, 20_000)
  printTable(
    `Receive + ack (${CONCURRENCY} concurrent consumers, pre-filled queue, ≤ ${DURATION_MS / 1000} s each)`,
    [
      baselineRow(consumeBaseline),
      row('receive 1 + ack (2 requests)', consumeOne.result, consumeOne.messagesPerOp, consumeBaseline),
      row('receive 10 + batch ack', consumeTen.result, consumeTen.messagesPerOp, consumeBaseline),
      row('receive 100 + batch ack', consumeHundred.result, consumeHundred.messagesPerOp, consumeBaseline),
    ],
  )

  const floor = await runLoad({
    concurrency: 1,
    durationMs: 2_000,
    warmupOps: 50,
    op: () => api(token, '/v1/whoami'),
  })
  const { endToEnd, send } = await measureEndToEnd(token, 'latency', 200)
  printTable('End-to-end latency: send → long-polling receiver (one at a time, 200 samples)', [
    { subject: 'GET /v1/whoami, one client (baseline)', 'p50 ms': floor.p50Ms, 'p99 ms': floor.p99Ms },
    { subject: 'send request alone', 'p50 ms': percentile(send, 50), 'p99 ms': percentile(send, 99) },
    {
      subject: 'send start → message at the long-polling receiver',
      'p50 ms': percentile(endToEnd, 50),
      'p99 ms': percentile(endToEnd, 99),
    },
  ])
  for (const [failure, detail] of failures) console.log(`first failure of ${failure}: ${detail}`)
} finally {
  await platform?.stop()
}

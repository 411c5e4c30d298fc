/**
 * The SQS wire's cost over the native queue API, through the real platform (loopback):
 * SendMessage and ReceiveMessage+DeleteMessage with `@aws-sdk/client-sqs` (SigV4 signing,
 * the SDK's MD5 checks) against the same operations on `/v1/queues`, single and batched
 * (10, SQS's batch limit), with the authenticated no-op `GET /v1/whoami` measured in the
 * same run as the floor. The ratio SQS ÷ native is the number to read.
 */
import {
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type LoadResult, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 2_000
const BODY = 'x'.repeat(256)

let platform: RunningPlatform | undefined
let sqs: SQSClient | undefined

async function api<T>(token: string, path: string, body?: unknown, method?: string): Promise<T> {
  const response = await fetch(`${platform?.url}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text.slice(0, 200)}`)
  return (text ? JSON.parse(text) : {}) as T
}

const load = (op: () => Promise<unknown>, maxOps?: number) =>
  runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op,
    ...(maxOps ? { maxOps } : {}),
  })

function rows(title: string, pairs: Array<[string, LoadResult, LoadResult, number]>, floor: LoadResult) {
  printTable(title, [
    {
      subject: 'GET /v1/whoami (floor)',
      'native req/s': floor.opsPerSec,
      'SQS req/s': '–',
      'native p50 ms': floor.p50Ms,
      'SQS p50 ms': '–',
      'SQS ÷ native': '–',
      errors: floor.errors,
    },
    ...pairs.map(([subject, native, wire, perOp]) => ({
      subject,
      'native req/s': native.opsPerSec,
      'SQS req/s': wire.opsPerSec,
      'native p50 ms': native.p50Ms,
      'SQS p50 ms': wire.p50Ms,
      'SQS ÷ native': `${(wire.opsPerSec / native.opsPerSec).toFixed(2)}× (${perOp} msg/op)`,
      errors: native.errors + wire.errors,
    })),
  ])
}

async function fill(token: string, queue: string, count: number) {
  for (let sent = 0; sent < count; sent += 100)
    await api(token, `/v1/queues/${queue}/messages/batch`, {
      messages: Array.from({ length: 100 }, () => ({ body: BODY })),
    })
}

interface Received {
  messages: Array<{ receiptHandle: string }>
}

try {
  platform = await startPlatform()
  const tenant = 'bench-sqs'
  const token = await platform.token(tenant, ['queue:read', 'queue:write', 'blob:write'])
  const keys = await api<{ accessKeyId: string; secretAccessKey: string }>(token, '/v1/blob/keys', {})
  sqs = new SQSClient({ region: 'auto', endpoint: `${platform.url}/sqs`, credentials: keys })
  for (const name of ['send', 'consume']) await api(token, `/v1/queues/${name}`, {}, 'PUT')
  const QueueUrl = (name: string) => `${platform?.url}/sqs/${tenant}/${name}`
  const client = sqs

  const floor = await load(() => api(token, '/v1/whoami'))
  const nativeSend = await load(() => api(token, '/v1/queues/send/messages', { body: BODY }))
  const wireSend = await load(() =>
    client.send(new SendMessageCommand({ QueueUrl: QueueUrl('send'), MessageBody: BODY })),
  )
  const batch = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: BODY }))
  const nativeBatch = await load(() =>
    api(token, '/v1/queues/send/messages/batch', { messages: batch.map(() => ({ body: BODY })) }),
  )
  const wireBatch = await load(() =>
    client.send(new SendMessageBatchCommand({ QueueUrl: QueueUrl('send'), Entries: batch })),
  )
  rows(
    `Send (${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s each, 256-byte bodies)`,
    [
      ['send 1', nativeSend, wireSend, 1],
      ['send batch of 10', nativeBatch, wireBatch, 10],
    ],
    floor,
  )
  await api(token, '/v1/queues/send/purge', {})

  const consume = async (size: number, wire: boolean) => {
    await fill(token, 'consume', 3_000)
    const result = await load(
      async () => {
        if (wire) {
          const { Messages = [] } = await client.send(
            new ReceiveMessageCommand({
              QueueUrl: QueueUrl('consume'),
              MaxNumberOfMessages: size,
              VisibilityTimeout: 300,
            }),
          )
          if (Messages.length === 0) return
          if (size === 1)
            await client.send(
              new DeleteMessageCommand({
                QueueUrl: QueueUrl('consume'),
                ReceiptHandle: Messages[0]?.ReceiptHandle,
              }),
            )
          else
            await client.send(
              new DeleteMessageBatchCommand({
                QueueUrl: QueueUrl('consume'),
                Entries: Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
              }),
            )
          return
        }
        const { messages } = await api<Received>(token, '/v1/queues/consume/messages/receive', {
          maxMessages: size,
          visibilityTimeoutSeconds: 300,
        })
        if (messages.length === 0) return
        if (size === 1)
          await api(token, `/v1/queues/consume/messages/${messages[0]?.receiptHandle}`, undefined, 'DELETE')
        else
          await api(token, '/v1/queues/consume/messages/ack', {
            receiptHandles: messages.map((m) => m.receiptHandle),
          })
      },
      Math.floor(3_000 / size),
    )
    await api(token, '/v1/queues/consume/purge', {})
    return result
  }
  rows(
    `Receive + delete (${CONCURRENCY} concurrent consumers, pre-filled queue, ≤ ${DURATION_MS / 1000} s each)`,
    [
      ['receive 1 + delete', await consume(1, false), await consume(1, true), 1],
      ['receive 10 + batch delete', await consume(10, false), await consume(10, true), 10],
    ],
    floor,
  )
} finally {
  sqs?.destroy()
  await platform?.stop()
}

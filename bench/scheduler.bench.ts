/**
 * The task scheduler through the real platform (`npm run dev`'s stack, loopback), with a
 * tiny Node HTTP receiver on 127.0.0.1 as the tasks' target (the platform runs with
 * SCHEDULER_ALLOW_INSECURE_LOOPBACK=true so targets may be plain http to loopback):
 * 1. creating tasks (POST /v1/scheduler/tasks) against the no-op floor GET /v1/whoami;
 * 2. 1,000 tasks due in the same second: lateness (arrival at the receiver minus the due
 *    time) p50/p99/max and dispatched tasks per second, with one more tenant's single
 *    task due in the same second (fairness: its lateness next to the flood's).
 * Dispatch rate is compared with the no-op floor's request rate measured in the same run.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type LoadResult, percentile, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 4_000
const FLOOD = 1_000

let platform: RunningPlatform | undefined
let receiver: Server | undefined
const arrivals = new Map<string, { at: number; path: string }>()

function startReceiver(): Promise<string> {
  const server = createServer((request, response) => {
    const at = Date.now()
    const id = String(request.headers['webhook-id'] ?? '')
    if (!arrivals.has(id)) arrivals.set(id, { at, path: request.url ?? '' })
    request.resume()
    request.on('end', () => response.writeHead(204).end())
  })
  receiver = server
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
}

async function api(
  token: string,
  path: string,
  body?: unknown,
  method?: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${platform?.url}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text.slice(0, 200)}`)
  return text ? (JSON.parse(text) as Record<string, unknown>) : {}
}

function loadRow(subject: string, result: LoadResult, baseline: LoadResult) {
  return {
    subject,
    'requests/s': result.opsPerSec,
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'vs whoami': `${(result.opsPerSec / baseline.opsPerSec).toFixed(2)}×`,
  }
}

async function main() {
  const target = await startReceiver()
  platform = await startPlatform({ SCHEDULER_ALLOW_INSECURE_LOOPBACK: 'true' })
  const flood = await platform.token('bench-flood', ['scheduler:read', 'scheduler:write'])
  const single = await platform.token('bench-single', ['scheduler:read', 'scheduler:write'])
  for (const token of [flood, single]) {
    await api(
      token,
      '/v1/scheduler/limits',
      { concurrency: 1000, ratePerSecond: 10_000, burst: 10_000 },
      'PUT',
    )
  }

  // 1. Creating tasks (an hour ahead, so none runs during the measurement).
  const whoami = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 50,
    op: () => api(flood, '/v1/whoami'),
  })
  const create = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 20,
    op: (i) =>
      api(flood, '/v1/scheduler/tasks', {
        target: { type: 'http', url: `${target}/later/${i}` },
        delaySeconds: 3600,
      }),
  })
  printTable('Creating tasks (concurrency 16)', [
    {
      subject: 'GET /v1/whoami (no-op floor)',
      'requests/s': whoami.opsPerSec,
      'p50 ms': whoami.p50Ms,
      'p99 ms': whoami.p99Ms,
      errors: whoami.errors,
      'vs whoami': '1.00×',
    },
    loadRow('POST /v1/scheduler/tasks', create, whoami),
  ])

  // 2. 1,000 tasks (and one of another tenant) due in the same whole second.
  // Due far enough ahead that creating all of them (at the rate just measured) ends first.
  const leadMs = Math.max(8_000, (1.5 * FLOOD * 1000) / create.opsPerSec + 3_000)
  const dueAt = Math.ceil((Date.now() + leadMs) / 1000) * 1000
  const runAt = new Date(dueAt).toISOString()
  const created = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 60_000,
    maxOps: FLOOD,
    op: (i) =>
      api(flood, '/v1/scheduler/tasks', { target: { type: 'http', url: `${target}/flood/${i}` }, runAt }),
  })
  await api(single, '/v1/scheduler/tasks', { target: { type: 'http', url: `${target}/single` }, runAt })
  const createdBy = Date.now()
  if (createdBy >= dueAt)
    throw new Error(`creating ${FLOOD} tasks took past their due time; raise the lead time`)
  const expected = created.ops - created.errors + 1
  const due = () => [...arrivals.values()].filter((arrival) => !arrival.path.startsWith('/later'))
  const deadline = dueAt + 30_000
  while (due().length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const arrived = due()
  const floodLateness = arrived
    .filter((arrival) => arrival.path.startsWith('/flood'))
    .map((arrival) => arrival.at - dueAt)
    .sort((a, b) => a - b)
  const singleLateness = arrived.find((arrival) => arrival.path === '/single')
  const first = Math.min(...arrived.map((arrival) => arrival.at))
  const last = Math.max(...arrived.map((arrival) => arrival.at))
  const dispatchedPerSecond = arrived.length / (Math.max(1, last - dueAt) / 1000)
  printTable(`${FLOOD} tasks due in the same second (+1 task of another tenant)`, [
    {
      subject: `${FLOOD} tasks, tenant A`,
      arrived: floodLateness.length,
      'lateness p50 ms': percentile(floodLateness, 50),
      'lateness p99 ms': percentile(floodLateness, 99),
      'lateness max ms': floodLateness.at(-1) ?? Number.NaN,
      'first arrival ms': first - dueAt,
      'dispatched/s (due → last arrival)': dispatchedPerSecond,
      'vs whoami requests/s': `${(dispatchedPerSecond / whoami.opsPerSec).toFixed(2)}×`,
    },
    {
      subject: '1 task, tenant B',
      arrived: singleLateness ? 1 : 0,
      'lateness p50 ms': singleLateness ? singleLateness.at - dueAt : Number.NaN,
      'lateness p99 ms': singleLateness ? singleLateness.at - dueAt : Number.NaN,
      'lateness max ms': singleLateness ? singleLateness.at - dueAt : Number.NaN,
      'first arrival ms': '–',
      'dispatched/s (due → last arrival)': '–',
      'vs whoami requests/s': '–',
    },
  ])
  console.log(
    `created ${created.ops - created.errors}/${FLOOD} (${created.opsPerSec.toFixed(0)}/s, errors ${created.errors}); lead time ${dueAt - createdBy} ms`,
  )
}

try {
  await main()
} finally {
  await platform?.stop()
  receiver?.close()
}

/**
 * The portable hosts (apps/host on Node, Bun, Deno) against workerd through `wrangler dev`,
 * each started the way `npm run dev` / `npm run start:<runtime>` starts it, loopback only:
 * the authenticated floor `GET /v1/whoami` and one operation per block (ID batch, counter
 * increment, rate-limit check, queue send, publish). Ratios are against workerd's figure
 * for the same operation in the same run. Platforms run one after another, never together.
 */
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type LoadResult, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 2_000
const TARGETS = ['workerd', 'node', 'bun', 'deno'] as const

type Op = { name: string; path: string; method: string; body?: unknown }

const OPS: Op[] = [
  { name: 'floor: GET /v1/whoami', path: '/v1/whoami', method: 'GET' },
  {
    name: 'sequencer: 10 snowflake IDs',
    path: '/v1/sequencer/generators/bench/ids',
    method: 'POST',
    body: { kind: 'snowflake', count: 10 },
  },
  { name: 'counters: increment', path: '/v1/counters/bench/increment', method: 'POST', body: { by: 1 } },
  {
    name: 'ratelimit: check',
    path: '/v1/ratelimit/check',
    method: 'POST',
    body: { policy: 'bench', key: 'k' },
  },
  { name: 'queue: send', path: '/v1/queues/bench/messages', method: 'POST', body: { body: 'x'.repeat(256) } },
  {
    name: 'pubsub: publish',
    path: '/v1/pubsub/topics/bench/messages',
    method: 'POST',
    body: { messages: [{ data: btoa('{"id":1}') }] },
  },
]

const SETUP: Op[] = [
  { name: 'counter', path: '/v1/counters/bench', method: 'PUT', body: { shards: 4 } },
  {
    name: 'policy',
    path: '/v1/ratelimit/policies/bench',
    method: 'PUT',
    body: { algorithm: 'token-bucket', limit: 1_000_000, period: '1m' },
  },
  { name: 'queue', path: '/v1/queues/bench', method: 'PUT', body: {} },
  { name: 'topic', path: '/v1/pubsub/topics', method: 'POST', body: { name: 'bench' } },
]

async function call(platform: RunningPlatform, token: string, op: Op): Promise<void> {
  const response = await fetch(`${platform.url}${op.path}`, {
    method: op.method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(op.body !== undefined ? { body: JSON.stringify(op.body) } : {}),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${op.method} ${op.path}: ${response.status} ${text.slice(0, 200)}`)
}

const results = new Map<string, Map<string, LoadResult>>()
for (const target of TARGETS) {
  if (target === 'workerd') delete process.env.EDGEBLOCKS_HOST
  else process.env.EDGEBLOCKS_HOST = target
  const platform = await startPlatform()
  try {
    const token = await platform.token('bench-hosts', ['admin'])
    for (const op of SETUP) await call(platform, token, op)
    const byOp = new Map<string, LoadResult>()
    for (const op of OPS) {
      byOp.set(
        op.name,
        await runLoad({
          concurrency: CONCURRENCY,
          durationMs: DURATION_MS,
          warmupOps: 30,
          op: () => call(platform, token, op),
        }),
      )
    }
    results.set(target, byOp)
  } catch (error) {
    console.error(`${target}: ${(error as Error).message}`)
  } finally {
    await platform.stop()
  }
}

const rows = OPS.flatMap((op) => {
  const base = results.get('workerd')?.get(op.name)
  return TARGETS.flatMap((target) => {
    const result = results.get(target)?.get(op.name)
    if (!result) return []
    return [
      {
        operation: op.name,
        host: target === 'workerd' ? 'workerd (wrangler dev, baseline)' : target,
        'requests/s': result.opsPerSec,
        'p50 ms': result.p50Ms,
        'p99 ms': result.p99Ms,
        errors: result.errors,
        'req/s ÷ workerd': base ? `${(result.opsPerSec / base.opsPerSec).toFixed(2)}×` : '–',
        'p50 ÷ workerd': base ? `${(result.p50Ms / base.p50Ms).toFixed(2)}×` : '–',
        'p99 ÷ workerd': base ? `${(result.p99Ms / base.p99Ms).toFixed(2)}×` : '–',
      },
    ]
  })
})
printTable(`Hosts vs workerd (concurrency ${CONCURRENCY}, ${DURATION_MS / 1000} s per operation)`, rows)

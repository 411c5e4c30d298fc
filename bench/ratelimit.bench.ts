/**
 * Rate limiter benchmarks, each against a baseline measured in the same run:
 * 1. Decisions/s of each algorithm in-process (a Map of key states, like an in-memory limiter)
 *    against rate-limiter-flexible's RateLimiterMemory doing the same policy on the same keys.
 * 2. `POST /v1/ratelimit/check` throughput and latency against the no-op floor `GET /v1/whoami`,
 *    for a tenant the gateway does not limit (so only the check itself differs).
 * 3. What the gateway's own limiting adds per request: the same floor route for a tenant whose
 *    gateway limit is off, on, and exhausted (429 from the denial cache); and `GET /v1` (per-IP
 *    limit) against `GET /healthz` (outside /v1, no limit). The middleware authenticates the
 *    token in every /v1 row, limited or not, so the differences are the limiting alone.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { startPlatform } from '../scripts/platform-process'
import { ALGORITHMS, decide, type KeyState, type RatePolicy } from '../workers/ratelimit/algorithms'
import { formatNumber, type LoadResult, loadRow, percentile, printTable, runLoad } from './harness'

const KEYS = Array.from({ length: 1000 }, (_, i) => `user:${i}`)

/**
 * Decisions per second of an awaited decision, for about `durationMs`, and the share denied.
 * `decide(i)` resolves to whether request i was admitted.
 */
async function decisionsPerSecond(durationMs: number, decide: (i: number) => Promise<boolean>) {
  for (let i = 0; i < 10_000; i++) await decide(i)
  let done = 0
  let denied = 0
  const started = performance.now()
  while (performance.now() - started < durationMs) {
    for (let i = 0; i < 5_000; i++) if (!(await decide(done++))) denied++
  }
  return {
    perSecond: done / ((performance.now() - started) / 1000),
    denied: `${Math.round((100 * denied) / done)}%`,
  }
}

/**
 * Runs the subjects in interleaved rounds (A, B, C, A, B, C, ...), so a machine whose load
 * changes during the run slows every subject alike, and the ratios stay honest.
 */
async function interleavedLoad<Name extends string>(
  subjects: Record<Name, (i: number) => Promise<unknown>>,
  options: { rounds: number; msPerRound: number; concurrency?: number },
): Promise<Record<Name, LoadResult>> {
  const names = Object.keys(subjects) as Name[]
  const latencies = new Map<Name, number[]>(names.map((name) => [name, []]))
  const totals = new Map<Name, { ops: number; seconds: number; errors: number }>(
    names.map((name) => [name, { ops: 0, seconds: 0, errors: 0 }]),
  )
  for (let round = 0; round < options.rounds; round++) {
    for (const name of names) {
      const timed = latencies.get(name) as number[]
      const op = subjects[name]
      const result = await runLoad({
        concurrency: options.concurrency ?? 32,
        durationMs: options.msPerRound,
        warmupOps: round === 0 ? 100 : 0,
        op: async (i) => {
          const started = performance.now()
          await op(i)
          timed.push(performance.now() - started)
        },
      })
      const total = totals.get(name) as { ops: number; seconds: number; errors: number }
      total.ops += result.ops
      total.seconds += result.ops / result.opsPerSec
      total.errors += result.errors
    }
  }
  const results = {} as Record<Name, LoadResult>
  for (const name of names) {
    const sorted = (latencies.get(name) as number[]).sort((a, b) => a - b)
    const total = totals.get(name) as { ops: number; seconds: number; errors: number }
    results[name] = {
      ops: total.ops,
      opsPerSec: total.ops / total.seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      errors: total.errors,
    }
  }
  return results
}

async function inProcessTable(): Promise<void> {
  // 100 requests per second per key, over 1,000 keys in turn: about one in ten is denied.
  const limit = 100
  const flexible = new RateLimiterMemory({ points: limit, duration: 1 })
  const baseline = await decisionsPerSecond(1_500, (i) =>
    flexible.consume(KEYS[i % KEYS.length] as string, 1).then(
      () => true,
      () => false,
    ),
  )
  const rows: Array<Record<string, string | number>> = [
    {
      subject: 'rate-limiter-flexible RateLimiterMemory (fixed window)',
      'decisions/s': baseline.perSecond,
      denied: baseline.denied,
      ratio: '1.00× (baseline)',
    },
  ]
  for (const algorithm of ALGORITHMS) {
    const policy: RatePolicy = { algorithm, limit, periodMs: 1000 }
    const states = new Map<string, KeyState | undefined>()
    const result = await decisionsPerSecond(1_500, async (i) => {
      const key = KEYS[i % KEYS.length] as string
      const outcome = decide(policy, states.get(key), Date.now(), 1)
      if (outcome.decision.allowed) states.set(key, outcome.state)
      return outcome.decision.allowed
    })
    rows.push({
      subject: `${algorithm} (decide + Map)`,
      'decisions/s': result.perSecond,
      denied: result.denied,
      ratio: `${(result.perSecond / baseline.perSecond).toFixed(2)}×`,
    })
  }
  printTable('In-process decisions/s (100/s per key, 1,000 keys; each call awaited)', rows)
}

async function main(): Promise<void> {
  await inProcessTable()
  const platform = await startPlatform({
    GATEWAY_TENANT_LIMIT: '1000000/60s',
    GATEWAY_IP_LIMIT: '1000000/60s',
    GATEWAY_TENANT_OVERRIDES: JSON.stringify({ 'bench-free': 'off', 'bench-blocked': '1/7d' }),
  })
  try {
    const free = await platform.token('bench-free', ['admin'])
    const gated = await platform.token('bench-gated', ['admin'])
    const blocked = await platform.token('bench-blocked', ['admin'])
    const send = async (path: string, token?: string, body?: unknown, expected = 200) => {
      const response = await fetch(`${platform.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      await response.arrayBuffer()
      if (response.status !== expected) throw new Error(`${path}: ${response.status}`)
      return response
    }
    const put = (name: string, policy: unknown) =>
      fetch(`${platform.url}/v1/ratelimit/policies/${name}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${free}`, 'content-type': 'application/json' },
        body: JSON.stringify(policy),
      })
    await put('open', { algorithm: 'gcra', limit: 1_000_000, period: '1s' })
    await put('tight', { algorithm: 'fixed-window', limit: 1, period: '7d' })
    await send('/v1/ratelimit/check', free, { policy: 'tight', key: 'spent' })
    await send('/v1/whoami', blocked)

    const key = (i: number) => KEYS[i % KEYS.length]
    const check = await interleavedLoad(
      {
        floor: () => send('/v1/whoami', free),
        single: (i) => send('/v1/ratelimit/check', free, { policy: 'open', key: key(i) }),
        pair: (i) => send('/v1/ratelimit/check', free, { policy: 'open', keys: [key(i), `ip:${i % 97}`] }),
        denied: () => send('/v1/ratelimit/check', free, { policy: 'tight', key: 'spent' }),
      },
      { rounds: 5, msPerRound: 1_000 },
    )
    printTable(
      'POST /v1/ratelimit/check vs the no-op floor (32 concurrent, loopback, 5 interleaved rounds)',
      [
        loadRow('GET /v1/whoami (floor)', check.floor),
        loadRow('check, one key (one object call)', check.single, check.floor),
        loadRow('check, two keys (reserve + commit on each)', check.pair, check.floor),
        loadRow('check, denied (answered by the denial cache)', check.denied, check.floor),
      ],
    )

    const row = (name: string, result: LoadResult, baseline?: LoadResult) => ({
      ...loadRow(name, result, baseline),
      'added p50 ms': baseline ? formatNumber(result.p50Ms - baseline.p50Ms) : '–',
    })
    for (const concurrency of [1, 32]) {
      const gateway = await interleavedLoad(
        {
          off: () => send('/v1/whoami', free),
          on: () => send('/v1/whoami', gated),
          over: () => send('/v1/whoami', blocked, undefined, 429),
          health: () => send('/healthz'),
          publicV1: () => send('/v1'),
        },
        { rounds: 4, msPerRound: 1_000, concurrency },
      )
      printTable(
        `What the gateway limiting adds per request (${concurrency} concurrent, loopback, 4 interleaved rounds)`,
        [
          row('GET /v1/whoami, tenant limit off', gateway.off),
          row('GET /v1/whoami, tenant limit on (GCRA, leased units)', gateway.on, gateway.off),
          row('GET /v1/whoami, tenant over its limit (429, denial cache)', gateway.over, gateway.off),
          row('GET /healthz, outside /v1 (no limit)', gateway.health),
          row('GET /v1 without a token (per-IP limit, leased units)', gateway.publicV1, gateway.health),
        ],
      )
    }
  } finally {
    await platform.stop()
  }
}

await main()

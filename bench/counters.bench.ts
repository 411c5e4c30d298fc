/**
 * Sharded counters over HTTP, through the real platform (`npm run dev` stack):
 * - increments/s at 1, 4 and 16 shards (closed loop, 32 in flight),
 * - strong-read latency at 1, 4 and 16 shards (one read in flight: the fan-out's own cost),
 * each against the no-op floor route `GET /v1/whoami` measured the same way in the same run.
 * After the increment runs it checks that each counter's strong total equals the number of
 * acknowledged increments.
 */
import { startPlatform } from '../scripts/platform-process'
import { type LoadResult, loadRow, printTable, runLoad } from './harness'

const SHARD_COUNTS = [1, 4, 16]
const INCREMENT_CONCURRENCY = 32
const INCREMENT_MS = 4_000
const READ_MS = 3_000

async function expectOk(response: Response): Promise<unknown> {
  const body = await response.json()
  if (!response.ok) throw new Error(`${response.status} ${JSON.stringify(body)}`)
  return body
}

const platform = await startPlatform()
try {
  const token = await platform.token('bench-counters', ['counters:read', 'counters:write'])
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const get = (path: string) => fetch(`${platform.url}${path}`, { headers }).then(expectOk)
  const send = (method: string, path: string, body: unknown) =>
    fetch(`${platform.url}${path}`, { method, headers, body: JSON.stringify(body) }).then(expectOk)

  for (const shards of SHARD_COUNTS) await send('PUT', `/v1/counters/bench-${shards}`, { shards })

  const floor = (concurrency: number, durationMs: number) =>
    runLoad({ concurrency, durationMs, warmupOps: 50, op: () => get('/v1/whoami') })

  const incrementFloor = await floor(INCREMENT_CONCURRENCY, INCREMENT_MS)
  const incrementRows: Array<Record<string, string | number>> = [
    loadRow('GET /v1/whoami (floor)', incrementFloor),
  ]
  const acknowledged = new Map<number, LoadResult>()
  for (const shards of SHARD_COUNTS) {
    const result = await runLoad({
      concurrency: INCREMENT_CONCURRENCY,
      durationMs: INCREMENT_MS,
      warmupOps: 2 * shards,
      op: () => send('POST', `/v1/counters/bench-${shards}/increment`, { by: 1 }),
    })
    acknowledged.set(shards, result)
    incrementRows.push(
      loadRow(`increment, ${shards} shard${shards === 1 ? '' : 's'}`, result, incrementFloor),
    )
  }
  printTable(
    `Counter increments (${INCREMENT_CONCURRENCY} in flight, ${INCREMENT_MS / 1000} s each)`,
    incrementRows,
  )

  for (const shards of SHARD_COUNTS) {
    const { value } = (await get(`/v1/counters/bench-${shards}?consistency=strong`)) as { value: number }
    const result = acknowledged.get(shards)
    const applied = (result?.ops ?? 0) - (result?.errors ?? 0) + 2 * shards
    console.log(`bench-${shards}: strong total ${value}, acknowledged increments ${applied}`)
    if (value !== applied) throw new Error(`bench-${shards}: the strong total does not match`)
  }
  console.log('')

  const readFloor = await floor(1, READ_MS)
  const readRows: Array<Record<string, string | number>> = [loadRow('GET /v1/whoami (floor)', readFloor)]
  for (const shards of SHARD_COUNTS) {
    const result = await runLoad({
      concurrency: 1,
      durationMs: READ_MS,
      warmupOps: 10,
      op: () => get(`/v1/counters/bench-${shards}?consistency=strong`),
    })
    readRows.push(loadRow(`strong read, ${shards} shard${shards === 1 ? '' : 's'}`, result, readFloor))
  }
  const eventual = await runLoad({
    concurrency: 1,
    durationMs: READ_MS,
    warmupOps: 10,
    op: () => get('/v1/counters/bench-16'),
  })
  readRows.push(loadRow('eventual read, 16 shards', eventual, readFloor))
  printTable(
    `Counter reads (1 in flight, ${READ_MS / 1000} s each; compare p50/p99 with the floor)`,
    readRows,
  )
} finally {
  await platform.stop()
}

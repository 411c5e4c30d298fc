/**
 * The monitoring block through the real platform (`npm run dev`'s stack, loopback):
 * 1. remote-write ingest: snappy protobuf batches of 100 series × 10 samples, samples/s
 *    against the authenticated no-op floor `GET /v1/whoami` measured in the same run;
 * 2. storage: bytes per sample in sealed Gorilla chunks (from `/v1/monitoring/stats`);
 * 3. a range query (`sum by (group) (rate(x[5m]))` over every written series, 1-minute
 *    steps across the written span) p50/p99 against the floor.
 * Bounded in count and time; the issue's 1,000 series × 24 h and the rollups are not here
 * (rollups are not built), see the printed note.
 */
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { encodeRemoteWrite } from '../workers/monitoring/remote-write'
import type { Series } from '../workers/monitoring/series'
import { printTable, runLoad } from './harness'

const SERIES_PER_GROUP = 100
const GROUPS = 4
const SAMPLES_PER_BATCH = 10
const CONCURRENCY = 4
const STEP_MS = 15_000
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 6 * 3_600_000

let platform: RunningPlatform | undefined

function batch(i: number): Uint8Array {
  const group = i % GROUPS
  const first = Math.floor(i / GROUPS) * SAMPLES_PER_BATCH
  const series: Series[] = []
  for (let s = 0; s < SERIES_PER_GROUP; s++) {
    const times: number[] = []
    const values: number[] = []
    for (let k = 0; k < SAMPLES_PER_BATCH; k++) {
      const n = first + k
      times.push(T0 + n * STEP_MS)
      values.push(n * (s % 7) + ((n * 31 + s) % 5))
    }
    series.push({
      labels: { __name__: 'bench_requests_total', group: `g${group}`, instance: `i${s}` },
      times,
      values,
    })
  }
  return encodeRemoteWrite(series)
}

async function main() {
  platform = await startPlatform()
  const url = platform.url
  const token = await platform.token('bench-monitoring', ['monitoring:read', 'monitoring:write'])
  const auth = { authorization: `Bearer ${token}` }
  const floor = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 3000,
    warmupOps: 20,
    op: async () => {
      const r = await fetch(`${url}/v1/whoami`, { headers: auth })
      await r.arrayBuffer()
      if (!r.ok) throw new Error(String(r.status))
    },
  })
  const bodies = Array.from({ length: 400 }, (_, i) => batch(i))
  const write = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 15_000,
    maxOps: bodies.length,
    op: async (i) => {
      const r = await fetch(`${url}/v1/monitoring/prometheus/api/v1/write`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        body: bodies[i] as Uint8Array,
      })
      await r.arrayBuffer()
      if (r.status !== 204) throw new Error(String(r.status))
    },
  })
  const perBatch = SERIES_PER_GROUP * SAMPLES_PER_BATCH
  printTable(
    `Remote-write ingest, ${SERIES_PER_GROUP} series × ${SAMPLES_PER_BATCH} samples per batch, ${CONCURRENCY} concurrent`,
    [
      {
        subject: 'GET /v1/whoami (baseline)',
        'ops/s': floor.opsPerSec.toFixed(0),
        'p50 ms': floor.p50Ms.toFixed(2),
        'p99 ms': floor.p99Ms.toFixed(2),
        errors: floor.errors,
        'samples/s': '-',
        'samples/s ÷ whoami req/s': '-',
      },
      {
        subject: 'POST …/api/v1/write',
        'ops/s': write.opsPerSec.toFixed(0),
        'p50 ms': write.p50Ms.toFixed(2),
        'p99 ms': write.p99Ms.toFixed(2),
        errors: write.errors,
        'samples/s': (write.opsPerSec * perBatch).toFixed(0),
        'samples/s ÷ whoami req/s': `${((write.opsPerSec * perBatch) / floor.opsPerSec).toFixed(1)}×`,
      },
    ],
  )
  const stats = (await (await fetch(`${url}/v1/monitoring/stats`, { headers: auth })).json()) as Record<
    string,
    number
  >
  const written = write.ops - write.errors
  const spanSamples = Math.ceil(written / GROUPS) * SAMPLES_PER_BATCH
  const end = T0 + spanSamples * STEP_MS
  const params = new URLSearchParams({
    query: 'sum by (group) (rate(bench_requests_total[5m]))',
    start: String(T0 / 1000 + 300),
    end: String(end / 1000),
    step: '60',
  })
  const query = await runLoad({
    concurrency: 1,
    durationMs: 10_000,
    maxOps: 30,
    warmupOps: 2,
    op: async () => {
      const r = await fetch(`${url}/v1/monitoring/prometheus/api/v1/query_range?${params}`, { headers: auth })
      await r.arrayBuffer()
      if (!r.ok) throw new Error(String(r.status))
    },
  })
  printTable('Storage and a range query', [
    {
      subject: 'series / stored samples',
      value: `${stats.series} / ${(stats.sealedSamples ?? 0) + (stats.headSamples ?? 0)}`,
    },
    { subject: 'bytes per sample, sealed Gorilla chunks', value: Number(stats.bytesPerSample).toFixed(2) },
    {
      subject: `range query over ${stats.series} series × ${((end - T0) / 3_600_000).toFixed(1)} h, 1 m steps: p50 / p99 ms`,
      value: `${query.p50Ms.toFixed(1)} / ${query.p99Ms.toFixed(1)} (${(query.p50Ms / floor.p50Ms).toFixed(0)}× whoami p50), errors ${query.errors}`,
    },
  ])
  console.log(
    "\nNote: bounded runs on a shared 2-core machine; not the issue's 1,000 series × 24 h, and no rollups (not built).",
  )
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => platform?.stop())

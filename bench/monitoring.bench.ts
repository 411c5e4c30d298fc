/**
 * The monitoring block through the real platform (`npm run dev`'s stack, loopback):
 * 1. remote-write ingest: snappy protobuf batches of 100 series × 10 samples, samples/s
 *    against the authenticated no-op floor `GET /v1/whoami` measured in the same run;
 * 2. storage: bytes per sample in sealed Gorilla chunks (from `/v1/monitoring/stats`);
 * 3. a range query (`sum by (group) (rate(x[5m]))` over every written series, 1-minute
 *    steps across the written span) p50/p99 against the floor.
 * 4. 1,000 series × 24 h at 60 s (1.44 M samples, written first): `sum by (group)
 *    (max_over_time(x[1h]))` over the 24 h at 1 h steps, p50/p99 from the 1 h rollups (start
 *    on the hour) against the same query from raw samples (start one second later, which the
 *    rollup planner refuses: rollups.ts answers only on bucket boundaries), after the shards'
 *    rollup alarms have run.
 * Bounded in count and time.
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
    { subject: 'bytes per sample, sealed Gorilla chunks', value: bytesPerSample(stats) },
    {
      subject: `range query over ${stats.series} series × ${((end - T0) / 3_600_000).toFixed(1)} h, 1 m steps: p50 / p99 ms`,
      value: `${query.p50Ms.toFixed(1)} / ${query.p99Ms.toFixed(1)} (${(query.p50Ms / floor.p50Ms).toFixed(0)}× whoami p50), errors ${query.errors}`,
    },
  ])
  await dayOfSeries(url)
  console.log('\nNote: bounded runs on a shared 2-core machine.')
}

const DAY_SERIES = 1000
const DAY_GROUPS = 10
const DAY_STEP_MS = 60_000
const HOUR = 3_600_000

/** 1,000 series × 24 h, then the 24 h range query from rollups and from raw samples. */
async function dayOfSeries(url: string) {
  if (!platform) return
  const token = await platform.token('bench-monitoring-day', ['monitoring:read', 'monitoring:write'])
  const auth = { authorization: `Bearer ${token}` }
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR
  const start = end - 24 * HOUR
  const perGroup = DAY_SERIES / DAY_GROUPS
  // Batch i: one group's 100 series over one hour (60 samples each), hours in order per group.
  const batches = 24 * DAY_GROUPS
  const written = Date.now()
  const ingest = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 600_000,
    maxOps: batches,
    op: async (i) => {
      const group = i % DAY_GROUPS
      const hour = Math.floor(i / DAY_GROUPS)
      const times = Array.from({ length: 60 }, (_, k) => start + hour * HOUR + (k + 1) * DAY_STEP_MS)
      const series: Series[] = Array.from({ length: perGroup }, (_, s) => ({
        labels: { __name__: 'bench_day_temperature', group: `g${group}`, instance: `i${s}` },
        times,
        values: times.map((t) => 20 + 5 * Math.sin(t / 3_600_000 + s) + (((t / 60_000) * 7 + s) % 3)),
      }))
      const r = await fetch(`${url}/v1/monitoring/prometheus/api/v1/write`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        body: encodeRemoteWrite(series),
      })
      await r.arrayBuffer()
      if (r.status !== 204) throw new Error(String(r.status))
    },
  })
  const ingestSeconds = (Date.now() - written) / 1000
  // Each shard rolls up a minute after its writes (its alarm); wait for the 23 complete hours
  // (the newest hour is within the out-of-order window, so queries read it raw).
  let stats: Record<string, number> = {}
  for (let i = 0; i < 120; i++) {
    stats = (await (await fetch(`${url}/v1/monitoring/stats`, { headers: auth })).json()) as Record<
      string,
      number
    >
    if ((stats.hourBuckets ?? 0) >= DAY_SERIES * 23) break
    await new Promise((r) => setTimeout(r, 5000))
  }
  const query = 'sum by (group) (max_over_time(bench_day_temperature[1h]))'
  const measure = (from: number) => {
    const params = new URLSearchParams({
      query,
      start: String(from / 1000),
      end: String(end / 1000),
      step: '3600',
    })
    return runLoad({
      concurrency: 1,
      durationMs: 60_000,
      maxOps: 10,
      warmupOps: 1,
      op: async () => {
        const r = await fetch(`${url}/v1/monitoring/prometheus/api/v1/query_range?${params}`, {
          headers: auth,
        })
        await r.arrayBuffer()
        if (!r.ok) throw new Error(String(r.status))
      },
    })
  }
  const rolled = await measure(start + HOUR)
  const raw = await measure(start + HOUR + 1000)
  printTable(
    `Range query over ${DAY_SERIES} series × 24 h (${(ingest.ops - ingest.errors) * perGroup * 60} samples written in ${ingestSeconds.toFixed(0)} s; ${stats.hourBuckets ?? 0} 1 h buckets; ${bytesPerSample(stats)} bytes per sealed sample)`,
    [
      {
        subject: `raw samples: ${query}, 1 h steps`,
        ...loadCells(raw),
        'p50 vs rollups': `${(raw.p50Ms / rolled.p50Ms).toFixed(1)}×`,
      },
      { subject: 'the same from 1 h rollups', ...loadCells(rolled), 'p50 vs rollups': '1.0×' },
    ],
  )
}

/** Bytes per sample of the sealed chunks, or why there is no figure yet. */
const bytesPerSample = (stats: Record<string, number | null>) =>
  typeof stats.bytesPerSample === 'number'
    ? `${stats.bytesPerSample.toFixed(2)} (${stats.sealedSamples} samples)`
    : 'n/a (no chunk sealed yet)'

const loadCells = (r: Awaited<ReturnType<typeof runLoad>>) => ({
  'p50 ms': r.p50Ms.toFixed(1),
  'p99 ms': r.p99Ms.toFixed(1),
  runs: r.ops,
  errors: r.errors,
})

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => platform?.stop())

/**
 * The CDN through the local runtime (`/v1/cdn/sites/{site}/fetch/*`, 16 connections): hits
 * against the authenticated no-op floor (`/v1/whoami`); the cost of a miss against calling
 * the origin directly; the hit ratio and origin requests saved under a Zipf-distributed key
 * load; and the time to first byte of a cold 100 MiB object against the origin's, stored whole
 * and with `sliceBytes` (4 MiB slices).
 */
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { startOrigin } from '../test/support/origin-farm'
import { seededRandom } from '../test/support/seeded'
import { loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 4_000
const CACHEABLE = '?h-cache-control=max-age%3D3600'
const SLICE_BYTES = 4 * 1024 * 1024

function zipfSampler(n: number, s: number, random: () => number): () => number {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s)
  const total = weights.reduce((a, b) => a + b, 0)
  const cumulative: number[] = []
  let sum = 0
  for (const w of weights) {
    sum += w / total
    cumulative.push(sum)
  }
  return () => {
    const x = random()
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((cumulative[mid] ?? 1) < x) low = mid + 1
      else high = mid
    }
    return low
  }
}

async function get(url: string, headers: Record<string, string>) {
  const response = await fetch(url, { headers })
  await response.arrayBuffer()
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
}

async function timeToFirstByte(url: string, headers: Record<string, string>) {
  const started = performance.now()
  const response = await fetch(url, { headers })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  const ttfb = performance.now() - started
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {}
  return { ttfb, totalMs: performance.now() - started }
}

const origin = await startOrigin('cdn-bench')
let platform: RunningPlatform | undefined
try {
  platform = await startPlatform()
  const token = await platform.token('cdn-bench', ['admin'])
  const auth = { authorization: `Bearer ${token}` }
  await fetch(`${platform.url}/v1/cdn/sites/bench`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ originUrl: origin.url }),
  })
  const site = `${platform.url}/v1/cdn/sites/bench/fetch`
  const floor = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 50,
    op: () => get(`${platform?.url}/v1/whoami`, auth),
  })
  const hit = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 50,
    op: () => get(`${site}/hot${CACHEABLE}`, auth),
  })
  const direct = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 50,
    op: (i) => get(`${origin.url}/direct/${i}${CACHEABLE}`, {}),
  })
  const miss = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    op: (i) => get(`${site}/miss/${i}${CACHEABLE}`, auth),
  })
  printTable(`CDN hits and misses (${CONCURRENCY} connections, ${DURATION_MS / 1000} s each)`, [
    loadRow('platform floor GET /v1/whoami (baseline)', floor),
    loadRow('CDN hit (edge tier)', hit, floor),
    loadRow('origin called directly', direct, floor),
    loadRow('CDN miss (shield fill + store)', miss, floor),
  ])

  const sample = zipfSampler(1000, 1.1, seededRandom(42))
  const zipfRequests = 3000
  const zipfStart = origin.stats.requests
  const zipf = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 60_000,
    maxOps: zipfRequests,
    op: () => get(`${site}/zipf/${sample()}${CACHEABLE}`, auth),
  })
  const originRequests = origin.stats.requests - zipfStart
  printTable('Zipf load (s = 1.1, 1,000 keys, 3,000 requests)', [
    {
      requests: zipf.ops,
      'origin requests': originRequests,
      'hit ratio': `${((1 - originRequests / Math.max(1, zipf.ops)) * 100).toFixed(1)}%`,
      'origin requests saved': zipf.ops - originRequests,
      'ops/s': zipf.opsPerSec,
    },
  ])

  await fetch(`${platform.url}/v1/cdn/sites/sliced`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ originUrl: origin.url, sliceBytes: SLICE_BYTES }),
  })
  const sliced = `${platform.url}/v1/cdn/sites/sliced/fetch`
  const big = 100 * 1024 * 1024
  const object = `/bytes/${big}?h-cache-control=max-age%3D3600`
  const fromOrigin = await timeToFirstByte(`${origin.url}${object}`, {})
  const cold = await timeToFirstByte(`${site}${object}`, auth)
  const warm = await timeToFirstByte(`${site}${object}`, auth)
  const slicedCold = await timeToFirstByte(`${sliced}${object}&v=sliced`, auth)
  const slicedWarm = await timeToFirstByte(`${sliced}${object}&v=sliced`, auth)
  const row = (subject: string, t: { ttfb: number; totalMs: number }) => ({
    subject,
    'first byte ms': t.ttfb,
    'whole ms': t.totalMs,
    'first byte vs origin': `${(t.ttfb / fromOrigin.ttfb).toFixed(2)}×`,
  })
  printTable('100 MiB object (local node:http origin): time to first byte and to the last byte (ms)', [
    row('origin directly (baseline)', fromOrigin),
    row('CDN, cold, whole objects (fill stored whole, then served)', cold),
    row('CDN, warm, whole objects (from the shield)', warm),
    row(`CDN, cold, sliceBytes ${SLICE_BYTES / 1024 / 1024} MiB (first slice, then streamed)`, slicedCold),
    row(`CDN, warm, sliceBytes ${SLICE_BYTES / 1024 / 1024} MiB`, slicedWarm),
  ])
} finally {
  await platform?.stop()
  await origin.down()
}

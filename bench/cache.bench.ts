/**
 * The distributed cache:
 * 1. through the real platform (`npm run dev`'s stack, loopback, 32 connections): GET hit
 *    and SET over the Upstash wire, one command per request and pipelines of 100, against
 *    the authenticated no-op floor `GET /v1/whoami` measured in the same run;
 * 2. in process: the eviction structures (a Map of values + LruEviction / LfuEviction, and
 *    the whole Keyspace with memory accounting) against the `lru-cache` npm package, on the
 *    same Zipf-distributed get-or-set workload;
 * 3. hit ratio of LRU vs LFU (and lru-cache as a check on LRU) on Zipf workloads, with and
 *    without a one-off scan polluting the cache.
 */
import { LRUCache } from 'lru-cache'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { seededRandom } from '../test/support/seeded'
import { type Eviction, LfuEviction, LruEviction } from '../workers/cache/eviction'
import { KEY_OVERHEAD_BYTES, Keyspace } from '../workers/cache/keyspace'
import { type LoadResult, opsPerSecond, printTable, runLoad } from './harness'

const CONCURRENCY = 32
const DURATION_MS = 3_000

function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s
    cdf[i] = sum
  }
  return () => {
    const target = random() * sum
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((cdf[mid] as number) < target) low = mid + 1
      else high = mid
    }
    return low
  }
}

/** A bounded cache built on one of our eviction structures, with a key-count capacity. */
class StructureCache {
  private readonly values = new Map<string, string>()
  constructor(
    private readonly eviction: Eviction,
    private readonly capacity: number,
  ) {}
  get(key: string): string | undefined {
    const value = this.values.get(key)
    if (value !== undefined) this.eviction.touch(key, 0)
    return value
  }
  set(key: string, value: string): void {
    if (!this.values.has(key) && this.values.size >= this.capacity) {
      const victim = this.eviction.victim(0) as string
      this.values.delete(victim)
      this.eviction.remove(victim)
    }
    this.values.set(key, value)
    this.eviction.insert(key, false, 0)
  }
}

interface SimpleCache {
  get(key: string): string | undefined
  set(key: string, value: string): void
}

function keyspaceCache(policy: 'lru' | 'lfu', capacity: number): SimpleCache {
  // Budget in bytes for `capacity` entries of "k<6 digits>" → "v".
  const ks = new Keyspace({
    maxmemory: capacity * (KEY_OVERHEAD_BYTES + 7 + 1),
    policy,
    random: seededRandom(3),
  })
  return {
    get: (key) => {
      const entry = ks.read(key, 0)
      return entry?.value.type === 'string' ? entry.value.data : undefined
    },
    set: (key, value) => {
      ks.makeRoom(0)
      ks.put(key, { type: 'string', data: value }, undefined, 0)
      ks.dirty.clear() // as the node does after each batch
    },
  }
}

const subjects: Array<[string, (capacity: number) => SimpleCache]> = [
  ['lru-cache (npm)', (capacity) => new LRUCache<string, string>({ max: capacity })],
  ['Map + LruEviction', (capacity) => new StructureCache(new LruEviction(false), capacity)],
  ['Map + LfuEviction', (capacity) => new StructureCache(new LfuEviction(seededRandom(5), 60_000), capacity)],
  ['Keyspace lru (memory accounted)', (capacity) => keyspaceCache('lru', capacity)],
  ['Keyspace lfu (memory accounted)', (capacity) => keyspaceCache('lfu', capacity)],
]

function structureBench() {
  const capacity = 10_000
  const draws = zipf(100_000, 0.99, seededRandom(11))
  const keys = Array.from({ length: 1_000_000 }, () => `k${draws()}`)
  const rows = subjects.map(([name, make]) => {
    const cache = make(capacity)
    const opsPerSec = opsPerSecond(keys.length, (i) => {
      const key = keys[i % keys.length] as string
      if (cache.get(key) === undefined) cache.set(key, 'v')
    })
    return { name, opsPerSec }
  })
  const baseline = rows[0]?.opsPerSec ?? 1
  printTable(
    'Eviction structures in process: get, set on miss (Zipf 0.99, 100k keys, 10k capacity, 1M ops)',
    [
      ...rows.map((row) => ({
        subject: row.name,
        'ops/s': row.opsPerSec,
        'vs lru-cache': `${(row.opsPerSec / baseline).toFixed(2)}×`,
      })),
    ],
  )
}

function hitRatioBench() {
  const rows: Array<Record<string, string | number>> = []
  for (const [label, s, scan] of [
    ['Zipf 0.8', 0.8, false],
    ['Zipf 0.99', 0.99, false],
    ['Zipf 1.2', 1.2, false],
    ['Zipf 0.99 + one scan of 20k cold keys mid-run', 0.99, true],
  ] as const) {
    const draws = zipf(100_000, s, seededRandom(21))
    const keys: string[] = Array.from({ length: 400_000 }, () => `k${draws()}`)
    if (scan) keys.splice(200_000, 0, ...Array.from({ length: 20_000 }, (_, i) => `scan${i}`))
    const row: Record<string, string | number> = { workload: label }
    for (const [name, make] of subjects.filter(([name]) => !name.startsWith('Keyspace'))) {
      const cache = make(2_000)
      let hits = 0
      // Hits counted on the second half, once the cache has warmed up.
      keys.forEach((key, i) => {
        if (cache.get(key) !== undefined) {
          if (i >= keys.length / 2) hits++
        } else cache.set(key, 'v')
      })
      row[name] = `${((hits / (keys.length / 2)) * 100).toFixed(1)} %`
    }
    rows.push(row)
  }
  printTable('Hit ratio (2k capacity, 100k keys, 400k requests; second half counted)', rows)
}

async function api(url: string, token: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok || text.includes('"error"'))
    throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`)
}

function row(subject: string, result: LoadResult, commandsPerOp: number, floor: LoadResult) {
  return {
    subject,
    'requests/s': result.opsPerSec,
    'commands/s': result.opsPerSec * commandsPerOp,
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'commands/s ÷ floor requests/s': `${((result.opsPerSec * commandsPerOp) / floor.opsPerSec).toFixed(2)}×`,
  }
}

async function platformBench() {
  let platform: RunningPlatform | undefined
  try {
    platform = await startPlatform()
    const token = await platform.token('bench-cache', ['cache:read', 'cache:write'])
    const base = `${platform.url}/v1/cache/bench`
    const load = (op: (i: number) => Promise<void>) =>
      runLoad({ concurrency: CONCURRENCY, durationMs: DURATION_MS, warmupOps: 100, op })
    const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}`)
    await api(
      `${base}/pipeline`,
      token,
      keys.map((key) => ['SET', key, 'x'.repeat(100)]),
    )
    const floor = await load(async () => {
      const response = await fetch(`${platform?.url}/v1/whoami`, {
        headers: { authorization: `Bearer ${token}` },
      })
      await response.arrayBuffer()
    })
    const get = await load((i) => api(base, token, ['GET', keys[i % keys.length]]))
    const set = await load((i) => api(base, token, ['SET', keys[i % keys.length], 'y'.repeat(100)]))
    const pipeGet = await load((i) =>
      api(
        `${base}/pipeline`,
        token,
        Array.from({ length: 100 }, (_, j) => ['GET', keys[(i * 100 + j) % keys.length]]),
      ),
    )
    const pipeSet = await load((i) =>
      api(
        `${base}/pipeline`,
        token,
        Array.from({ length: 100 }, (_, j) => ['SET', keys[(i * 100 + j) % keys.length], 'z']),
      ),
    )
    printTable(
      `Cache over the Upstash wire (3 nodes, ${CONCURRENCY} connections, ${DURATION_MS / 1000} s each)`,
      [
        {
          subject: 'GET /v1/whoami (floor)',
          'requests/s': floor.opsPerSec,
          'commands/s': '–',
          'p50 ms': floor.p50Ms,
          'p99 ms': floor.p99Ms,
          errors: floor.errors,
          'commands/s ÷ floor requests/s': '1.00× (baseline)',
        },
        row('GET hit, 1 per request', get, 1, floor),
        row('SET, 1 per request', set, 1, floor),
        row('GET hit, pipeline of 100', pipeGet, 100, floor),
        row('SET, pipeline of 100', pipeSet, 100, floor),
      ],
    )
  } finally {
    await platform?.stop()
  }
}

structureBench()
hitRatioBench()
await platformBench()

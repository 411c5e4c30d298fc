/**
 * The benchmark harness: a bounded closed-loop load generator and a markdown table.
 * `runLoad` keeps `concurrency` operations in flight until `durationMs` passes or
 * `maxOps` complete, whichever is first, and reports throughput and latency percentiles.
 * Every benchmark compares its subject with a baseline measured by the same harness in
 * the same run; the ratio is the number to read, not the absolute figure.
 */
export interface LoadOptions {
  concurrency: number
  durationMs: number
  maxOps?: number
  /** Operations run before measuring (JIT, connections, caches). */
  warmupOps?: number
  op: (i: number) => Promise<unknown>
}

export interface LoadResult {
  ops: number
  opsPerSec: number
  p50Ms: number
  p99Ms: number
  errors: number
}

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)
  return sortedMs[Math.max(0, index)] ?? Number.NaN
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, maxOps = Number.POSITIVE_INFINITY, warmupOps = 0, op } = options
  for (let i = 0; i < warmupOps; i++) await op(i)
  const latencies: number[] = []
  let started = 0
  let errors = 0
  const begin = performance.now()
  const deadline = begin + durationMs
  async function worker() {
    while (started < maxOps && performance.now() < deadline) {
      const i = started++
      const t0 = performance.now()
      try {
        await op(i)
      } catch {
        errors++
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsedSec = (performance.now() - begin) / 1000
  latencies.sort((a, b) => a - b)
  return {
    ops: latencies.length,
    opsPerSec: latencies.length / elapsedSec,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
  }
}

/** Times a synchronous loop of `iterations` calls; returns operations per second. */
export function opsPerSecond(iterations: number, body: (i: number) => void): number {
  for (let i = 0; i < Math.min(iterations, 1000); i++) body(i)
  const t0 = performance.now()
  for (let i = 0; i < iterations; i++) body(i)
  return iterations / ((performance.now() - t0) / 1000)
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 100 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US')
  return value.toFixed(2)
}

/** A row per subject: `ratio` is filled in against the row named `baseline`. */
export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  const first = rows[0]
  if (!first) return
  const columns = Object.keys(first)
  const cell = (value: string | number | undefined) =>
    typeof value === 'number' ? formatNumber(value) : (value ?? '')
  const lines = [
    `### ${title}`,
    '',
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((column) => cell(row[column])).join(' | ')} |`),
    '',
  ]
  console.log(lines.join('\n'))
}

export function loadRow(
  name: string,
  result: LoadResult,
  baseline?: LoadResult,
): Record<string, string | number> {
  return {
    subject: name,
    'ops/s': result.opsPerSec,
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'vs baseline': baseline ? `${(result.opsPerSec / baseline.opsPerSec).toFixed(2)}×` : '1.00× (baseline)',
  }
}

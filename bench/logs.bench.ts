/**
 * The logs block through the real platform (`npm run dev`'s stack, loopback):
 * 1. ingest: Loki push batches of 1,000 lines (JSON, and snappy protobuf), lines/s and MiB/s;
 * 2. query latency over the ingested lines: a label selector, a word search (FTS5 trigram)
 *    and a field search (field index), each returning a handful of lines out of all of them;
 * 3. storage: bytes per line in the hot tier (SQLite with its indexes) and after compaction
 *    into gzip chunks, against the raw line bytes.
 * Compared with the authenticated no-op floor `GET /v1/whoami` measured in the same run.
 * The line count is bounded (LINES below), not the issue's 1,000,000: see the printed note.
 */

import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { ProtoWriter } from '../workers/platform/protobuf'
import { snappyCompress } from '../workers/platform/snappy'
import { type LoadResult, printTable, runLoad } from './harness'

const BATCH = 1000
const LINES = 200_000
const CONCURRENCY = 4

let platform: RunningPlatform | undefined

function line(i: number): { labels: Record<string, string>; line: string } {
  const user = `u-${i % 50_000}`
  switch (i % 4) {
    case 0:
      return {
        labels: { app: 'nginx', env: 'prod' },
        line: `10.0.${(i >> 8) & 255}.${i & 255} - - [02/Dec/2026:10:00:01 +0000] "GET /api/users/${i % 997} HTTP/1.1" ${i % 50 === 0 ? 500 : 200} ${(i * 7) % 4096} "-" "curl/8.0"`,
      }
    case 1:
      return {
        labels: { app: 'api', env: 'prod' },
        line: JSON.stringify({
          level: i % 40 === 1 ? 'error' : 'info',
          msg: 'request served',
          user_id: user,
          duration_ms: i % 1500,
          http: { method: 'GET', status: 200 },
        }),
      }
    case 2:
      return {
        labels: { app: 'worker', env: 'staging' },
        line: `level=info msg="job done" job_id=j-${i} queue=emails duration=${(i % 100) / 10}`,
      }
    default:
      return {
        labels: { app: 'api', env: 'prod' },
        line:
          i % 1000 === 3
            ? `Error: connect ECONNREFUSED 10.0.0.9:5432\n    at TCPConnectWrap.afterConnect (net.js:1141:16) request=${i}`
            : `GET /healthz 200 ${i % 10}ms`,
      }
  }
}

function batchJson(first: number, baseMs: number): { body: string; bytes: number } {
  const streams = new Map<string, { stream: Record<string, string>; values: Array<[string, string]> }>()
  let bytes = 0
  for (let i = first; i < first + BATCH; i++) {
    const { labels, line: text } = line(i)
    const key = JSON.stringify(labels)
    const stream = streams.get(key) ?? { stream: labels, values: [] }
    streams.set(key, stream)
    stream.values.push([`${BigInt(baseMs + i) * 1_000_000n}`, text])
    bytes += Buffer.byteLength(text)
  }
  return { body: JSON.stringify({ streams: [...streams.values()] }), bytes }
}

function batchProtobuf(first: number, baseMs: number): Uint8Array {
  const writer = new ProtoWriter()
  const byStream = new Map<string, Array<[number, string]>>()
  for (let i = first; i < first + BATCH; i++) {
    const { labels, line: text } = line(i)
    const key = `{${Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ')}}`
    byStream.set(key, [...(byStream.get(key) ?? []), [baseMs + i, text]])
  }
  for (const [labels, entries] of byStream) {
    writer.message(1, (stream) => {
      stream.stringField(1, labels)
      for (const [ms, text] of entries) {
        stream.message(2, (e) =>
          e
            .message(1, (ts) =>
              ts.int64Field(1, BigInt(Math.floor(ms / 1000))).uintField(2, (ms % 1000) * 1_000_000),
            )
            .stringField(2, text),
        )
      }
    })
  }
  return snappyCompress(writer.finish())
}

async function call(token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${platform?.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  })
  if (!response.ok && response.status !== 204)
    throw new Error(`${path}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`)
  return response
}

const mib = (bytes: number) => bytes / 1024 / 1024

async function main() {
  platform = await startPlatform({
    LOGS_REQUEST_LOGS: 'off',
    LOGS_LINES_PER_SECOND: '100000',
    LOGS_KIB_PER_SECOND: '100000',
  })
  const token = await platform.token('bench-logs', ['logs:read', 'logs:write'])
  const floor = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 3000,
    warmupOps: 20,
    op: () => call(token, '/v1/whoami'),
  })

  // 1. Ingest. The timestamps sit in the last few minutes, so all lines fall in today's shards.
  const baseMs = Date.now() - LINES - 60_000
  const total = LINES / BATCH
  let rawBytes = 0
  const json = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 120_000,
    maxOps: total / 2,
    op: async (i) => {
      const { body, bytes } = batchJson(i * BATCH, baseMs)
      rawBytes += bytes
      await call(token, '/loki/api/v1/push', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    },
  })
  const jsonBytes = rawBytes
  const proto = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 120_000,
    maxOps: total / 2,
    op: async (i) => {
      const first = (total / 2 + i) * BATCH
      for (let j = first; j < first + BATCH; j++) rawBytes += Buffer.byteLength(line(j).line)
      await call(token, '/loki/api/v1/push', {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: batchProtobuf(first, baseMs),
      })
    },
  })
  const ingestRow = (subject: string, result: LoadResult, bytes: number) => ({
    subject,
    'batches/s': result.opsPerSec,
    'lines/s': result.opsPerSec * BATCH,
    'MiB/s (line bytes)': mib((bytes / result.ops) * result.opsPerSec),
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'lines/s ÷ whoami requests/s': `${((result.opsPerSec * BATCH) / floor.opsPerSec).toFixed(1)}×`,
  })
  printTable(`Ingest, batches of ${BATCH} lines, ${CONCURRENCY} concurrent pushes`, [
    {
      subject: 'GET /v1/whoami (baseline)',
      'batches/s': '–',
      'lines/s': '–',
      'MiB/s (line bytes)': '–',
      'p50 ms': floor.p50Ms,
      'p99 ms': floor.p99Ms,
      errors: floor.errors,
      'lines/s ÷ whoami requests/s': `${floor.opsPerSec.toFixed(0)} req/s`,
    },
    ingestRow('Loki push, JSON', json, jsonBytes),
    ingestRow('Loki push, snappy protobuf', proto, rawBytes - jsonBytes),
  ])

  // 2. Query latency over everything ingested.
  const window = {
    start: `${BigInt(baseMs - 1000) * 1_000_000n}`,
    end: `${BigInt(Date.now() + 1000) * 1_000_000n}`,
    limit: '100',
  }
  const queries: Array<[string, string]> = [
    ['label selector {app="worker"} (limit 100)', '{app="worker", env="staging"}'],
    ['word search |= "ECONNREFUSED"', '{env="prod"} |= "ECONNREFUSED"'],
    ['field search | json | user_id="u-4241"', '{app="api"} | json | user_id="u-4241"'],
    ['metric: sum by (app) (count_over_time[5m]), 1 step', 'sum by (app) (count_over_time({env=~".+"}[5m]))'],
  ]
  const rows: Array<Record<string, string | number>> = [
    {
      subject: 'GET /v1/whoami (baseline)',
      lines: '–',
      'p50 ms': floor.p50Ms,
      'p99 ms': floor.p99Ms,
      'p50 ÷ whoami p50': '1.00×',
    },
  ]
  for (const [subject, query] of queries) {
    let found = 0
    const path = query.startsWith('sum') ? '/loki/api/v1/query' : '/loki/api/v1/query_range'
    const result = await runLoad({
      concurrency: 1,
      durationMs: 4000,
      maxOps: 40,
      warmupOps: 2,
      op: async () => {
        const response = await call(token, `${path}?${new URLSearchParams({ ...window, query })}`)
        const { data } = (await response.json()) as { data: { result: Array<{ values?: unknown[] }> } }
        found = data.result.reduce((sum, s) => sum + (s.values?.length ?? 1), 0)
      },
    })
    rows.push({
      subject,
      lines: found,
      'p50 ms': result.p50Ms,
      'p99 ms': result.p99Ms,
      'p50 ÷ whoami p50': `${(result.p50Ms / floor.p50Ms).toFixed(1)}×`,
    })
  }
  printTable(`Query latency over ${LINES.toLocaleString('en-US')} lines (one at a time)`, rows)

  // 3. Storage: the hot tier now, then a tenant whose lines are compacted by the shard's alarm.
  type Shard = {
    lines: number
    archivedLines: number
    rawBytes: number
    storedBytes: number
    sqliteBytes: number
    chunks: number
  }
  const shards = async (t: string) =>
    ((await (await call(t, '/v1/logs/shards')).json()) as { shards: Shard[] }).shards
  const hot = await shards(token)
  const hotBytes = hot.reduce((sum, s) => sum + s.sqliteBytes, 0)
  const hotLines = hot.reduce((sum, s) => sum + s.lines, 0)

  const archiver = await platform.token('bench-logs-archive', ['logs:read', 'logs:write'])
  await call(archiver, '/v1/logs/settings', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"compactAfterHours":0}',
  })
  const oldDay = Math.floor(Date.now() / 86_400_000 - 3) * 86_400_000
  const archiveLines = 20_000
  let archiveRaw = 0
  for (let first = 0; first < archiveLines; first += BATCH) {
    const { body, bytes } = batchJson(first, oldDay)
    archiveRaw += bytes
    await call(archiver, '/loki/api/v1/push', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
  }
  // The shard compacts a minute after its last write (its alarm); wait for it, bounded.
  const deadline = Date.now() + 150_000
  let archived: Shard[] = []
  while (Date.now() < deadline) {
    archived = await shards(archiver)
    if (archived.length > 0 && archived.every((s) => s.archivedLines === s.lines)) break
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
  const chunkBytes = archived.reduce((sum, s) => sum + s.storedBytes, 0)
  const chunkLines = archived.reduce((sum, s) => sum + s.archivedLines, 0)
  const afterSqlite = archived.reduce((sum, s) => sum + s.sqliteBytes, 0)
  printTable('Storage per line', [
    { tier: 'raw line bytes (baseline)', lines: hotLines, 'bytes/line': rawBytes / LINES, 'vs raw': '1.00×' },
    {
      tier: 'hot: SQLite with label, word (trigram) and field indexes',
      lines: hotLines,
      'bytes/line': hotBytes / hotLines,
      'vs raw': `${(hotBytes / hotLines / (rawBytes / LINES)).toFixed(2)}×`,
    },
    {
      tier: 'archive: gzip NDJSON chunks in object storage',
      lines: chunkLines,
      'bytes/line': chunkLines ? chunkBytes / chunkLines : Number.NaN,
      'vs raw': chunkLines
        ? `${(chunkBytes / chunkLines / (archiveRaw / archiveLines)).toFixed(2)}×`
        : 'not compacted in time',
    },
    {
      tier: 'archive: the SQLite file after compaction (freed pages stay allocated for reuse)',
      lines: chunkLines,
      'bytes/line': chunkLines ? afterSqlite / chunkLines : Number.NaN,
      'vs raw': chunkLines ? `${(afterSqlite / chunkLines / (archiveRaw / archiveLines)).toFixed(2)}×` : '–',
    },
  ])
  console.log(
    `Lines: ${LINES.toLocaleString('en-US')} for ingest and queries (the issue asks for 1,000,000; bounded here to keep the run ` +
      'short on a shared 2-core machine), 20,000 for compaction. Numbers are noisy while other work runs.',
  )
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => platform?.stop())

/**
 * Client-side error ingest through the real platform (`npm run dev`'s stack, loopback):
 * Sentry envelopes to `POST /api/{project}/envelope/` (DSN key in the query, as browsers
 * send them), events/s against the authenticated no-op floor `GET /v1/whoami` measured in
 * the same run. Rows: one event per envelope; ten per envelope (one request, ten issues
 * updated in one transaction); ten per envelope whose frames are de-minified with an
 * uploaded source map. Events cycle over 50 groups, as a real app's errors repeat.
 * Bounded in count and time.
 */
import { SourceMapGenerator } from 'source-map-js'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { printTable, runLoad } from './harness'

const CONCURRENCY = 4
const RELEASE = 'bench@1'
let platform: RunningPlatform | undefined

function event(i: number, minified: boolean) {
  const g = i % 50
  const file = minified ? 'https://app.example/static/app.min.js' : 'https://app.example/static/app.js'
  return {
    platform: 'javascript',
    release: RELEASE,
    environment: 'bench',
    user: { id: `u${i % 200}` },
    tags: { browser: 'Chrome', route: `/page/${g}` },
    breadcrumbs: {
      values: Array.from({ length: 10 }, (_, k) => ({ category: 'ui.click', message: `b${k}` })),
    },
    exception: {
      values: [
        {
          type: 'TypeError',
          value: `Cannot read properties of undefined (reading 'x${g}')`,
          stacktrace: {
            frames: Array.from({ length: 8 }, (_, k) => ({
              filename: file,
              function: minified ? 'a' : `fn${g}_${k}`,
              lineno: minified ? 1 : 10 + k,
              colno: minified ? 1 + ((g * 8 + k) % 400) * 10 : 5,
              in_app: true,
            })),
          },
        },
      ],
    },
  }
}

function envelope(events: unknown[]): string {
  const lines = ['{}']
  for (const e of events) {
    const body = JSON.stringify(e)
    lines.push(JSON.stringify({ type: 'event', length: Buffer.byteLength(body) }), body)
  }
  return lines.join('\n')
}

function sourceMap(): string {
  const gen = new SourceMapGenerator({ file: 'app.min.js' })
  for (let c = 0; c < 400; c++)
    gen.addMapping({
      generated: { line: 1, column: c * 10 },
      original: { line: c + 1, column: 2 },
      source: `src/module${c % 20}.ts`,
      name: `original${c}`,
    })
  return gen.toString()
}

async function main() {
  platform = await startPlatform()
  const url = platform.url
  const token = await platform.token('bench-sentry', ['monitoring:read', 'monitoring:write'])
  const auth = { authorization: `Bearer ${token}` }
  const created = await fetch(`${url}/v1/monitoring/projects`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `bench-${Date.now()}`,
      eventsPerMinute: 1_000_000,
      alerts: { newIssues: false },
    }),
  })
  const project = (await created.json()) as { id: string; keys: Array<{ publicKey: string }> }
  const key = project.keys[0]?.publicKey
  const upload = await fetch(
    `${url}/v1/monitoring/projects/${project.id}/releases/${RELEASE}/files?name=${encodeURIComponent('~/static/app.min.js.map')}`,
    { method: 'POST', headers: auth, body: sourceMap() },
  )
  if (upload.status !== 201) throw new Error(`upload: ${upload.status}`)
  const ingestUrl = `${url}/api/${project.id}/envelope/?sentry_key=${key}&sentry_version=7`

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
  const ingest = (perEnvelope: number, minified: boolean) => {
    const bodies = Array.from({ length: 100 }, (_, i) =>
      envelope(Array.from({ length: perEnvelope }, (_, k) => event(i * perEnvelope + k, minified))),
    )
    return runLoad({
      concurrency: CONCURRENCY,
      durationMs: 8000,
      maxOps: 2000,
      warmupOps: 5,
      op: async (i) => {
        const r = await fetch(ingestUrl, {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8' },
          body: bodies[i % bodies.length],
        })
        await r.arrayBuffer()
        if (r.status !== 200) throw new Error(String(r.status))
      },
    })
  }
  const runs: Array<[string, number, Awaited<ReturnType<typeof runLoad>>]> = [
    ['1 event / envelope', 1, await ingest(1, false)],
    ['10 events / envelope', 10, await ingest(10, false)],
    ['10 events / envelope, source-mapped frames', 10, await ingest(10, true)],
  ]
  printTable(`Sentry envelope ingest, ${CONCURRENCY} concurrent`, [
    {
      subject: 'GET /v1/whoami (baseline)',
      'req/s': floor.opsPerSec.toFixed(0),
      'p50 ms': floor.p50Ms.toFixed(2),
      'p99 ms': floor.p99Ms.toFixed(2),
      errors: floor.errors,
      'events/s': '-',
      'events/s ÷ whoami req/s': '-',
    },
    ...runs.map(([subject, per, r]) => ({
      subject: `POST /api/{project}/envelope/: ${subject}`,
      'req/s': r.opsPerSec.toFixed(0),
      'p50 ms': r.p50Ms.toFixed(2),
      'p99 ms': r.p99Ms.toFixed(2),
      errors: r.errors,
      'events/s': (r.opsPerSec * per).toFixed(0),
      'events/s ÷ whoami req/s': `${((r.opsPerSec * per) / floor.opsPerSec).toFixed(2)}×`,
    })),
  ])
  const issues = (await (
    await fetch(`${url}/v1/monitoring/projects/${project.id}/issues?limit=100`, { headers: auth })
  ).json()) as {
    issues: Array<{ stacktrace: Array<{ filename: string }> }>
  }
  const mapped = issues.issues.filter((i) => i.stacktrace.some((f) => f.filename.startsWith('src/'))).length
  console.log(
    `\n${issues.issues.length} issues; ${mapped} with source-mapped frames. Bounded runs on a shared 2-core machine.`,
  )
}

main()
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => platform?.stop())

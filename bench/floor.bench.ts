/**
 * The floor every block is measured against: `GET /healthz` (no auth) and the
 * authenticated no-op `GET /v1/whoami` through the local runtime (`npm run dev`'s stack:
 * wrangler dev / workerd), 32 concurrent connections, bounded in time. A bare Node HTTP
 * server answering the same loopback client shows what the client itself can do.
 */
import { createServer } from 'node:http'
import { type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 32
const DURATION_MS = 6_000

async function measureGet(url: string, headers: Record<string, string> = {}) {
  return runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 200,
    op: async () => {
      const response = await fetch(url, { headers })
      await response.arrayBuffer()
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
    },
  })
}

const bare = createServer((_, res) => res.end('{"status":"ok"}'))
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve))
const barePort = (bare.address() as { port: number }).port

let platform: RunningPlatform | undefined
try {
  platform = await startPlatform()
  const token = await platform.token('bench', ['admin'])
  const bareNode = await measureGet(`http://127.0.0.1:${barePort}/`)
  const healthz = await measureGet(`${platform.url}/healthz`)
  const whoami = await measureGet(`${platform.url}/v1/whoami`, { authorization: `Bearer ${token}` })
  printTable(
    `Floor: requests through the local runtime (${CONCURRENCY} connections, ${DURATION_MS / 1000} s each)`,
    [
      loadRow('GET /healthz (baseline)', healthz),
      loadRow('GET /v1/whoami (JWT verified)', whoami, healthz),
      loadRow('bare node:http, same client', bareNode, healthz),
    ],
  )
} finally {
  await platform?.stop()
  bare.close()
}

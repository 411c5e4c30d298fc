/**
 * The load balancer: requests/s and added latency through `/v1/lb/{name}/proxy/*` (local
 * runtime, round robin over three node:http origins) against the same origins called
 * directly, the platform's authenticated no-op floor (`/v1/whoami`), and HAProxy (Debian's
 * `haproxy`, round robin over the same origins); then failover: one of three origins dies
 * under load, and we count the requests clients saw fail and the time until it is ejected.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { type Origin, startOrigin } from '../test/support/origin-farm'
import { loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 5_000

async function measure(url: string, headers: Record<string, string> = {}) {
  return runLoad({
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    warmupOps: 100,
    op: async () => {
      const response = await fetch(url, { headers })
      await response.arrayBuffer()
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
    },
  })
}

async function startHaproxy(origins: Origin[]) {
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-haproxy-'))
  const port = await freePort()
  const config = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  option http-keep-alive',
    `frontend web`,
    `  bind 127.0.0.1:${port}`,
    '  default_backend origins',
    'backend origins',
    '  balance roundrobin',
    ...origins.map((o) => `  server ${o.name} 127.0.0.1:${o.port} check inter 1s fall 2 rise 2`),
  ].join('\n')
  await writeFile(join(dir, 'haproxy.cfg'), `${config}\n`)
  const child = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    )
    if (up) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function failover(platform: RunningPlatform, token: string, auth: Record<string, string>) {
  const origins = await Promise.all(['f0', 'f1', 'f2'].map((n) => startOrigin(n)))
  const headers = { ...auth, 'content-type': 'application/json' }
  await fetch(`${platform.url}/v1/lb/pools/failover`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ origins: origins.map((o) => ({ name: o.name, url: o.url })) }),
  })
  await fetch(`${platform.url}/v1/lb/balancers/failover`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ pools: ['failover'] }),
  })
  let killedAt = 0
  let ejectedAfterMs = Number.NaN
  const watch = (async () => {
    while (Number.isNaN(ejectedAfterMs)) {
      await new Promise((r) => setTimeout(r, 20))
      if (!killedAt) continue
      const health = (await (
        await fetch(`${platform.url}/v1/lb/pools/failover/health`, { headers: auth })
      ).json()) as {
        origins: Array<{ name: string; ejectedUntil: number | null }>
      }
      if (health.origins.find((o) => o.name === 'f1')?.ejectedUntil)
        ejectedAfterMs = performance.now() - killedAt
      if (performance.now() - killedAt > 10_000) break
    }
  })()
  setTimeout(() => {
    killedAt = performance.now()
    void origins[1]?.down()
  }, 1_000)
  const result = await runLoad({
    concurrency: CONCURRENCY,
    durationMs: 4_000,
    op: async () => {
      const response = await fetch(`${platform.url}/v1/lb/failover/proxy/`, { headers: auth })
      await response.arrayBuffer()
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
    },
  })
  await watch
  for (const o of origins) await o.down().catch(() => undefined)
  void token
  return { ...result, ejectedAfterMs }
}

const origins = await Promise.all(['b0', 'b1', 'b2'].map((n) => startOrigin(n)))
let platform: RunningPlatform | undefined
let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined
try {
  platform = await startPlatform()
  const token = await platform.token('lb-bench', ['admin'])
  const auth = { authorization: `Bearer ${token}` }
  const headers = { ...auth, 'content-type': 'application/json' }
  await fetch(`${platform.url}/v1/lb/pools/bench`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ origins: origins.map((o) => ({ name: o.name, url: o.url })) }),
  })
  await fetch(`${platform.url}/v1/lb/balancers/bench`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ pools: ['bench'] }),
  })
  haproxy = await startHaproxy(origins)
  const direct = await measure(`${origins[0]?.url}/`)
  const viaHaproxy = await measure(`${haproxy.url}/`)
  const floor = await measure(`${platform.url}/v1/whoami`, auth)
  const viaLb = await measure(`${platform.url}/v1/lb/bench/proxy/`, auth)
  const added = (r: typeof direct) =>
    `${(r.p50Ms - direct.p50Ms).toFixed(2)} / ${(r.p99Ms - direct.p99Ms).toFixed(2)}`
  printTable(
    `Load balancer: round robin over 3 node:http origins (${CONCURRENCY} connections, ${DURATION_MS / 1000} s each)`,
    [
      { ...loadRow('origin called directly (baseline)', direct), 'added p50/p99 ms': '0 / 0' },
      { ...loadRow('HAProxy 2.6 roundrobin', viaHaproxy, direct), 'added p50/p99 ms': added(viaHaproxy) },
      { ...loadRow('platform floor GET /v1/whoami', floor, direct), 'added p50/p99 ms': added(floor) },
      { ...loadRow('edgeblocks /v1/lb/{name}/proxy', viaLb, direct), 'added p50/p99 ms': added(viaLb) },
    ],
  )
  const result = await failover(platform, token, auth)
  printTable('Failover: one of three origins killed 1 s into 4 s of load (defaults: 2 retries, budget 20%)', [
    {
      requests: result.ops,
      'client errors': result.errors,
      'error rate': `${((result.errors / Math.max(1, result.ops)) * 100).toFixed(2)}%`,
      'ms from kill to ejection': Number.isNaN(result.ejectedAfterMs)
        ? 'not ejected'
        : Math.round(result.ejectedAfterMs),
    },
  ])
} finally {
  await haproxy?.stop()
  await platform?.stop()
  for (const o of origins) await o.down().catch(() => undefined)
}

/**
 * The key-value store:
 * 1. GET and PUT per consistency level (eventual, quorum N=3 R=2 W=2, strong) through the
 *    real platform (`npm run dev`'s stack, three storage node processes, loopback), against
 *    the authenticated no-op floor `GET /v1/whoami` measured in the same run;
 * 2. strong-mode PUT/GET against etcd (Debian `etcd-server`, one local member) through its
 *    HTTP/JSON gateway (`/v3/kv/put`, `/v3/kv/range`, linearizable reads), same load;
 * 3. anti-entropy: time and bytes to repair a storage node that missed 10,000 writes out of
 *    20,000 (three libSQL server processes, the store's own anti-entropy), against the
 *    bytes of copying every version, and against a run with nothing to repair.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { freePort, type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { startStorageNodes } from '../scripts/storage-nodes'
import { runAntiEntropy, versionBytes } from '../workers/kv/anti-entropy'
import { BUCKETS, ensureSchema } from '../workers/kv/replica'
import { antiEntropyPort, storeMany } from '../workers/kv/replica-ranges'
import type { Version } from '../workers/kv/versions'
import { type LoadResult, loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 16
const DURATION_MS = 3_000

async function check(response: Response): Promise<void> {
  const text = await response.text()
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`)
}

async function startEtcd(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const child = spawn(
    'etcd',
    [
      '--name',
      'bench',
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `bench=http://127.0.0.1:${peer}`,
    ],
    { stdio: 'ignore' },
  )
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error('etcd did not start')
}

async function platformSection(platform: RunningPlatform, etcdUrl: string) {
  const token = await platform.token('kv-bench', ['kv:read', 'kv:write'])
  const auth = { authorization: `Bearer ${token}` }
  const api = `${platform.url}/v1/kv/namespaces/bench`
  await check(
    await fetch(api, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"replicas":3,"readQuorum":2,"writeQuorum":2}',
    }),
  )
  const value = 'x'.repeat(100)
  for (let i = 0; i < 100; i++)
    await check(await fetch(`${api}/values/read-${i}`, { method: 'PUT', headers: auth, body: value }))
  const load = (op: (i: number) => Promise<unknown>) =>
    runLoad({ concurrency: CONCURRENCY, durationMs: DURATION_MS, warmupOps: 20, op })
  const floor = await load(async () => check(await fetch(`${platform.url}/v1/whoami`, { headers: auth })))
  const results: Array<[string, LoadResult]> = []
  for (const level of ['eventual', 'quorum', 'strong']) {
    results.push([
      `PUT ${level}`,
      await load(async (i) =>
        check(
          await fetch(`${api}/values/w-${level}-${i}?consistency=${level}`, {
            method: 'PUT',
            headers: auth,
            body: value,
          }),
        ),
      ),
    ])
    results.push([
      `GET ${level}`,
      await load(async (i) =>
        check(await fetch(`${api}/values/read-${i % 100}?consistency=${level}`, { headers: auth })),
      ),
    ])
  }
  printTable(
    `GET / PUT per consistency level (${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s each, 100-byte values)`,
    [
      loadRow('GET /v1/whoami (baseline)', floor),
      ...results.map(([name, result]) => loadRow(name, result, floor)),
    ],
  )

  const b64 = (text: string) => Buffer.from(text).toString('base64')
  const etcdPut = await load(async (i) =>
    check(
      await fetch(`${etcdUrl}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`w-${i}`), value: b64(value) }),
      }),
    ),
  )
  const etcdGet = await load(async (i) =>
    check(
      await fetch(`${etcdUrl}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`w-${i % 100}`) }),
      }),
    ),
  )
  const strongPut = results.find(([name]) => name === 'PUT strong')?.[1] as LoadResult
  const strongGet = results.find(([name]) => name === 'GET strong')?.[1] as LoadResult
  printTable('Strong mode vs etcd 3.4 (one member, HTTP/JSON gateway, linearizable reads; same load)', [
    loadRow('etcd PUT /v3/kv/put (baseline)', etcdPut),
    loadRow('kv PUT ?consistency=strong', strongPut, etcdPut),
    loadRow('etcd GET /v3/kv/range (baseline)', etcdGet),
    loadRow('kv GET ?consistency=strong', strongGet, etcdGet),
  ])
}

async function antiEntropySection(dir: string) {
  const nodes = await startStorageNodes({ count: 3, dataDir: join(dir, 'ae') })
  try {
    const ids = ['node-0', 'node-1', 'node-2']
    const clients = nodes.urls.map((url) => createClient({ url }))
    for (const [i, client] of clients.entries()) await ensureSchema(client as never, ids[i] as string)
    const ns = 'bench/ae/1'
    const version = (i: number): Version => ({
      id: `node-0:${i + 1}`,
      node: 'node-0',
      counter: i + 1,
      context: {},
      hlc: '000000000000000-0000000000',
      deleted: false,
      value: new TextEncoder().encode(`value-${i}`.padEnd(100, '.')),
      contentType: 'application/octet-stream',
      metadata: null,
      expiresAt: null,
    })
    let fullBytes = 0
    const perNode: Array<Array<{ key: string; versions: Version[] }>> = [[], [], []]
    for (let i = 0; i < 20_000; i++) {
      const key = `key-${i}`
      const v = version(i)
      fullBytes += versionBytes({ ...v, key })
      const targets = i < 10_000 ? [0, 1, 2] : [0, 1] // node-2 misses the second 10,000 writes
      for (const t of targets) perNode[t]?.push({ key, versions: [v] })
    }
    await Promise.all(
      perNode.map(async (items, t) => {
        for (let i = 0; i < items.length; i += 200)
          await storeMany(clients[t] as never, ns, items.slice(i, i + 200), 'siblings', 0)
      }),
    )
    const port = antiEntropyPort(async (node) => clients[ids.indexOf(node)] as never, ns, 'siblings', 0)
    const spec = {
      tenant: 'bench',
      name: 'ae',
      ns,
      members: ids,
      replicas: 3,
      policy: 'siblings' as const,
      graceMs: 86_400_000,
    }
    const t0 = performance.now()
    const repair = await runAntiEntropy(port, spec, BUCKETS, Date.now())
    const repairMs = performance.now() - t0
    const t1 = performance.now()
    const idle = await runAntiEntropy(port, spec, BUCKETS, Date.now())
    const idleMs = performance.now() - t1
    const converged = new Set(Object.values(repair.roots)).size === 1
    printTable(
      'Anti-entropy: repair a node that missed 10,000 of 20,000 writes (3 libSQL node processes, N=3)',
      [
        {
          subject: 'copy every version (baseline)',
          'time ms': '–',
          bytes: fullBytes,
          'differing leaves': '–',
          'versions copied': 20_000,
          'bytes vs baseline': '1.00×',
        },
        {
          subject: `Merkle repair (roots equal after: ${converged})`,
          'time ms': repairMs,
          bytes: repair.bytesExchanged,
          'differing leaves': repair.differingLeaves,
          'versions copied': repair.versionsCopied,
          'bytes vs baseline': `${(repair.bytesExchanged / fullBytes).toFixed(2)}×`,
        },
        {
          subject: 'Merkle run with nothing to repair',
          'time ms': idleMs,
          bytes: idle.bytesExchanged,
          'differing leaves': idle.differingLeaves,
          'versions copied': idle.versionsCopied,
          'bytes vs baseline': `${(idle.bytesExchanged / fullBytes).toFixed(4)}×`,
        },
      ],
    )
  } finally {
    await nodes.stop()
  }
}

const dir = await mkdtemp(join(tmpdir(), 'kv-bench-'))
let platform: RunningPlatform | undefined
let etcd: ChildProcess | undefined
try {
  const started = await startEtcd(dir)
  etcd = started.child
  platform = await startPlatform()
  await platformSection(platform, started.url)
  await platform.stop()
  platform = undefined
  await antiEntropySection(dir)
} finally {
  await platform?.stop()
  etcd?.kill('SIGTERM')
  await rm(dir, { recursive: true, force: true })
}

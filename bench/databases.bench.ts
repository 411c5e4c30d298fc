/**
 * The databases block: point read and insert with `@libsql/client` through
 * `/v1/databases/{db}/` (the real platform as `npm run dev` starts it, loopback) against the
 * same client on the same storage node's libSQL server directly (another namespace), same
 * load, measured in the same run: the platform's overhead. The authenticated no-op floor
 * `GET /v1/whoami` is printed for reference.
 *
 * Replication: the same point read served by a read replica (`Edgeblocks-Replica: nearest`,
 * on another storage node) against the primary; then inserts at full speed while the
 * replicator keeps the replica in step, with the replica's commit-to-apply lag (p50/p99,
 * as the replicator measures it) and how far behind it was at the end of the load.
 */
import { type Client, createClient } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { formatNumber, loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 8
const DURATION_MS = 3_000
const ROWS = 1_000

async function seed(client: Client): Promise<void> {
  await client.execute('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
  const rows = Array.from({ length: ROWS }, (_, i) => ({
    sql: 'INSERT INTO items (id, name) VALUES (?, ?)',
    args: [i + 1, `item-${i + 1}`],
  }))
  for (let i = 0; i < rows.length; i += 250) await client.batch(rows.slice(i, i + 250), 'write')
}

const platform = await startPlatform()
try {
  const token = await platform.token('databases-bench', ['databases:read', 'databases:write'])
  const created = await fetch(`${platform.url}/v1/databases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  })
  if (!created.ok) throw new Error(`create: HTTP ${created.status} ${await created.text()}`)
  const view = (await created.json()) as { url: string; node: string }
  const nodeUrl = platform.storageNodeUrls[Number(view.node.replace('node-', ''))]
  if (!nodeUrl) throw new Error(`no URL for storage node ${view.node}`)
  const viaPlatform = createClient({ url: `${platform.url}${view.url}`, authToken: token })
  const direct = createClient({ url: `${nodeUrl.replace(/\/$/, '')}/db/benchdirect/` })
  await seed(viaPlatform)
  await seed(direct)

  const load = (op: () => Promise<unknown>) =>
    runLoad({
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
      warmupOps: 20,
      op: async () => void (await op()),
    })
  const auth = { authorization: `Bearer ${token}` }
  const floor = await load(async () => (await fetch(`${platform.url}/v1/whoami`, { headers: auth })).text())
  const read = (client: Client) => () =>
    client.execute({
      sql: 'SELECT name FROM items WHERE id = ?',
      args: [1 + Math.floor(Math.random() * ROWS)],
    })
  const insert = (client: Client) => () =>
    client.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['inserted'] })
  const directRead = await load(read(direct))
  const platformRead = await load(read(viaPlatform))
  const directInsert = await load(insert(direct))
  const platformInsert = await load(insert(viaPlatform))
  printTable(
    `@libsql/client point read / insert, ${CONCURRENCY} concurrent, ${DURATION_MS / 1000} s each (loopback)`,
    [
      loadRow('GET /v1/whoami (platform floor, reference)', floor),
      loadRow('read: libSQL server directly (baseline)', directRead),
      loadRow('read: /v1/databases/{db}', platformRead, directRead),
      loadRow('insert: libSQL server directly (baseline)', directInsert),
      loadRow('insert: /v1/databases/{db}', platformInsert, directInsert),
    ],
  )

  // ---- replication
  const api = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${platform.url}/v1/databases/bench${path}`, {
      ...init,
      headers: { ...auth, 'content-type': 'application/json' },
    })
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  const replica = await api('/replicas', { method: 'POST', body: '{}' })
  const replicaPath = `/replicas/${replica.id as string}`
  for (let i = 0; i < 600 && (await api(replicaPath)).state !== 'ready'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  let servedByReplica = 0
  let replicaRequests = 0
  const viaReplica = createClient({
    url: `${platform.url}${view.url}`,
    authToken: token,
    fetch: async (input: Request | string | URL, init?: RequestInit) => {
      const request = new Request(input, init)
      request.headers.set('edgeblocks-replica', 'nearest')
      const response = await fetch(request)
      replicaRequests++
      if (response.headers.get('edgeblocks-served-by')?.startsWith('replica:')) servedByReplica++
      return response
    },
  })
  const primaryRead = await load(read(viaPlatform))
  const replicaRead = await load(read(viaReplica))
  const underLoad = await load(insert(viaPlatform))
  const lagged = await api(replicaPath)
  let caughtUpMs = 0
  const started = Date.now()
  while ((await api(replicaPath)).lagChanges !== 0 && Date.now() - started < 30_000) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  caughtUpMs = Date.now() - started
  const lag = await api(replicaPath)
  printTable(
    `Read replica (node ${replica.node as string}) vs primary, ${CONCURRENCY} concurrent, ${DURATION_MS / 1000} s each`,
    [
      loadRow('read: primary (baseline)', primaryRead),
      loadRow(
        `read: replica (${formatNumber((100 * servedByReplica) / Math.max(1, replicaRequests))}% served by it)`,
        replicaRead,
        primaryRead,
      ),
      loadRow('insert with a replica (vs insert before it, table above)', underLoad, platformInsert),
    ],
  )
  printTable('Replication lag under the insert load (commit on the primary → applied on the replica)', [
    {
      'lag p50 ms': lag.lagP50Ms as number,
      'lag p99 ms': lag.lagP99Ms as number,
      'changes behind at end of load': lagged.lagChanges as number,
      'caught up after load, ms': caughtUpMs,
    },
  ])
} finally {
  await platform.stop()
}

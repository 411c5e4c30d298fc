/**
 * Failover's price on writes: inserts with `@libsql/client` through `/v1/databases/{db}/`
 * (the real platform as `npm run dev` starts it, loopback) into a database with an
 * asynchronous read replica (baseline) and into one with a synchronous replica (each write
 * acknowledged only once the replica applied it), same load, same run; at 1 and at 8
 * concurrent writers (concurrent writes share a push to the replica). Then the duration of
 * a switchover (`POST /v1/databases/{db}/failover`) of the synchronous database.
 */
import { type Client, createClient } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { loadRow, printTable, runLoad } from './harness'

const DURATION_MS = 3_000

const platform = await startPlatform()
try {
  const token = await platform.token('failover-bench', ['databases:read', 'databases:write'])
  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${platform.url}/v1/databases${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  const database = async (name: string, synchronous: boolean): Promise<Client> => {
    const view = await api('', { name })
    const client = createClient({ url: `${platform.url}${view.url as string}`, authToken: token })
    await client.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
    await api(`/${name}/replicas`, { synchronous })
    return client
  }
  const asyncDb = await database('bench-async', false)
  const syncDb = await database('bench-sync', true)
  const insert = (client: Client) => async () =>
    void (await client.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['inserted'] }))
  const rows = []
  for (const concurrency of [1, 8]) {
    const load = (client: Client) =>
      runLoad({ concurrency, durationMs: DURATION_MS, warmupOps: 20, op: insert(client) })
    const baseline = await load(asyncDb)
    const synchronous = await load(syncDb)
    rows.push(
      loadRow(`insert, ${concurrency} concurrent: asynchronous replica (baseline)`, baseline),
      loadRow(`insert, ${concurrency} concurrent: synchronous replica`, synchronous, baseline),
    )
  }
  printTable(`@libsql/client inserts, ${DURATION_MS / 1000} s each (loopback)`, rows)
  const started = performance.now()
  const switched = await api('/bench-sync/failover')
  const switchMs = performance.now() - started
  const after = await runLoad({ concurrency: 1, durationMs: 1_000, warmupOps: 0, op: insert(syncDb) })
  printTable('Switchover of the synchronous database', [
    {
      'switchover ms': Math.round(switchMs),
      'new epoch': switched.epoch as number,
      'inserts/s right after': Math.round(after.opsPerSec),
      'errors right after': after.errors,
    },
  ])
} finally {
  await platform.stop()
}

/**
 * Partitioned databases: what scatter-gather costs as the shard count grows. Through
 * `/v1/databases/{db}/` with `@libsql/client` (the platform as `npm run dev` starts it), the
 * same 2,000 rows in an unpartitioned database and in databases of 2, 4 and 8 shards; per
 * database a pinned point read (one shard), a scattered `count(*)`/`sum()` and a scattered
 * `ORDER BY … LIMIT 10`. Ratios are against the unpartitioned database's same query.
 */
import { type Client, createClient } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { type LoadResult, loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 8
const DURATION_MS = 2_000
const ROWS = 2_000

const platform = await startPlatform()
try {
  const token = await platform.token('partitions-bench', ['databases:read', 'databases:write'])
  const open = async (name: string, shards?: number): Promise<Client> => {
    const partitioning = shards ? { shards, tables: { items: { key: 'id', by: 'hash' } } } : undefined
    const created = await fetch(`${platform.url}/v1/databases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, partitioning }),
    })
    if (!created.ok) throw new Error(`create: HTTP ${created.status} ${await created.text()}`)
    const client = createClient({
      url: `${platform.url}${((await created.json()) as { url: string }).url}`,
      authToken: token,
    })
    await client.execute(
      'CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, n INTEGER NOT NULL)',
    )
    for (let id = 1; id <= ROWS; id++)
      await client.execute({
        sql: 'INSERT INTO items (id, grp, n) VALUES (?, ?, ?)',
        args: [id, id % 10, (id * 7919) % 1000],
      })
    return client
  }
  const queries = {
    'pinned point read': (c: Client) =>
      c.execute({ sql: 'SELECT n FROM items WHERE id = ?', args: [1 + Math.floor(Math.random() * ROWS)] }),
    'scatter count/sum': (c: Client) => c.execute('SELECT count(*), sum(n) FROM items WHERE grp = 3'),
    'scatter top 10': (c: Client) => c.execute('SELECT id, n FROM items ORDER BY n DESC, id LIMIT 10'),
  }
  const load = (op: () => Promise<unknown>) =>
    runLoad({
      concurrency: CONCURRENCY,
      durationMs: DURATION_MS,
      warmupOps: 10,
      op: async () => void (await op()),
    })
  const databases: Array<[string, Client]> = [['unpartitioned', await open('plain')]]
  for (const shards of [2, 4, 8]) databases.push([`${shards} shards`, await open(`p${shards}`, shards)])
  const rows: Array<Record<string, string | number>> = []
  for (const [query, run] of Object.entries(queries)) {
    let baseline: LoadResult | undefined
    for (const [label, client] of databases) {
      const result = await load(() => run(client))
      baseline ??= result
      rows.push(loadRow(`${query}, ${label}`, result, baseline))
    }
  }
  printTable(
    `Partitioned databases: ${ROWS} rows, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s per row (ratio vs the unpartitioned database)`,
    rows,
  )
} finally {
  await platform.stop()
}

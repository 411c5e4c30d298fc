/**
 * Read replicas of a partitioned database: what reading from the shards' replicas costs or
 * saves against reading the shard primaries, and what a replica costs a write. Through
 * `/v1/databases/{db}/` over raw Hrana (the platform as `npm run dev` starts it), a 3-shard
 * database of 2,000 rows with one replica (a copy of every shard):
 *
 * 1. A pinned point read and a scattered `count(*)`/`sum()`: on the primaries (baseline),
 *    from the replicas (`?replica=nearest`), and from the replicas carrying a position token
 *    (read-your-writes: each shard's replica checks it has reached the token's component).
 * 2. A pinned insert: into the same database without replicas (baseline) and with one (the
 *    position probe, the token, the replicator's notification).
 */
import { startPlatform } from '../scripts/platform-process'
import { type LoadResult, loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 8
const DURATION_MS = 2_000
const ROWS = 2_000

const platform = await startPlatform()
try {
  const token = await platform.token('shard-replicas-bench', ['databases:read', 'databases:write'])
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${platform.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  /** One statement; the answer's position token. */
  const run = async (db: string, sql: string, args: number[], query = '', position?: string) => {
    const response = await fetch(`${platform.url}/v1/databases/${db}/v3/pipeline${query}`, {
      method: 'POST',
      headers: { ...headers, ...(position ? { 'edgeblocks-replication-position': position } : {}) },
      body: JSON.stringify({
        baton: null,
        requests: [
          {
            type: 'execute',
            stmt: { sql, args: args.map((n) => ({ type: 'integer', value: String(n) })) },
          },
          { type: 'close' },
        ],
      }),
    })
    const body = (await response.json()) as { results: Array<{ type: string; error?: unknown }> }
    if (!response.ok || body.results[0]?.type !== 'ok') throw new Error(JSON.stringify(body))
    return response.headers.get('edgeblocks-replication-position') ?? undefined
  }
  const open = async (name: string) => {
    await api('/v1/databases', {
      name,
      partitioning: { shards: 3, tables: { items: { key: 'id', by: 'hash' } } },
    })
    await api(`/v1/databases/${name}/migrations`, {
      id: 'v1',
      statements: ['CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, n INTEGER NOT NULL)'],
    })
  }
  const load = (op: (i: number) => Promise<unknown>) =>
    runLoad({ concurrency: CONCURRENCY, durationMs: DURATION_MS, warmupOps: 10, op })

  await open('replicated')
  for (let id = 1; id <= ROWS; id++)
    await run('replicated', 'INSERT INTO items (id, grp, n) VALUES (?, ?, ?)', [
      id,
      id % 10,
      (id * 7919) % 1000,
    ])
  await api('/v1/databases/replicated/replicas', {})
  // Wait until the replica holds its starting copy of every shard (the replicators' alarms).
  for (let i = 0; i < 200; i++) {
    const list = (await api('/v1/databases/replicated/replicas')).items as Array<{
      state: string
      lagChanges: number
    }>
    if (list.every((r) => r.state === 'ready' && r.lagChanges === 0)) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const tokenNow = await run('replicated', 'SELECT count(*) FROM items', [])

  const point = (query: string, position?: string) => () =>
    run(
      'replicated',
      'SELECT n FROM items WHERE id = ?',
      [1 + Math.floor(Math.random() * ROWS)],
      query,
      position,
    )
  const scatter = (query: string, position?: string) => () =>
    run('replicated', 'SELECT count(*), sum(n) FROM items WHERE grp = 3', [], query, position)
  const rows: Array<Record<string, string | number>> = []
  for (const [label, make] of [
    ['pinned point read', point],
    ['scatter count/sum', scatter],
  ] as const) {
    const primaries: LoadResult = await load(make(''))
    rows.push(loadRow(`${label}, shard primaries`, primaries, primaries))
    rows.push(loadRow(`${label}, shard replicas`, await load(make('?replica=nearest')), primaries))
    rows.push(
      loadRow(
        `${label}, shard replicas + position token`,
        await load(make('?replica=nearest', tokenNow)),
        primaries,
      ),
    )
  }
  await open('plain')
  let next = ROWS + 1
  const insert = (db: string) => () => run(db, 'INSERT INTO items (id, grp, n) VALUES (?, 0, 0)', [next++])
  const plain = await load(insert('plain'))
  rows.push(loadRow('pinned insert, no replicas', plain, plain))
  rows.push(loadRow('pinned insert, one replica of every shard', await load(insert('replicated')), plain))
  printTable(
    `Read replicas of a 3-shard database: ${ROWS} rows, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s per row (ratio vs the baseline of its group)`,
    rows,
  )
} finally {
  await platform.stop()
}

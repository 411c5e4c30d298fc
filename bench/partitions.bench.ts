/**
 * Partitioned databases: what scatter-gather costs as the shard count grows, and how fast an
 * online split moves rows. Through `/v1/databases/{db}/` with `@libsql/client` (the platform
 * as `npm run dev` starts it):
 *
 * 1. The same 2,000 rows in an unpartitioned database and in databases of 2, 4 and 8 shards;
 *    per database a pinned point read (one shard), a scattered `count(*)`/`sum()` and a
 *    scattered `ORDER BY … LIMIT 10`. Ratios are against the unpartitioned database's query.
 * 2. Resharding: a split of a 2-shard range-partitioned database's upper shard (half its rows
 *    move) while a client keeps writing, in rows moved per second from the request to cutover;
 *    the baseline is a plain copy of the same rows by a client (a scatter read, then 500-row
 *    INSERTs into another database) in the same run.
 */
import { type Client, createClient, type InStatement } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { type PartitionScheme, shardOfKey } from '../workers/databases/partitions/scheme'
import { formatNumber, type LoadResult, loadRow, printTable, runLoad } from './harness'

const CONCURRENCY = 8
const DURATION_MS = 2_000
const ROWS = 2_000
const RESHARD_ROWS = 8_000
const CHUNK = 200

const platform = await startPlatform()
try {
  const token = await platform.token('partitions-bench', ['databases:read', 'databases:write'])
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
  /** A database with `rows` rows, inserted a shard's chunk per statement. */
  const open = async (name: string, rows: number, scheme?: PartitionScheme): Promise<Client> => {
    const created = await api('/v1/databases', { name, partitioning: scheme })
    const client = createClient({ url: `${platform.url}${created.url as string}`, authToken: token })
    await client.execute(
      'CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, n INTEGER NOT NULL)',
    )
    const table = scheme?.tables.items
    const byShard = new Map<number, number[]>()
    for (let id = 1; id <= rows; id++) {
      const shard = scheme && table ? shardOfKey(scheme, table, id) : 0
      byShard.set(shard, [...(byShard.get(shard) ?? []), id])
    }
    const statements: InStatement[] = []
    for (const ids of byShard.values())
      for (let at = 0; at < ids.length; at += CHUNK) {
        const chunk = ids.slice(at, at + CHUNK)
        statements.push({
          sql: `INSERT INTO items (id, grp, n) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
          args: chunk.flatMap((id) => [id, id % 10, (id * 7919) % 1000]),
        })
      }
    for (const statement of statements) await client.execute(statement)
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
  const hash = (shards: number): PartitionScheme => ({ shards, tables: { items: { key: 'id', by: 'hash' } } })
  const databases: Array<[string, Client]> = [['unpartitioned', await open('plain', ROWS)]]
  for (const shards of [2, 4, 8])
    databases.push([`${shards} shards`, await open(`p${shards}`, ROWS, hash(shards))])
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

  // Resharding: rows 1..RESHARD_ROWS over shards [.., half) and [half, ..); the upper one splits at 3/4.
  const half = RESHARD_ROWS / 2
  const range: PartitionScheme = {
    shards: 2,
    tables: { items: { key: 'id', by: 'range', bounds: [half + 1] } },
  }
  const source = await open('split-me', RESHARD_ROWS, range)
  const copyTarget = await open('copy-target', 0)
  const moving = RESHARD_ROWS / 4

  const copyStart = performance.now()
  const read = await source.execute({
    sql: 'SELECT id, grp, n FROM items WHERE id > ? ORDER BY id',
    args: [half + moving],
  })
  for (let at = 0; at < read.rows.length; at += 500) {
    const chunk = read.rows.slice(at, at + 500)
    await copyTarget.execute({
      sql: `INSERT INTO items (id, grp, n) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      args: chunk.flatMap((row) => [row.id, row.grp, row.n] as number[]),
    })
  }
  const copySeconds = (performance.now() - copyStart) / 1000

  let writing = true
  let written = 0
  let refused = 0
  const writer = (async () => {
    for (let id = RESHARD_ROWS + 1; writing; id++) {
      try {
        await source.execute({ sql: 'INSERT INTO items (id, grp, n) VALUES (?, 0, 0)', args: [id] })
        written++
      } catch {
        refused++
      }
    }
  })()
  const job = await api('/v1/databases/split-me/reshard', { split: { shard: 1, at: half + 1 + moving } })
  let status = job
  while (status.cutoverAt === null) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    status = await api(`/v1/databases/split-me/reshard/${job.id as string}`)
  }
  const reshardSeconds = ((status.cutoverAt as number) - (job.createdAt as number)) / 1000
  writing = false
  await writer
  const copied = read.rows.length
  const copyRate = copied / copySeconds
  const moved = status.rowsCopied as number
  const reshardRate = moved / reshardSeconds
  const frozenMs = (status.cutoverAt as number) - (status.frozenAt as number)
  printTable(
    `Online split: ${moving} of ${RESHARD_ROWS} rows move to a new shard (rows/s, ratio vs a plain client copy)`,
    [
      {
        subject: 'plain copy (scatter read + 500-row INSERTs)',
        rows: copied,
        'rows/s': copyRate,
        'vs baseline': '1.00× (baseline)',
      },
      {
        subject: `online split, ${written} writes beside it (${refused} refused while frozen)`,
        rows: moved,
        'rows/s': reshardRate,
        'vs baseline': `${(reshardRate / copyRate).toFixed(2)}×`,
      },
    ],
  )
  console.log(
    `changes caught up: ${formatNumber(status.changesCaughtUp as number)}; writes to the moving range frozen for ${formatNumber(frozenMs)} ms (freeze to cutover)\n`,
  )
} catch (error) {
  console.error(error)
  console.error(platform.output().slice(-4000))
  process.exitCode = 1
} finally {
  await platform.stop()
}

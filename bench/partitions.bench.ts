/**
 * Partitioned databases: what scatter-gather costs as the shard count grows, and how fast an
 * online split moves rows. Through `/v1/databases/{db}/` with `@libsql/client` (the platform
 * as `npm run dev` starts it):
 *
 * 1. The same 2,000 rows in an unpartitioned database and in databases of 2, 4 and 8 shards;
 *    per database a pinned point read (one shard), a scattered `count(*)`/`sum()` and a
 *    scattered `ORDER BY … LIMIT 10`. Ratios are against the unpartitioned database's query.
 * 2. Resharding: a split of shard 1 of a 2-shard range-partitioned database and of a 2-shard
 *    hash-partitioned one (about a quarter of the rows move each) while a client keeps writing,
 *    in rows moved per second from the request to cutover; the baseline is a plain copy of as
 *    many rows by a client (a read, then 500-row INSERTs into another database).
 */
import { type Client, createClient, type InStatement } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { newScheme, type PartitionScheme, shardOfKey } from '../workers/databases/partitions/scheme'
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
    // Grouped by shard as the platform routes them (it stores hash schemes with even hash ranges).
    const stored = scheme && newScheme(scheme)
    const table = stored?.tables.items
    const byShard = new Map<number, number[]>()
    for (let id = 1; id <= rows; id++) {
      const shard = stored && table ? shardOfKey(stored, table, id) : 0
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

  // Resharding. Baseline: a plain client copy of a quarter of the rows. Then two online splits
  // under a writer: the upper shard of a 2-shard range database at 3/4 of the keys, and shard 1
  // of a 2-shard hash database at the midpoint of its hash range (each moves about a quarter).
  const half = RESHARD_ROWS / 2
  const moving = RESHARD_ROWS / 4
  const copySource = await open('copy-source', RESHARD_ROWS)
  const copyTarget = await open('copy-target', 0)
  const copyStart = performance.now()
  const read = await copySource.execute({
    sql: 'SELECT id, grp, n FROM items WHERE id > ? ORDER BY id',
    args: [RESHARD_ROWS - moving],
  })
  for (let at = 0; at < read.rows.length; at += 500) {
    const chunk = read.rows.slice(at, at + 500)
    await copyTarget.execute({
      sql: `INSERT INTO items (id, grp, n) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
      args: chunk.flatMap((row) => [row.id, row.grp, row.n] as number[]),
    })
  }
  const copyRate = read.rows.length / ((performance.now() - copyStart) / 1000)

  /** Splits shard 1 of `name` while a client writes; rows moved per second from the request to cutover. */
  const measureSplit = async (name: string, scheme: PartitionScheme, split: Record<string, unknown>) => {
    const source = await open(name, RESHARD_ROWS, scheme)
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
    const job = await api(`/v1/databases/${name}/reshard`, { split })
    let status = job
    while (status.cutoverAt === null) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      status = await api(`/v1/databases/${name}/reshard/${job.id as string}`)
    }
    writing = false
    await writer
    const moved = status.rowsCopied as number
    const rate = moved / (((status.cutoverAt as number) - (job.createdAt as number)) / 1000)
    const frozenMs = (status.cutoverAt as number) - (status.frozenAt as number)
    return {
      subject: `${name}: ${written} writes beside it (${refused} refused while frozen), ${formatNumber(status.changesCaughtUp as number)} changes caught up, frozen ${formatNumber(frozenMs)} ms`,
      rows: moved,
      'rows/s': rate,
      'vs baseline': `${(rate / copyRate).toFixed(2)}×`,
    }
  }
  const rangeSplit = await measureSplit(
    'range-split',
    { shards: 2, tables: { items: { key: 'id', by: 'range', bounds: [half + 1] } } },
    { shard: 1, at: half + 1 + moving },
  )
  const hashSplit = await measureSplit('hash-split', hash(2), { shard: 1 })
  printTable(
    `Online split of shard 1 of ${RESHARD_ROWS} rows (rows/s from request to cutover, ratio vs a plain client copy)`,
    [
      {
        subject: 'plain copy (a read + 500-row INSERTs)',
        rows: read.rows.length,
        'rows/s': copyRate,
        'vs baseline': '1.00× (baseline)',
      },
      rangeSplit,
      hashSplit,
    ],
  )
} catch (error) {
  console.error(error)
  console.error(platform.output().slice(-4000))
  process.exitCode = 1
} finally {
  await platform.stop()
}

/**
 * The databases block: point read and insert with `@libsql/client` through
 * `/v1/databases/{db}/` (the real platform as `npm run dev` starts it, loopback) against the
 * same client on the same storage node's libSQL server directly (another namespace), same
 * load, measured in the same run: the platform's overhead. The authenticated no-op floor
 * `GET /v1/whoami` is printed for reference.
 */
import { type Client, createClient } from '@libsql/client'
import { startPlatform } from '../scripts/platform-process'
import { loadRow, printTable, runLoad } from './harness'

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
} finally {
  await platform.stop()
}

/**
 * Embedded replicas of platform databases under `npm run dev`: the official `@libsql/client`
 * (Node build, native libsql) with `url: file:…` and `syncUrl: <platform>/v1/databases/{db}`.
 * sync() pulls frames from the storage node holding the primary, reads stay local, writes are
 * forwarded over the platform's Hrana route; a replica offline for 10,000 writes (across generation
 * cuts: the nodes' frame logs are short here) catches up row by row; after a failover an old replica
 * is told to start again and a new one follows the new primary; wrong, expired and other tenants'
 * tokens and partitioned databases are refused.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { mintToken } from '../../workers/platform/auth/token'

const JWT_SECRET = randomBytes(32).toString('base64url')
let platform: RunningPlatform
let token: string
let dir: string
const clients: Client[] = []

beforeAll(async () => {
  // Short frame logs on the storage nodes: the offline replica below crosses generation cuts.
  process.env.STORAGE_NODES_REPLICA_LOG_FRAMES = '300'
  try {
    platform = await startPlatform({ JWT_SECRET })
  } finally {
    delete process.env.STORAGE_NODES_REPLICA_LOG_FRAMES
  }
  token = await platform.token('sync-e2e', ['databases:read', 'databases:write'])
  dir = await mkdtemp(join(tmpdir(), 'edgeblocks-sync-e2e-'))
})

afterAll(async () => {
  for (const client of clients) client.close()
  await platform?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

function track(client: Client): Client {
  clients.push(client)
  return client
}

async function createDatabase(name: string, body: Record<string, unknown> = {}): Promise<void> {
  const response = await fetch(`${platform.url}/v1/databases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, ...body }),
  })
  expect(response.status).toBe(201)
}

const remote = (db: string) =>
  track(createClient({ url: `${platform.url}/v1/databases/${db}/`, authToken: token }))
const replica = (db: string, file: string, authToken = token) =>
  track(
    createClient({
      url: `file:${join(dir, file)}`,
      syncUrl: `${platform.url}/v1/databases/${db}`,
      authToken,
    }),
  )

async function generation(db: string): Promise<number> {
  const response = await fetch(`${platform.url}/v1/databases/${db}/info`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return ((await response.json()) as { current_generation: number }).current_generation
}

async function rows(client: Client, sql: string): Promise<unknown[][]> {
  const result = await client.execute(sql)
  return result.rows.map((row) => result.columns.map((_, i) => row[i]))
}

describe('embedded replicas of platform databases', () => {
  it('syncs, reads locally, forwards writes and pulls them back', async () => {
    await createDatabase('notes')
    const primary = remote('notes')
    await primary.batch(
      [
        'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)',
        "INSERT INTO notes VALUES (1, 'one'), (2, 'two')",
      ],
      'write',
    )
    const local = replica('notes', 'notes.db')
    await local.sync()
    expect(await rows(local, 'SELECT * FROM notes ORDER BY id')).toEqual([
      [1, 'one'],
      [2, 'two'],
    ])
    await primary.execute("UPDATE notes SET body = 'uno' WHERE id = 1")
    expect(await rows(local, 'SELECT body FROM notes WHERE id = 1')).toEqual([['one']]) // local until sync
    await local.sync()
    expect(await rows(local, 'SELECT body FROM notes WHERE id = 1')).toEqual([['uno']])

    await local.execute("INSERT INTO notes VALUES (3, 'from the replica')")
    expect(await rows(primary, 'SELECT body FROM notes WHERE id = 3')).toEqual([['from the replica']])
    await local.sync()
    expect(await rows(local, 'SELECT * FROM notes ORDER BY id')).toEqual(
      await rows(primary, 'SELECT * FROM notes ORDER BY id'),
    )
  })

  it('catches up after 10,000 writes while offline, row by row', async () => {
    await createDatabase('events')
    const primary = remote('events')
    await primary.execute('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT, n INTEGER)')
    await primary.execute("INSERT INTO events VALUES (0, 'seed', 0)")
    const first = replica('events', 'events.db')
    await first.sync()
    expect(await rows(first, 'SELECT count(*) FROM events')).toEqual([[1]])
    first.close()
    const before = await generation('events')
    for (let batch = 0; batch < 100; batch++) {
      const statements = Array.from({ length: 100 }, (_, i) => {
        const id = batch * 100 + i + 1
        return {
          sql: 'INSERT INTO events VALUES (?, ?, ?)',
          args: [id, `event-${id}-${'x'.repeat(id % 200)}`, id],
        }
      })
      // updates and deletes of earlier rows too, not only appends
      statements[0] = { sql: 'UPDATE events SET n = n + 1 WHERE id % 10 = ?', args: [batch % 10] }
      statements[1] = { sql: 'DELETE FROM events WHERE id = ?', args: [batch * 50] }
      await primary.batch(statements, 'write')
    }
    // the log was cut (and older generations pruned) while the replica was away
    expect(await generation('events')).toBeGreaterThan(before)
    const back = replica('events', 'events.db')
    await back.sync()
    const expected = await rows(primary, 'SELECT * FROM events ORDER BY id')
    expect(expected.length).toBeGreaterThan(9_500)
    expect(await rows(back, 'SELECT * FROM events ORDER BY id')).toEqual(expected)
    expect(await rows(back, 'PRAGMA integrity_check')).toEqual([['ok']])
    // a new replica bootstraps from the database file and gets the same rows
    const fresh = replica('events', 'events-fresh.db')
    await fresh.sync()
    expect(await rows(fresh, 'SELECT * FROM events ORDER BY id')).toEqual(expected)
  }, 180_000)

  it('after a failover, tells an old replica to start again; a re-bootstrapped one follows the new primary', async () => {
    await createDatabase('ledger')
    const primary = remote('ledger')
    await primary.execute('CREATE TABLE entries (id INTEGER PRIMARY KEY, amount INTEGER)')
    const added = await fetch(`${platform.url}/v1/databases/ledger/replicas`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ synchronous: true }),
    })
    expect(added.status).toBe(201)
    await primary.execute('INSERT INTO entries VALUES (1, 100)')
    const old = replica('ledger', 'ledger.db')
    await old.sync()
    expect(await rows(old, 'SELECT * FROM entries')).toEqual([[1, 100]])
    const switched = await fetch(`${platform.url}/v1/databases/ledger/failover`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(switched.status).toBe(200)
    await primary.execute('INSERT INTO entries VALUES (2, 200)')
    await expect(old.sync()).rejects.toThrow(/REPLICA_RESET_NEEDED/)
    old.close()
    for (const suffix of ['', '-info', '-wal', '-shm'])
      await rm(join(dir, `ledger.db${suffix}`), { force: true })
    const again = replica('ledger', 'ledger.db')
    await again.sync()
    expect(await rows(again, 'SELECT * FROM entries ORDER BY id')).toEqual([
      [1, 100],
      [2, 200],
    ])
    await again.execute('INSERT INTO entries VALUES (3, 300)')
    await again.sync()
    expect(await rows(again, 'SELECT count(*) FROM entries')).toEqual([[3]])
  })

  it('refuses wrong, expired and other tenants’ tokens', async () => {
    await createDatabase('private')
    await remote('private').execute('CREATE TABLE secrets (s TEXT)')
    const expired = (
      await mintToken(JWT_SECRET, {
        tenant: 'sync-e2e',
        scopes: ['databases:read'],
        ttlSeconds: 60,
        now: Math.floor(Date.now() / 1000) - 3600,
      })
    ).token
    const stranger = await platform.token('sync-e2e-other', ['databases:read', 'databases:write'])
    const cases: Array<[string, string]> = [
      ['wrong', 'not-a-token'],
      ['forged', `${token.slice(0, -4)}AAAA`],
      ['expired', expired],
      ['stranger', stranger],
    ]
    for (const [label, authToken] of cases) {
      // The client's first request (`info`) answers 401 (it reports "Unauthorized") or 404 (the
      // client then tries its older protocol and reports a handshake failure).
      await expect(async () => {
        const r = replica('private', `private-${label}.db`, authToken)
        await r.sync()
      }, label).rejects.toThrow(label === 'stranger' ? /./ : /unauthorized/i)
    }
    for (const [label, authToken] of cases) {
      const response = await fetch(`${platform.url}/v1/databases/private/info`, {
        headers: { authorization: `Bearer ${authToken}` },
      })
      expect(response.status, label).toBe(label === 'stranger' ? 404 : 401)
    }
  })

  it('refuses a partitioned database', async () => {
    await createDatabase('sharded', {
      partitioning: { shards: 2, tables: { orders: { key: 'customer', by: 'hash' } } },
    })
    const response = await fetch(`${platform.url}/v1/databases/sharded/info`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(409)
    expect(await response.json()).toMatchObject({ code: 'PARTITIONED' })
    await expect(async () => {
      const r = replica('sharded', 'sharded.db')
      await r.sync()
    }).rejects.toThrow()
  })
})

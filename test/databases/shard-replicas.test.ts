/**
 * Read replicas of a partitioned database (the real local libSQL servers): a replica is a
 * copy of every shard, each shard its own replication group. Each shard's copy converges to
 * that shard's primary row by row under concurrent writes; read-your-writes holds for write-
 * then-read pairs spread over the shards through a deliberately delayed replica (the
 * position token is a vector, one component per shard); lag is reported per shard; bad input
 * and resharding with replicas are refused with nothing changed; tenants are kept apart.
 * The replicators' runs are driven by calling them (as their alarms do), never by sleeping.
 */
import { env, runInDurableObject, SELF } from 'cloudflare:test'
import { createClient } from '@libsql/client/web'
import { describe, expect, it } from 'vitest'
import { backendClient, getDatabase, namespaceClient } from '../../workers/databases/catalog'
import { storageNodes } from '../../workers/platform/storage-nodes'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { type HranaValue, platformClient, runStatement, settleReplicas } from './support'

const SHARDS = 3
type Db = Awaited<ReturnType<typeof partitionedDatabase>>
type Value = HranaValue

async function partitionedDatabase() {
  const tenant = uniqueTenant('sdb')
  const token = await tokenFor(tenant, ['databases:read', 'databases:write'])
  const name = `p-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/databases', {
    token,
    body: {
      name,
      partitioning: {
        shards: SHARDS,
        tables: {
          orders: { key: 'customer', by: 'hash' },
          events: { key: 'day', by: 'range', bounds: [10, 20] },
        },
      },
    },
  })
  expect(created.status).toBe(201)
  const url = `http://edge.test${created.body.url as string}`
  const migrated = await call(`/v1/databases/${name}/migrations`, {
    token,
    body: {
      id: 'v1',
      statements: [
        'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, total INTEGER NOT NULL, note TEXT)',
        'CREATE TABLE events (day INTEGER NOT NULL, what TEXT NOT NULL)',
      ],
    },
  })
  expect(migrated.status).toBe(200)
  return { tenant, token, name, url, client: platformClient(url, token) }
}

async function sync(db: Db): Promise<void> {
  for (let shard = 0; shard < SHARDS; shard++) {
    const id = env.DATABASE_REPLICATORS.idFromName(`${db.tenant}:database-replicator:${db.name}#${shard}`)
    await runInDurableObject(env.DATABASE_REPLICATORS.get(id), (object) => object.sync())
  }
}

type ShardCopy = { shard: number; node: string; namespace?: string; lagChanges: number; state: string }

async function addReplica(db: Db, body: Record<string, unknown> = {}) {
  const created = await call(`/v1/databases/${db.name}/replicas`, { token: db.token, body })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return created.body as { id: string; shards: ShardCopy[] }
}

/** One statement over raw Hrana, its replication position as the token text. */
async function run(
  db: Db,
  sql: string,
  options: { replica?: string; position?: string; args?: Value[] } = {},
) {
  const answer = await runStatement(db, sql, options)
  return { ...answer, field: answer.field as string | undefined }
}

const int = (n: number): Value => ({ type: 'integer', value: String(n) })
const components = (token: string) => (token.split(':')[1] ?? '').split('.').map(Number)

/** Every user table's rows with rowids, read straight from one copy, columns as the primary has them. */
async function snapshot(client: ReturnType<typeof backendClient>, columnsOf = client): Promise<string> {
  const parts: string[] = []
  for (const table of ['events', 'orders']) {
    const info = await columnsOf.execute(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`)
    const columns = info.rows.map((row) => `"${String(row.name)}"`).join(', ')
    const rows = await client.execute(`SELECT rowid AS _rid, ${columns} FROM "${table}" ORDER BY rowid`)
    parts.push(`${table}: ${JSON.stringify(rows.rows)}`)
  }
  return parts.join('\n')
}

async function expectShardsConverged(db: Db, replica: string, context = ''): Promise<void> {
  const database = await getDatabase(env, db.tenant, db.name)
  for (const [i, shard] of (database.partitions?.shards ?? []).entries()) {
    const copy = shard.replicas.find((r) => r.id === replica)
    if (!copy) throw new Error(`shard ${i} has no copy of ${replica}`)
    expect(copy.node, `shard ${i}`).not.toBe(shard.node.id)
    const primary = await snapshot(backendClient(shard))
    const copyClient = namespaceClient(copy.storage, copy.namespace)
    expect(await snapshot(copyClient, backendClient(shard)), `shard ${i} ${context}`).toBe(primary)
  }
}

describe('read replicas of a partitioned database', () => {
  it('copy every shard on another node and converge row by row under concurrent writes', async () => {
    const db = await partitionedDatabase()
    await db.client.execute('INSERT INTO orders (id, customer, total) VALUES (1, 1, 10)')
    await db.client.execute('INSERT INTO orders (id, customer, total) VALUES (2, 2, 20)')
    const replica = await addReplica(db)
    expect(replica.shards.map((copy) => copy.shard)).toEqual([0, 1, 2])
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 25; i++) {
        const customer = w * 100 + i
        await db.client.execute({
          sql: 'INSERT INTO orders (id, customer, total) VALUES (?, ?, ?)',
          args: [1000 + customer, customer, i],
        })
        await db.client.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [i, `w${w}`] })
        if (i % 3 === 0)
          await db.client.execute({
            sql: "UPDATE orders SET total = total + 7, note = 'x' WHERE customer = ?",
            args: [customer],
          })
        if (i % 5 === 0)
          await db.client.execute({ sql: 'DELETE FROM orders WHERE customer = ?', args: [customer - 1] })
        if (i % 10 === 0) await sync(db)
      }
    })
    await Promise.all(writers)
    // A copy's batch can fail while the writers hold the nodes busy; it is retried after a back-off.
    const met: string[] = []
    for (let shard = 0; shard < SHARDS; shard++)
      met.push(...(await settleReplicas(`${db.tenant}:database-replicator:${db.name}#${shard}`)))
    await expectShardsConverged(db, replica.id, `replication errors met: ${met.join(' | ') || 'none'}`)
    // A later schema change reaches every shard's copy too.
    expect(
      (
        await call(`/v1/databases/${db.name}/migrations`, {
          token: db.token,
          body: { id: 'v2', statements: ['ALTER TABLE orders ADD COLUMN extra TEXT'] },
        })
      ).status,
    ).toBe(200)
    await db.client.execute("UPDATE orders SET extra = 'e' WHERE customer = 3")
    for (let shard = 0; shard < SHARDS; shard++)
      await settleReplicas(`${db.tenant}:database-replicator:${db.name}#${shard}`)
    await expectShardsConverged(db, replica.id)
    // A scatter-gather read opting in is answered by the replica's copies, matching the primaries.
    const scattered = await run(db, 'SELECT count(*), sum(total) FROM orders', { replica: replica.id })
    expect(scattered.servedBy).toBe(`replica:${replica.id}`)
    expect(scattered.rows).toEqual((await run(db, 'SELECT count(*), sum(total) FROM orders')).rows)
  }, 120_000)

  it('keep read-your-writes for 200 write-then-read pairs across shards through a delayed replica', async () => {
    const db = await partitionedDatabase()
    const delayed = await addReplica(db, { delaySeconds: 3600 })
    const live = await addReplica(db)
    await sync(db)
    const served = new Map<string, number>()
    let next = 0
    const pairs = async () => {
      let token: string | undefined
      while (next < 200) {
        const k = next++
        const write = await run(db, 'INSERT INTO orders (id, customer, total) VALUES (?, ?, ?)', {
          args: [int(k), int(k), int(k * 3)],
          ...(token !== undefined ? { position: token } : {}),
        })
        expect(write.servedBy).toBe('primary')
        expect(write.field).toBe(write.position)
        if (token !== undefined) {
          const before = components(token)
          for (const [i, p] of components(write.position).entries())
            expect(p).toBeGreaterThanOrEqual(before[i] ?? 0)
        }
        token = write.position
        if (k % 10 === 0) await sync(db)
        const read = await run(db, 'SELECT total FROM orders WHERE customer = ?', {
          replica: 'nearest',
          position: token,
          args: [int(k)],
        })
        expect(read.rows, `pair ${k} via ${read.servedBy}`).toEqual([[int(k * 3)]])
        served.set(read.servedBy ?? '', (served.get(read.servedBy ?? '') ?? 0) + 1)
        token = read.position
      }
    }
    await Promise.all(Array.from({ length: 8 }, pairs))
    expect([...served.values()].reduce((a, b) => a + b, 0)).toBe(200)
    expect(served.get(`replica:${live.id}`)).toBeGreaterThan(0)
    expect(served.get(`replica:${delayed.id}`)).toBeUndefined()
    // The pairs' rows are spread over every shard.
    for (const shard of (await getDatabase(env, db.tenant, db.name)).partitions?.shards ?? []) {
      const rows = await backendClient(shard).execute('SELECT count(*) AS n FROM orders')
      expect(Number(rows.rows[0]?.n)).toBeGreaterThan(20)
    }
    // A scatter read carrying a token goes to each shard's primary unless its replica has caught up.
    await sync(db)
    await run(db, 'INSERT INTO orders (id, customer, total) VALUES (999, 999, 1)')
    // A read on the primaries answers a token covering every shard it read.
    const everything = await run(db, 'SELECT count(*) FROM orders')
    expect(everything.servedBy).toBe('primary')
    const counted = await run(db, 'SELECT count(*) FROM orders', {
      replica: delayed.id,
      position: everything.position,
    })
    expect(counted.rows).toEqual([[int(201)]])
    expect(counted.servedBy).toBe('primary')
    // Without a token the delayed copies answer with their old state: the documented staleness.
    const stale = await run(db, 'SELECT count(*) FROM orders', { replica: delayed.id })
    expect(stale.servedBy).toBe(`replica:${delayed.id}`)
    expect(stale.rows).toEqual([[int(0)]])

    // Lag, per shard copy in the replica listing and per shard in …/shards.
    const listed = await call(`/v1/databases/${db.name}/replicas/${delayed.id}`, { token: db.token })
    const copies = listed.body.shards as ShardCopy[]
    expect(copies.map((c) => c.shard)).toEqual([0, 1, 2])
    expect(copies.every((c) => c.lagChanges > 0 && c.state === 'ready')).toBe(true)
    expect(listed.body.lagChanges).toBe(copies.reduce((sum, c) => sum + c.lagChanges, 0))
    const caughtUp = await call(`/v1/databases/${db.name}/replicas/${live.id}`, { token: db.token })
    expect(caughtUp.body).toMatchObject({ state: 'ready', error: null })
    await sync(db)
    const shards = await call(`/v1/databases/${db.name}/shards`, { token: db.token })
    expect(shards.status).toBe(200)
    for (const [i, shard] of (shards.body.shards as Array<{ replicas: ShardCopy[] }>).entries()) {
      const byId = Object.fromEntries(shard.replicas.map((r) => [(r as unknown as { id: string }).id, r]))
      expect(byId[live.id], `shard ${i}`).toMatchObject({ lagChanges: 0 })
      expect(byId[delayed.id]?.lagChanges, `shard ${i}`).toBe(copies[i]?.lagChanges)
    }
  }, 240_000)

  it('refuse bad input, resharding while replicas exist, and change nothing', async () => {
    const db = await partitionedDatabase()
    const path = `/v1/databases/${db.name}/replicas`
    const database = await getDatabase(env, db.tenant, db.name)
    const shard0 = database.partitions?.shards[0]?.node.id as string
    for (const [body, status] of [
      [{ node: 'node-99' }, 400],
      [{ delaySeconds: -1 }, 400],
      [{ extra: 1 }, 400],
      [{ synchronous: true, delaySeconds: 5 }, 400],
      [{ node: shard0 }, 409],
    ] as const) {
      const refused = await call(path, { token: db.token, body })
      expect(refused.status, JSON.stringify(body)).toBe(status)
      expect(refused.headers.get('content-type')).toContain('application/problem+json')
    }
    expect((await call(path, { token: db.token })).body).toEqual({ items: [] })
    const first = await addReplica(db)
    await addReplica(db)
    // Three nodes: every node now holds a copy of every shard.
    const third = await call(path, { token: db.token, body: {} })
    expect(third.status).toBe(409)
    expect(((await call(path, { token: db.token })).body.items as unknown[]).length).toBe(2)
    const duplicate = await call(path, { token: db.token, body: { node: first.shards[0]?.node } })
    expect(duplicate.status).toBe(409)
    expect(((await call(path, { token: db.token })).body.items as unknown[]).length).toBe(2)
    expect((await call(`${path}/r-00000000`, { method: 'DELETE', token: db.token })).status).toBe(404)
    const badToken = await SELF.fetch(`${db.url}v3/pipeline`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${db.token}`,
        'content-type': 'application/json',
        'edgeblocks-replication-position': '17',
      },
      body: JSON.stringify({ baton: null, requests: [] }),
    })
    expect(badToken.status).toBe(400)
    const failover = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })
    expect(failover.status).toBe(409)

    const other = storageNodes(env).find((node) => node.id !== shard0)?.id
    const move = { move: { shard: 0, node: other } }
    const refused = await call(`/v1/databases/${db.name}/reshard`, { token: db.token, body: move })
    expect(refused.status).toBe(409)
    expect(String(refused.body.detail)).toMatch(/remove replicas first/)
    expect((await getDatabase(env, db.tenant, db.name)).partitions?.job).toBeUndefined()
    for (const item of (await call(path, { token: db.token })).body.items as Array<{ id: string }>) {
      const deleted = await call(`${path}/${item.id}`, { method: 'DELETE', token: db.token })
      expect(deleted.body).toEqual({ deleted: true })
    }
    expect((await call(path, { token: db.token })).body).toEqual({ items: [] })
    const started = await call(`/v1/databases/${db.name}/reshard`, { token: db.token, body: move })
    expect(started.status, JSON.stringify(started.body)).toBe(202)
    // While the job runs, no replica can be added.
    expect((await call(path, { token: db.token, body: {} })).status).toBe(409)
  }, 60_000)

  it('leave transactions and writes on the primaries when reads opt in', async () => {
    const db = await partitionedDatabase()
    const replica = await addReplica(db)
    await sync(db)
    const nearest = createClient({
      url: db.url,
      authToken: db.token,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init)
        request.headers.set('edgeblocks-replica', 'nearest')
        return SELF.fetch(request)
      },
    })
    const tx = await nearest.transaction('write')
    await tx.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [3, 'a'] })
    expect((await tx.execute('SELECT count(*) AS n FROM events WHERE day = 3')).rows[0]?.n).toBe(1)
    await tx.commit()
    const undone = await nearest.transaction('write')
    await undone.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [4, 'b'] })
    undone.close()
    await nearest.execute({
      sql: 'INSERT INTO orders (id, customer, total) VALUES (?, ?, ?)',
      args: [1, 1, 5],
    })
    const read = await run(db, 'SELECT day FROM events ORDER BY day')
    expect(read.rows).toEqual([[int(3)]])
    await sync(db)
    const fromReplica = await run(db, 'SELECT day FROM events ORDER BY day', { replica: replica.id })
    expect(fromReplica.servedBy).toBe(`replica:${replica.id}`)
    expect(fromReplica.rows).toEqual([[int(3)]])
    expect((await run(db, 'SELECT total FROM orders', { replica: replica.id })).rows).toEqual([[int(5)]])
  })

  it('go with their database: deleting it drops every shard copy and idles the replicators', async () => {
    const db = await partitionedDatabase()
    await db.client.execute('INSERT INTO orders (id, customer, total) VALUES (1, 1, 10)')
    await addReplica(db)
    const copies =
      (await getDatabase(env, db.tenant, db.name)).partitions?.shards.flatMap((s) => s.replicas) ?? []
    expect(copies).toHaveLength(SHARDS)
    expect((await call(`/v1/databases/${db.name}`, { method: 'DELETE', token: db.token })).status).toBe(200)
    for (const copy of copies) {
      const tables = await namespaceClient(copy.storage, copy.namespace).execute(
        "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      )
      expect(Number(tables.rows[0]?.n)).toBe(0)
    }
    for (let shard = 0; shard < SHARDS; shard++) {
      const id = env.DATABASE_REPLICATORS.idFromName(`${db.tenant}:database-replicator:${db.name}#${shard}`)
      expect(await runInDurableObject(env.DATABASE_REPLICATORS.get(id), (object) => object.status())).toEqual(
        [],
      )
    }
  })

  it('keep tenants apart', async () => {
    const db = await partitionedDatabase()
    const replica = await addReplica(db)
    const other = await tokenFor(uniqueTenant('sdb'), ['databases:read', 'databases:write'])
    const path = `/v1/databases/${db.name}/replicas`
    expect((await call(path, { token: other })).status).toBe(404)
    expect((await call(path, { token: other, body: {} })).status).toBe(404)
    expect((await call(`${path}/${replica.id}`, { token: other })).status).toBe(404)
    expect((await call(`${path}/${replica.id}`, { method: 'DELETE', token: other })).status).toBe(404)
    expect((await call(`/v1/databases/${db.name}/shards`, { token: other })).status).toBe(404)
    await expect(platformClient(db.url, other).execute('SELECT 1')).rejects.toThrow(/No database/)
    expect(((await call(path, { token: db.token })).body.items as unknown[]).length).toBe(1)
  })
})

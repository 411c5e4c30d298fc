/**
 * Partitioned databases through the platform with the official client: rows spread over
 * shard databases on the storage nodes, pinned statements, scatter-gather reads, batches and
 * transactions confined to one shard, refusals in Hrana's shape with nothing changed.
 */
import { LibsqlError } from '@libsql/client/web'
import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { platformClient } from './support'

async function partitionedDatabase(shards = 3) {
  const tenant = uniqueTenant('pdb')
  const token = await tokenFor(tenant, ['databases:read', 'databases:write'])
  const name = `p-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/databases', {
    token,
    body: {
      name,
      partitioning: {
        shards,
        tables: {
          orders: { key: 'customer', by: 'hash' },
          events: { key: 'day', by: 'range', bounds: [10, 20] },
        },
      },
    },
  })
  expect(created.status).toBe(201)
  expect((created.body.partitioning as { nodes: string[] }).nodes).toHaveLength(shards)
  const url = `http://edge.test${created.body.url as string}`
  const migrated = await call(`/v1/databases/${name}/migrations`, {
    token,
    body: {
      id: 'v1',
      statements: [
        'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, total REAL NOT NULL, note TEXT)',
        'CREATE INDEX orders_customer ON orders (customer)',
        'CREATE TABLE events (day INTEGER NOT NULL, what TEXT NOT NULL)',
      ],
    },
  })
  expect(migrated.status).toBe(200)
  return { tenant, token, name, url, db: platformClient(url, token) }
}

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(LibsqlError)
  return error as LibsqlError
}

describe('partitioned databases', () => {
  it('spreads rows by key and answers pinned and scattered reads as one database would', async () => {
    const { db } = await partitionedDatabase()
    for (let customer = 1; customer <= 30; customer++)
      await db.execute({
        sql: 'INSERT INTO orders (id, customer, total) VALUES (?, ?, ?)',
        args: [customer * 10, customer, customer * 1.5],
      })
    await db.batch(
      [1, 2, 3].map((n) => ({
        sql: 'INSERT INTO orders (id, customer, total) VALUES (?, 7, ?)',
        args: [1000 + n, n],
      })),
      'write',
    )
    const pinned = await db.execute({
      sql: 'SELECT id, total FROM orders WHERE customer = ? ORDER BY id',
      args: [7],
    })
    expect(pinned.rows.map((r) => r.id)).toEqual([70, 1001, 1002, 1003])
    const totals = await db.execute(
      'SELECT count(*) AS n, sum(total) AS s, max(customer) AS top, avg(total) AS mean FROM orders',
    )
    expect(totals.columns).toEqual(['n', 's', 'top', 'mean'])
    expect(totals.rows[0]?.n).toBe(33)
    expect(totals.rows[0]?.s).toBeCloseTo(703.5)
    expect(totals.rows[0]?.top).toBe(30)
    expect(totals.rows[0]?.mean).toBeCloseTo(703.5 / 33)
    const page = await db.execute('SELECT customer FROM orders ORDER BY total DESC, id LIMIT 3 OFFSET 1')
    expect(page.rows.map((r) => r.customer)).toEqual([29, 28, 27])
    const grouped = await db.execute(
      'SELECT customer, count(*) AS n FROM orders WHERE customer IN (7, 8, 9) GROUP BY customer',
    )
    expect(grouped.rows.map((r) => [r.customer, r.n])).toEqual([
      [7, 4],
      [8, 1],
      [9, 1],
    ])
  })

  it('keeps a transaction on its shard: commits there, refuses another shard, rolls back whole', async () => {
    const { db } = await partitionedDatabase()
    const tx = await db.transaction('write')
    await tx.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [3, 'a'] })
    await tx.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [5, 'b'] })
    expect((await tx.execute('SELECT count(*) AS n FROM events WHERE day IN (3, 5)')).rows[0]?.n).toBe(2)
    const elsewhere = await refusal(
      tx.execute({ sql: 'INSERT INTO events (day, what) VALUES (?, ?)', args: [15, 'c'] }),
    )
    expect(elsewhere.code).toBe('PARTITION_UNSUPPORTED')
    await tx.commit()
    expect((await db.execute('SELECT count(*) AS n FROM events')).rows[0]?.n).toBe(2)

    const undone = await db.transaction('write')
    await undone.execute("INSERT INTO events (day, what) VALUES (25, 'x')")
    await undone.rollback()
    const spanning = await refusal(
      db.batch(
        ["INSERT INTO events (day, what) VALUES (11, 'y')", "INSERT INTO events (day, what) VALUES (1, 'z')"],
        'write',
      ),
    )
    expect(spanning.code).toBe('PARTITION_UNSUPPORTED')
    expect((await db.execute('SELECT day FROM events ORDER BY day')).rows.map((r) => r.day)).toEqual([3, 5])
  })

  it('refuses cross-shard writes and unmergeable reads in Hrana errors, changing nothing', async () => {
    const { db } = await partitionedDatabase()
    await db.execute('INSERT INTO orders (id, customer, total) VALUES (1, 1, 10), (2, 1, 20)')
    for (const sql of [
      'UPDATE orders SET total = 0',
      'DELETE FROM orders WHERE total > 5',
      'UPDATE orders SET customer = 2 WHERE customer = 1',
      'SELECT customer, count(*) FROM orders GROUP BY customer HAVING count(*) > 1',
      'SELECT * FROM orders JOIN events ON orders.customer = events.day',
    ])
      expect((await refusal(db.execute(sql))).code, sql).toBe('PARTITION_UNSUPPORTED')
    expect((await db.execute('SELECT sum(total) AS s FROM orders')).rows[0]?.s).toBe(30)
  })

  it('validates partitioning and keeps tenants apart', async () => {
    const token = await tokenFor(uniqueTenant('pdb'), ['databases:read', 'databases:write'])
    for (const partitioning of [
      { shards: 0, tables: { t: { key: 'k', by: 'hash' } } },
      { shards: 3, tables: { t: { key: 'k', by: 'range', bounds: [20, 10] } } },
      { shards: 3, tables: { t: { key: 'k', by: 'range' } } },
      { shards: 2, tables: {} },
      { shards: 2, tables: { 't; drop': { key: 'k', by: 'hash' } } },
    ]) {
      const response = await call('/v1/databases', { token, body: { name: 'bad', partitioning } })
      expect(response.status, JSON.stringify(partitioning)).toBe(400)
    }
    expect((await call('/v1/databases/bad', { token })).status).toBe(404)
    const { url } = await partitionedDatabase()
    const stranger = platformClient(url, await tokenFor(uniqueTenant('other'), ['databases:read']))
    expect((await refusal(stranger.execute('SELECT count(*) FROM orders'))).code).toBe('NOT_FOUND')
  })
})

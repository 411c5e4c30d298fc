/**
 * Read replicas on other storage nodes (the real local libSQL servers): exact convergence
 * (row by row, schema changes included) under concurrent writes, read-your-writes through a
 * deliberately delayed replica for 1,000 write-then-read pairs, lag reported, bad input
 * refused with nothing changed, tenants kept apart. The replicator's runs are driven by
 * calling it (as its alarm does), never by sleeping.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { type HranaValue, newDatabase, platformClient, runStatement, settleReplicas } from './support'

type Db = Awaited<ReturnType<typeof newDatabase>>
type Value = HranaValue

async function sync(db: Db): Promise<void> {
  const id = env.DATABASE_REPLICATORS.idFromName(`${db.tenant}:database-replicator:${db.name}`)
  await runInDurableObject(env.DATABASE_REPLICATORS.get(id), (object) => object.sync())
}

async function addReplica(db: Db, body: Record<string, unknown> = {}) {
  const created = await call(`/v1/databases/${db.name}/replicas`, { token: db.token, body })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return created.body as { id: string; node: string; state: string }
}

/** One statement over raw Hrana, its replication position as a number (a single database's). */
async function run(
  db: Db,
  sql: string,
  options: { replica?: string; position?: number; args?: Value[] } = {},
) {
  const answer = await runStatement(db, sql, options)
  return {
    ...answer,
    position: Number(answer.position),
    field: answer.field as number | undefined,
  }
}

async function fetchWorker(url: string, init: RequestInit): Promise<Response> {
  const { SELF } = await import('cloudflare:test')
  return SELF.fetch(url, init)
}

/** Every user table's rows with their rowids and exact types, from the copy `replica` names. */
async function snapshot(db: Db, replica?: string): Promise<string> {
  const tables = await run(
    db,
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_edgeblocks\\_%' ESCAPE '\\' ORDER BY name",
    replica ? { replica } : {},
  )
  if (replica) expect(tables.servedBy).toBe(`replica:${replica}`)
  const parts: string[] = []
  for (const row of tables.rows) {
    const name = String(row[0]?.value)
    const rows = await run(
      db,
      `SELECT rowid AS _rid, * FROM "${name}" ORDER BY rowid`,
      replica ? { replica } : {},
    )
    if (replica) expect(rows.servedBy).toBe(`replica:${replica}`)
    parts.push(`${name}: ${JSON.stringify(rows.rows)}`)
  }
  return parts.join('\n')
}

/** Equal snapshots, or a failure showing only where they first differ. */
function expectSame(replica: string, primary: string, context = ''): void {
  if (replica === primary) return
  let i = 0
  while (replica[i] === primary[i]) i++
  expect(replica.slice(Math.max(0, i - 80), i + 120), context).toBe(
    primary.slice(Math.max(0, i - 80), i + 120),
  )
}

describe('read replicas', () => {
  it('copy the primary exactly, schema changes and every value type included', async () => {
    const db = await newDatabase()
    const client = platformClient(db.url, db.token, 'bigint')
    await client.batch(
      [
        'CREATE TABLE t (id INTEGER PRIMARY KEY, big INTEGER, r REAL, s TEXT, b BLOB, n)',
        'CREATE INDEX t_s ON t (s)',
        {
          sql: 'INSERT INTO t (big, r, s, b, n) VALUES (?, ?, ?, ?, ?)',
          args: [9007199254740993n, 0.1 + 0.2, 'hé"l\'lo', new Uint8Array([0, 1, 255]), null],
        },
        "INSERT INTO t (big, r, s, b, n) VALUES (-5, 2.0, '', x'', 1.5)",
      ],
      'write',
    )
    const replica = await addReplica(db)
    expect(['catching-up', 'ready']).toContain(replica.state)
    expect(replica.node).not.toBe((await call(`/v1/databases/${db.name}`, { token: db.token })).body.node)
    await sync(db)
    expectSame(await snapshot(db, replica.id), await snapshot(db))
    await client.batch(
      [
        'ALTER TABLE t ADD COLUMN extra TEXT',
        "UPDATE t SET extra = 'x', id = 10 WHERE id = 1",
        'DELETE FROM t WHERE id = 2',
        'CREATE TABLE u (k TEXT UNIQUE, v)',
        "INSERT INTO u VALUES ('a', 1), ('b', 2)",
        "INSERT OR REPLACE INTO u VALUES ('a', 3)",
        'CREATE VIEW tv AS SELECT id, s FROM t',
      ],
      'write',
    )
    await call(`/v1/databases/${db.name}/migrations`, {
      token: db.token,
      body: { id: '001', statements: ['CREATE TABLE m (x)', 'INSERT INTO m VALUES (42)', 'DROP TABLE u'] },
    })
    await sync(db)
    const status = await call(`/v1/databases/${db.name}/replicas`, { token: db.token })
    expect(status.body.items).toEqual([expect.objectContaining({ error: null, lagChanges: 0 })])
    const primary = await snapshot(db)
    expect(primary).toContain('m: ')
    expect(primary).not.toContain('u: ')
    expectSame(await snapshot(db, replica.id), primary)
    expect((await run(db, 'SELECT count(*) FROM tv', { replica: replica.id })).servedBy).toBe(
      `replica:${replica.id}`,
    )
    const listed = await call(`/v1/databases/${db.name}/replicas`, { token: db.token })
    expect(listed.body.items).toEqual([
      expect.objectContaining({ id: replica.id, state: 'ready', lagChanges: 0, lagMs: 0, error: null }),
    ])
  })

  it('converge row by row under concurrent writes', async () => {
    const db = await newDatabase()
    const client = platformClient(db.url, db.token)
    await client.execute('CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER)')
    const first = await addReplica(db)
    const second = await addReplica(db)
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 30; i++) {
        const id = w * 1000 + i
        await client.execute({ sql: 'INSERT INTO acct VALUES (?, ?, ?)', args: [id, `w${w}`, i] })
        if (i % 3 === 0)
          await client.execute({
            sql: 'UPDATE acct SET balance = balance + 7 WHERE owner = ?',
            args: [`w${w}`],
          })
        if (i % 5 === 0) await client.execute({ sql: 'DELETE FROM acct WHERE id = ?', args: [id - 1] })
        if (i % 10 === 0) await sync(db)
      }
    })
    await Promise.all(writers)
    // A replica's batch can fail while the writers hold the nodes busy; it is retried after a back-off.
    const met = await settleReplicas(`${db.tenant}:database-replicator:${db.name}`)
    const primary = await snapshot(db)
    expect(primary.length).toBeGreaterThan(1000)
    const context = `replication errors met while catching up: ${met.join(' | ') || 'none'}`
    expectSame(await snapshot(db, first.id), primary, context)
    expectSame(await snapshot(db, second.id), primary, context)
  }, 120_000)

  it('keep read-your-writes for 1,000 write-then-read pairs through a delayed replica', async () => {
    const db = await newDatabase()
    await platformClient(db.url, db.token).execute('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)')
    const delayed = await addReplica(db, { delaySeconds: 3600 })
    const live = await addReplica(db)
    await sync(db)
    const served = new Map<string, number>()
    let next = 0
    const pair = async () => {
      while (next < 1000) {
        const k = next++
        const write = await run(db, 'INSERT INTO kv VALUES (?, ?)', {
          args: [
            { type: 'integer', value: String(k) },
            { type: 'text', value: `v${k}` },
          ],
        })
        expect(write.servedBy).toBe('primary')
        expect(write.field).toBe(write.position)
        if (k % 10 === 0) await sync(db)
        const read = await run(db, 'SELECT v FROM kv WHERE k = ?', {
          replica: 'nearest',
          position: write.position,
          args: [{ type: 'integer', value: String(k) }],
        })
        expect(read.rows, `pair ${k} via ${read.servedBy}`).toEqual([[{ type: 'text', value: `v${k}` }]])
        expect(read.position).toBeGreaterThanOrEqual(write.position)
        served.set(read.servedBy ?? '', (served.get(read.servedBy ?? '') ?? 0) + 1)
      }
    }
    await Promise.all(Array.from({ length: 8 }, pair))
    expect([...served.values()].reduce((a, b) => a + b, 0)).toBe(1000)
    expect(served.get(`replica:${live.id}`)).toBeGreaterThan(0)
    expect(served.get(`replica:${delayed.id}`)).toBeUndefined()
    // Without a position the delayed replica answers with its old state: the documented staleness.
    const stale = await run(db, 'SELECT count(*) FROM kv', { replica: delayed.id })
    expect(stale.servedBy).toBe(`replica:${delayed.id}`)
    expect(stale.rows).toEqual([[{ type: 'integer', value: '0' }]])
    const lag = await call(`/v1/databases/${db.name}/replicas/${delayed.id}`, { token: db.token })
    // (1,000 inserts, and the second replica's starting copy, all younger than the delay.)
    expect(lag.body).toMatchObject({ id: delayed.id, state: 'ready', delaySeconds: 3600, lagChanges: 1001 })
    expect(lag.body.lagMs).toBeGreaterThanOrEqual(0)
    const caughtUp = await call(`/v1/databases/${db.name}/replicas/${live.id}`, { token: db.token })
    expect(caughtUp.body).toMatchObject({ lagChanges: 0 })
    expect(caughtUp.body.lagP99Ms).toBeGreaterThanOrEqual(0)
  }, 240_000)

  it('refuse bad input and change nothing', async () => {
    const db = await newDatabase()
    const path = `/v1/databases/${db.name}/replicas`
    const primaryNode = (await call(`/v1/databases/${db.name}`, { token: db.token })).body.node
    for (const [body, status] of [
      [{ delaySeconds: -1 }, 400],
      [{ delaySeconds: 1.5 }, 400],
      [{ delaySeconds: 86_401 }, 400],
      [{ node: 'NODE' }, 400],
      [{ node: 'node-99' }, 400],
      [{ extra: true }, 400],
      [{ node: primaryNode }, 409],
    ] as const) {
      const refused = await call(path, { token: db.token, body })
      expect(refused.status, JSON.stringify(body)).toBe(status)
      expect(refused.headers.get('content-type')).toContain('application/problem+json')
    }
    expect((await call(path, { token: db.token })).body).toEqual({ items: [] })
    await addReplica(db)
    await addReplica(db)
    expect((await call(path, { token: db.token, body: {} })).status).toBe(409)
    expect(((await call(path, { token: db.token })).body.items as unknown[]).length).toBe(2)
    expect((await call(`${path}/bad-id`, { token: db.token })).status).toBe(400)
    expect((await call(`${path}/r-00000000`, { token: db.token })).status).toBe(404)
    expect((await call(`${path}/r-00000000`, { method: 'DELETE', token: db.token })).status).toBe(404)
    expect((await call('/v1/databases/missing/replicas', { token: db.token, body: {} })).status).toBe(404)
    const badPosition = await fetchWorker(`${db.url}v3/pipeline`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${db.token}`,
        'content-type': 'application/json',
        'edgeblocks-replication-position': 'soon',
      },
      body: JSON.stringify({ baton: null, requests: [] }),
    })
    expect(badPosition.status).toBe(400)
    const reader = await tokenFor(db.tenant, ['databases:read'])
    expect((await call(path, { token: reader, body: {} })).status).toBe(403)
  })

  it('delete a replica: reads stop going to it', async () => {
    const db = await newDatabase()
    await platformClient(db.url, db.token).batch(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)'], 'write')
    const replica = await addReplica(db)
    await sync(db)
    expect((await run(db, 'SELECT x FROM t', { replica: replica.id })).servedBy).toBe(`replica:${replica.id}`)
    const deleted = await call(`/v1/databases/${db.name}/replicas/${replica.id}`, {
      method: 'DELETE',
      token: db.token,
    })
    expect(deleted.body).toEqual({ deleted: true })
    const after = await run(db, 'SELECT x FROM t', { replica: 'nearest' })
    expect(after.servedBy).toBe('primary')
    expect(after.rows).toEqual([[{ type: 'integer', value: '1' }]])
    expect((await call(`/v1/databases/${db.name}/replicas`, { token: db.token })).body).toEqual({ items: [] })
  })

  it('keep tenants apart', async () => {
    const db = await newDatabase()
    const replica = await addReplica(db)
    const other = await tokenFor(uniqueTenant('db'), ['databases:read', 'databases:write'])
    const path = `/v1/databases/${db.name}/replicas`
    expect((await call(path, { token: other })).status).toBe(404)
    expect((await call(path, { token: other, body: {} })).status).toBe(404)
    expect((await call(`${path}/${replica.id}`, { token: other })).status).toBe(404)
    expect((await call(`${path}/${replica.id}`, { method: 'DELETE', token: other })).status).toBe(404)
    await expect(platformClient(db.url, other).execute('SELECT 1')).rejects.toThrow(/No database/)
    expect(((await call(path, { token: db.token })).body.items as unknown[]).length).toBe(1)
  })
})

/**
 * Online resharding under a write load through the Hrana URL: a range split and a move to
 * another node, each driven step by step with the job's alarm (and once by a fresh instance of
 * the object, as after a restart, and once re-running a step whose state was not saved, as
 * after a crash). Afterwards the rows equal exactly the acknowledged writes, each on the shard
 * the new map names, none twice; a router holding the old map is fenced; refused requests
 * change nothing. The same for a split of a hash shard (its hash range cut in two), and a
 * database stored with the old `hash mod N` scheme still routes as before and refuses a split. The shard analysis counts a known load exactly.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  DATABASE_KIND,
  type DatabaseConfig,
  forgetDatabase,
  getDatabase,
  namespaceClient,
} from '../../workers/databases/catalog'
import { fencedAnswer, partitionedPipeline } from '../../workers/databases/partitioned-hrana'
import { hashPoint } from '../../workers/databases/partitions/hash-ranges'
import { shardOfKey } from '../../workers/databases/partitions/scheme'
import { partitionKeyText } from '../../workers/databases/partitions/values'
import { CLEANUP_GRACE_MS, DatabaseReshardJob, type JobState } from '../../workers/databases/reshard-job'
import { readConfig } from '../../workers/platform/config'
import { hash32 } from '../../workers/platform/hashing'
import { getResource, updateResource } from '../../workers/platform/registry'
import { storageNodes } from '../../workers/platform/storage-nodes'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { platformClient } from './support'

type Row = { id: number; day: number; what: string }

async function setup(tables: Record<string, unknown>, shards: number) {
  const tenant = uniqueTenant('rsh')
  const token = await tokenFor(tenant, ['databases:read', 'databases:write'])
  const name = `r-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/databases', { token, body: { name, partitioning: { shards, tables } } })
  expect(created.status).toBe(201)
  const db = platformClient(`http://edge.test${created.body.url as string}`, token)
  await db.execute('CREATE TABLE events (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, what TEXT NOT NULL)')
  return { tenant, token, name, db }
}

/** A writer that keeps `rows` equal to what the platform acknowledged. */
function writer(
  db: ReturnType<typeof platformClient>,
  rows: Map<number, Row>,
  dayOf: (id: number) => number,
) {
  let next = 10_000
  let refused = 0
  const op = async (i: number) => {
    const kind = i % 4
    const victim = [...rows.values()][(i * 7919) % Math.max(rows.size, 1)]
    try {
      if (kind === 3 && victim) {
        await db.execute({
          sql: 'DELETE FROM events WHERE day = ? AND id = ?',
          args: [victim.day, victim.id],
        })
        rows.delete(victim.id)
      } else if (kind === 2 && victim) {
        const what = `u${i}`
        await db.execute({
          sql: 'UPDATE events SET what = ? WHERE day = ? AND id = ?',
          args: [what, victim.day, victim.id],
        })
        rows.set(victim.id, { ...victim, what })
      } else {
        const row = { id: next++, day: dayOf(next), what: `w${i}` }
        await db.execute({
          sql: 'INSERT INTO events (id, day, what) VALUES (?, ?, ?)',
          args: [row.id, row.day, row.what],
        })
        rows.set(row.id, row)
      }
    } catch (error) {
      // A fenced write did not run: 503 with Retry-After (not acknowledged, so not expected).
      expect(String(error)).toMatch(/503|RESHARDING/)
      refused++
    }
  }
  let i = 0
  return {
    burst: async (n: number) => {
      for (let k = 0; k < n; k++) await op(i++)
    },
    refused: () => refused,
  }
}

const jobStub = (tenant: string, name: string, job: string) =>
  env.DATABASE_RESHARDS.get(env.DATABASE_RESHARDS.idFromName(`${tenant}:database-reshard:${name}/${job}`))

/** Drives the job to done: an alarm per step with writes beside it, a restart and a replayed step on the way. */
async function drive(
  tenant: string,
  name: string,
  job: string,
  burst: (n: number) => Promise<void>,
  onPhase?: (phase: string) => Promise<void>,
) {
  const stub = jobStub(tenant, name, job)
  const phases = new Set<string>()
  for (let step = 0; step < 200; step++) {
    const state = await runInDurableObject(stub, (_, ctx) => ctx.storage.get<JobState>('job'))
    if (!state || state.phase === 'done') return phases
    phases.add(state.phase)
    expect(state.error).toBeNull()
    // The job's clock runs ahead, past the grace period before cleanup (no waiting in tests).
    const skew = step * CLEANUP_GRACE_MS
    await runInDurableObject(stub, (instance: DatabaseReshardJob) => {
      instance.clock = () => Date.now() + skew
    })
    await onPhase?.(state.phase)
    if (step === 3) {
      // A restart: a fresh instance over the same storage resumes where the job was.
      await runInDurableObject(stub, (_, ctx) => {
        const restarted = new DatabaseReshardJob(ctx, env)
        restarted.clock = () => Date.now() + skew
        return restarted.step()
      })
    } else if (step === 5 || state.phase === 'cutover' || state.phase === 'final-catch-up') {
      // A crash after a step's work but before its state was saved: the step runs again.
      await runInDurableObject(stub, async (instance, ctx) => {
        await instance.step()
        await ctx.storage.put('job', state)
        await instance.step()
      })
    } else {
      const fired = runDurableObjectAlarm(stub)
      await Promise.all([fired, burst(3)])
      if (!(await fired)) await runInDurableObject(stub, (instance) => instance.step())
    }
    await burst(2)
  }
  throw new Error('the job did not finish')
}

async function checkRows(
  tenant: string,
  name: string,
  db: ReturnType<typeof platformClient>,
  rows: Map<number, Row>,
) {
  const expected = [...rows.values()].sort((a, b) => a.id - b.id)
  const through = await db.execute('SELECT id, day, what FROM events ORDER BY id')
  expect(through.rows.map((r) => ({ id: r.id, day: r.day, what: r.what }))).toEqual(expected)
  const sums = await db.execute('SELECT count(*) AS n, sum(id) AS ids, sum(day) AS days FROM events')
  expect(sums.rows[0]).toMatchObject({
    n: expected.length,
    ids: expected.reduce((s, r) => s + r.id, 0),
    days: expected.reduce((s, r) => s + r.day, 0),
  })
  forgetDatabase(tenant, name)
  const fresh = await getDatabase(env, tenant, name)
  const partitions = fresh.partitions as NonNullable<typeof fresh.partitions>
  const seen = new Set<number>()
  for (const [index, shard] of partitions.shards.entries()) {
    const found = await namespaceClient(shard.node, shard.namespace).execute('SELECT id, day FROM events')
    for (const row of found.rows) {
      expect(seen.has(Number(row.id)), `row ${row.id} twice`).toBe(false)
      seen.add(Number(row.id))
      expect(shardOfKey(partitions.scheme, partitions.scheme.tables.events as never, Number(row.day))).toBe(
        index,
      )
    }
  }
  expect(seen.size).toBe(expected.length)
  return fresh
}

/** A Hrana pipeline of one statement run by a router holding `db` (possibly an old map). */
function staleRun(db: Awaited<ReturnType<typeof getDatabase>>, sql: string) {
  const body = JSON.stringify({
    baton: null,
    requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }],
  })
  const ctx = { secret: readConfig(env).jwtSecret, db, readOnly: false }
  return fencedAnswer(() => partitionedPipeline(ctx, body))
}

const problemOf = async (name: string, token: string, body: unknown) => {
  const answer = await call(`/v1/databases/${name}/reshard`, { token, body })
  return { status: answer.status, detail: String(answer.body.detail ?? '') }
}

describe('online resharding', () => {
  it('splits a range shard while writes go on: nothing lost, nothing twice, stale routers fenced', async () => {
    const { tenant, token, name, db } = await setup(
      { events: { key: 'day', by: 'range', bounds: [100, 200] } },
      3,
    )
    const rows = new Map<number, Row>()
    for (let base = 0; base < 1500; base += 100) {
      const chunk = Array.from({ length: 100 }, (_, k) => ({
        id: base + k + 1,
        day: 100 + ((base + k) % 100),
        what: 'seed',
      }))
      await db.execute({
        sql: `INSERT INTO events (id, day, what) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
        args: chunk.flatMap((r) => [r.id, r.day, r.what]),
      })
      for (const r of chunk) rows.set(r.id, r)
    }
    const stale = await getDatabase(env, tenant, name)
    const before = await call(`/v1/databases/${name}`, { token })
    for (const body of [
      { split: { shard: 1, at: 50 } },
      { split: { shard: 1, at: 100 } },
      { split: { shard: 7, at: 150 } },
      { move: { shard: 1, node: 'nowhere' } },
      { move: { shard: 1, node: stale.partitions?.shards[1]?.node.id } },
      {},
    ])
      expect(
        (await call(`/v1/databases/${name}/reshard`, { token, body })).status,
        JSON.stringify(body),
      ).toBe(400)
    expect((await call(`/v1/databases/${name}`, { token })).body.version).toBe(before.body.version)

    const started = await call(`/v1/databases/${name}/reshard`, {
      token,
      body: { split: { shard: 1, at: 150 } },
    })
    expect(started.status).toBe(202)
    const job = started.body.id as string
    const again = await call(`/v1/databases/${name}/reshard`, {
      token,
      body: { split: { shard: 0, at: 50 } },
    })
    expect(again.status).toBe(409)
    const migration = { id: 'v2', statements: ['CREATE INDEX events_day ON events (day)'] }
    expect((await call(`/v1/databases/${name}/migrations`, { token, body: migration })).status).toBe(409)
    const load = writer(db, rows, (id) => [120, 160, 170, 199, 30, 250][id % 6] as number)
    // Between cutover and cleanup the moved rows are still at the source: a router with the old
    // map that updates one is fenced too (503), and the row keeps its acknowledged value.
    let staleUpdates = 0
    const staleUpdate = async (phase: string) => {
      if (phase !== 'cleanup' || staleUpdates > 0) return
      const victim = [...rows.values()].find((row) => row.day >= 150 && row.day < 200) as Row
      const body = JSON.stringify({
        baton: null,
        requests: [
          {
            type: 'execute',
            stmt: { sql: `UPDATE events SET what = 'stale' WHERE day = ${victim.day} AND id = ${victim.id}` },
          },
          { type: 'close' },
        ],
      })
      const ctx = { secret: readConfig(env).jwtSecret, db: stale, readOnly: false }
      expect((await fencedAnswer(() => partitionedPipeline(ctx, body))).status).toBe(503)
      staleUpdates++
    }
    const phases = await drive(tenant, name, job, load.burst, staleUpdate)
    expect(staleUpdates).toBe(1)
    expect([...phases]).toEqual(
      expect.arrayContaining(['copy', 'catch-up', 'freeze', 'final-catch-up', 'cutover', 'cleanup']),
    )

    // Writes to the moving range met the freeze (503, not applied); the rest went on.
    expect(load.refused()).toBeGreaterThan(0)
    const status = await call(`/v1/databases/${name}/reshard/${job}`, { token })
    expect(status.body).toMatchObject({ phase: 'done', kind: 'split', mapVersion: 2, error: null })
    expect(status.body.rowsCopied as number).toBeGreaterThanOrEqual(700)
    expect(status.body.changesCaughtUp as number).toBeGreaterThan(0)
    const fresh = await checkRows(tenant, name, db, rows)
    expect(fresh.partitions?.scheme.tables.events?.bounds).toEqual([100, 150, 200])
    expect(fresh.partitions?.version).toBe(2)
    expect((await call(`/v1/databases/${name}/migrations`, { token, body: migration })).status).toBe(200)

    // A router still holding map version 1 sends day 170 to the old shard: fenced, 503.
    const ctx = { secret: readConfig(env).jwtSecret, db: stale, readOnly: false }
    const statement = (day: number) =>
      JSON.stringify({
        baton: null,
        requests: [
          {
            type: 'execute',
            stmt: { sql: `INSERT INTO events (id, day, what) VALUES (${90_000 + day}, ${day}, 'stale')` },
          },
          { type: 'close' },
        ],
      })
    const fenced = await fencedAnswer(() => partitionedPipeline(ctx, statement(170)))
    expect(fenced.status).toBe(503)
    expect(fenced.headers.get('retry-after')).toBe('1')
    const kept = await partitionedPipeline(ctx, statement(120))
    expect(kept.status).toBe(200)
    expect((await db.execute('SELECT count(*) AS n FROM events WHERE what = ?', ['stale'])).rows[0]?.n).toBe(
      1,
    )
  })

  it('moves a shard to another storage node while writes go on', async () => {
    const { tenant, token, name, db } = await setup({ events: { key: 'day', by: 'hash' } }, 2)
    const rows = new Map<number, Row>()
    for (let id = 1; id <= 60; id++) {
      await db.execute({
        sql: 'INSERT INTO events (id, day, what) VALUES (?, ?, ?)',
        args: [id, id % 13, 'seed'],
      })
      rows.set(id, { id, day: id % 13, what: 'seed' })
    }
    const stale = await getDatabase(env, tenant, name)
    const from = stale.partitions?.shards[1]?.node.id
    const to = storageNodes(env).find((node) => node.id !== from)?.id as string
    expect(
      (await call(`/v1/databases/${name}/reshard`, { token, body: { split: { shard: 1, at: 5 } } })).status,
    ).toBe(400)
    const started = await call(`/v1/databases/${name}/reshard`, {
      token,
      body: { move: { shard: 1, node: to } },
    })
    expect(started.status).toBe(202)
    const load = writer(db, rows, (id) => id % 13)
    await drive(tenant, name, started.body.id as string, load.burst)
    const fresh = await checkRows(tenant, name, db, rows)
    expect(fresh.partitions?.shards[1]?.node.id).toBe(to)
    const old = stale.partitions?.shards[1] as NonNullable<typeof stale.partitions>['shards'][number]
    expect(
      (await namespaceClient(old.node, old.namespace).execute('SELECT count(*) AS n FROM events')).rows[0]?.n,
    ).toBe(0)
  })

  it('reports per-shard size, rows, statement counts and hottest keys exactly for a known load', async () => {
    const { name, token, db } = await setup({ events: { key: 'day', by: 'range', bounds: [100] } }, 2)
    for (let i = 0; i < 12; i++)
      await db.execute({
        sql: 'INSERT INTO events (id, day, what) VALUES (?, ?, ?)',
        args: [i + 1, i < 9 ? 7 : 150 + i, 'x'],
      })
    for (let i = 0; i < 5; i++) await db.execute({ sql: 'SELECT * FROM events WHERE day = ?', args: [7] })
    await db.execute('SELECT count(*) FROM events')
    const analysis = await call<{ shards: Array<Record<string, unknown>>; mapVersion: number }>(
      `/v1/databases/${name}/shards`,
      { token },
    )
    expect(analysis.status).toBe(200)
    type Shard = {
      tables: unknown
      sizeBytes: number
      reads: { count: number }
      writes: { count: number }
      hottestKeys: unknown[]
    }
    const [low, high] = analysis.body.shards as unknown as [Shard, Shard]
    expect(low.tables).toEqual([{ name: 'events', rows: 9 }])
    expect(high.tables).toEqual([{ name: 'events', rows: 3 }])
    expect(low.sizeBytes).toBeGreaterThan(0)
    // CREATE TABLE ran on both shards (a write each); 9 + 3 inserts; 5 pinned reads and one scatter.
    expect(low.writes.count).toBe(10)
    expect(high.writes.count).toBe(4)
    expect(low.reads.count).toBe(6)
    expect(high.reads.count).toBe(1)
    expect(low.hottestKeys[0]).toEqual({ table: 'events', key: 7, count: 14, error: 0 })
    expect(high.hottestKeys).toHaveLength(3)
    expect(analysis.body.mapVersion).toBe(1)
  })

  it('splits a hash shard while writes go on: each acknowledged row once, on the shard of its hash range', async () => {
    const { tenant, token, name, db } = await setup({ events: { key: 'day', by: 'hash' } }, 2)
    const created = await getDatabase(env, tenant, name)
    expect(created.partitions?.scheme.tables.events?.bounds).toEqual([2 ** 31])
    // Shard 1 holds hash points [2^31, 2^32); its split at the midpoint moves [3·2^30, 2^32).
    const middle = 3 * 2 ** 30
    const days = Array.from({ length: 400 }, (_, day) => day)
    const moving = days.filter((day) => hashPoint(day) >= middle)
    const staying = days.filter((day) => hashPoint(day) >= 2 ** 31 && hashPoint(day) < middle)
    const home = days.filter((day) => hashPoint(day) < 2 ** 31)
    const rows = new Map<number, Row>()
    for (let base = 0; base < 1200; base += 100) {
      const chunk = Array.from({ length: 100 }, (_, k) => ({
        id: base + k + 1,
        day: (base + k) % 400,
        what: 'seed',
      }))
      for (const shard of [0, 1]) {
        const mine = chunk.filter((r) => (hashPoint(r.day) < 2 ** 31 ? 0 : 1) === shard)
        await db.execute({
          sql: `INSERT INTO events (id, day, what) VALUES ${mine.map(() => '(?, ?, ?)').join(', ')}`,
          args: mine.flatMap((r) => [r.id, r.day, r.what]),
        })
      }
      for (const r of chunk) rows.set(r.id, r)
    }
    await checkRows(tenant, name, db, rows)
    const stale = await getDatabase(env, tenant, name)
    const before = await call(`/v1/databases/${name}`, { token })
    for (const at of [2 ** 31, 2 ** 32, 5, 2 ** 31 + 0.5, 'x'])
      expect((await problemOf(name, token, { split: { shard: 1, at } })).status, String(at)).toBe(400)
    expect((await problemOf(name, token, { split: { shard: 2 } })).status).toBe(400)
    expect((await call(`/v1/databases/${name}`, { token })).body.version).toBe(before.body.version)

    const started = await call(`/v1/databases/${name}/reshard`, { token, body: { split: { shard: 1 } } })
    expect(started.status).toBe(202)
    const job = started.body.id as string
    expect((await problemOf(name, token, { split: { shard: 0 } })).status).toBe(409)
    const pick = (list: number[], id: number) => list[id % list.length] as number
    const load = writer(db, rows, (id) =>
      id % 3 === 0 ? pick(home, id) : id % 3 === 1 ? pick(staying, id) : pick(moving, id),
    )
    let staleUpdates = 0
    const staleUpdate = async (phase: string) => {
      if (phase !== 'cleanup' || staleUpdates > 0) return
      const victim = [...rows.values()].find((row) => hashPoint(row.day) >= middle) as Row
      const sql = `UPDATE events SET what = 'stale' WHERE day = ${victim.day} AND id = ${victim.id}`
      expect((await staleRun(stale, sql)).status).toBe(503)
      staleUpdates++
    }
    const phases = await drive(tenant, name, job, load.burst, staleUpdate)
    expect(staleUpdates).toBe(1)
    expect([...phases]).toEqual(
      expect.arrayContaining(['copy', 'catch-up', 'freeze', 'final-catch-up', 'cutover', 'cleanup']),
    )
    expect(load.refused()).toBeGreaterThan(0)
    const status = await call(`/v1/databases/${name}/reshard/${job}`, { token })
    expect(status.body).toMatchObject({ phase: 'done', kind: 'split', mapVersion: 2, error: null })
    expect(status.body.rowsCopied as number).toBeGreaterThanOrEqual(moving.length)
    const fresh = await checkRows(tenant, name, db, rows)
    expect(fresh.partitions?.scheme.tables.events?.bounds).toEqual([2 ** 31, middle])
    expect(fresh.partitions?.scheme.shards).toBe(3)

    // After cutover a moving key is written to the new shard, and nowhere else.
    const day = moving[0] as number
    await db.execute({
      sql: 'INSERT INTO events (id, day, what) VALUES (?, ?, ?)',
      args: [80_000, day, 'routed'],
    })
    const placed = await Promise.all(
      (fresh.partitions?.shards ?? []).map(async (shard) =>
        Number(
          (
            await namespaceClient(shard.node, shard.namespace).execute(
              'SELECT count(*) AS n FROM events WHERE id = 80000',
            )
          ).rows[0]?.n,
        ),
      ),
    )
    expect(placed).toEqual([0, 0, 1])
    // A router still holding map version 1 sends it to the old shard: fenced; a staying key is not.
    const insert = (id: number, key: number) =>
      `INSERT INTO events (id, day, what) VALUES (${id}, ${key}, 'stale')`
    expect((await staleRun(stale, insert(90_001, day))).status).toBe(503)
    expect(
      (
        await partitionedPipeline(
          { secret: readConfig(env).jwtSecret, db: stale, readOnly: false },
          JSON.stringify({
            baton: null,
            requests: [
              { type: 'execute', stmt: { sql: insert(90_002, staying[0] as number) } },
              { type: 'close' },
            ],
          }),
        )
      ).status,
    ).toBe(200)
    expect((await db.execute('SELECT count(*) AS n FROM events WHERE what = ?', ['stale'])).rows[0]?.n).toBe(
      1,
    )
  })

  it('keeps routing a database stored with hash mod N, and refuses to split it or a mixed one (409)', async () => {
    const { tenant, token, name, db } = await setup({ events: { key: 'day', by: 'hash' } }, 3)
    const resource = await getResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name)
    const partitioning = resource.config.partitioning as NonNullable<DatabaseConfig['partitioning']>
    const legacy = {
      ...partitioning,
      scheme: { shards: 3, tables: { events: { key: 'day', by: 'hash' as const } } },
    }
    await updateResource<DatabaseConfig>(env, tenant, DATABASE_KIND, name, {
      ...resource.config,
      partitioning: legacy,
    })
    forgetDatabase(tenant, name)
    for (let id = 1; id <= 40; id++)
      await db.execute({
        sql: 'INSERT INTO events (id, day, what) VALUES (?, ?, ?)',
        args: [id, id * 7, 'x'],
      })
    const found = await getDatabase(env, tenant, name)
    for (const [index, shard] of (found.partitions?.shards ?? []).entries())
      for (const row of (await namespaceClient(shard.node, shard.namespace).execute('SELECT day FROM events'))
        .rows)
        expect(hash32(partitionKeyText(Number(row.day))) % 3).toBe(index)
    expect((await db.execute('SELECT count(*) AS n FROM events')).rows[0]?.n).toBe(40)
    const version = (await call(`/v1/databases/${name}`, { token })).body.version
    const refused = await problemOf(name, token, { split: { shard: 1 } })
    expect(refused.status).toBe(409)
    expect(refused.detail).toMatch(/hash mod 3/)
    expect((await call(`/v1/databases/${name}`, { token })).body.version).toBe(version)

    const mixed = await setup(
      { events: { key: 'day', by: 'range', bounds: [100] }, users: { key: 'id', by: 'hash' } },
      2,
    )
    const conflict = await problemOf(mixed.name, mixed.token, { split: { shard: 0, at: 50 } })
    expect(conflict.status).toBe(409)
    expect(conflict.detail).toMatch(/both range- and hash/)
  })
})

/**
 * Failover against the real local libSQL servers: the primary's process is killed (-9)
 * under a concurrent write load through the Hrana URL, detection runs from the replicator's
 * alarm (fired by the test, never waited for), and then every acknowledged write is on the
 * new primary, writes go on under the new epoch, a write routed under the old epoch (a
 * stale router, the old primary back up) is refused, and the old primary is fenced and
 * rebuilt. Failover is refused (409) when it would lose acknowledged writes.
 */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { getDatabase, namespaceClient, nodeById } from '../../workers/databases/catalog'
import { HranaError, type ProxyContext, pipeline } from '../../workers/databases/hrana'
import { readConfig } from '../../workers/platform/config'
import { call } from '../helpers'
import { killNode, NODE_IDS, restartNode } from '../kv/support'
import { Conditions, newDatabase, platformClient } from './support'

type Db = Awaited<ReturnType<typeof newDatabase>>

function replicator(db: Db) {
  const id = env.DATABASE_REPLICATORS.idFromName(`${db.tenant}:database-replicator:${db.name}`)
  return env.DATABASE_REPLICATORS.get(id)
}

const epochOf = (db: Db) => runInDurableObject(replicator(db), (object) => object.route())

async function addReplica(db: Db, body: Record<string, unknown>) {
  const created = await call(`/v1/databases/${db.name}/replicas`, { token: db.token, body })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return created.body as { id: string; node: string; synchronous: boolean }
}

function insertBody(k: string, v: number) {
  return JSON.stringify({
    baton: null,
    requests: [
      {
        type: 'execute',
        stmt: {
          sql: 'INSERT INTO w (k, v) VALUES (?, ?)',
          args: [
            { type: 'text', value: k },
            { type: 'integer', value: String(v) },
          ],
        },
      },
      { type: 'close' },
    ],
  })
}

describe('failover', () => {
  it('promotes a synchronous replica when the primary is killed, losing no acknowledged write', async () => {
    const db = await newDatabase()
    await platformClient(db.url, db.token).execute('CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER NOT NULL)')
    expect((await addReplica(db, { synchronous: true })).synchronous).toBe(true)
    await addReplica(db, { synchronous: true })
    const first = await getDatabase(env, db.tenant, db.name)
    const oldNode = first.node.id
    const oldIndex = NODE_IDS.indexOf(oldNode)
    expect((await epochOf(db)).epoch).toBe(1)

    const acked: Array<{ k: string; v: number; epoch: number; writer: number }> = []
    let failed = 0
    let stop = false
    const conditions = new Conditions()
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const k = `${w}-${i}`
        const v = (w * 1_000_003 + i * 7919) % 1_000_000_007
        const response = await SELF.fetch(`${db.url}v3/pipeline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
          body: insertBody(k, v),
        })
        const body = (await response.json().catch(() => undefined)) as
          | { results?: Array<{ type: string }> }
          | undefined
        if (response.ok && body?.results?.[0]?.type === 'ok') {
          acked.push({ k, v, epoch: Number(response.headers.get('edgeblocks-epoch')), writer: w })
        } else failed++
        conditions.check()
      }
    }
    const writers = [0, 1, 2, 3].map(writer)
    try {
      await conditions.until(() => acked.length >= 40)
      await killNode(oldIndex)
      await conditions.until(() => failed >= 4)
      // Detection: the alarm's health checks (three consecutive failures promote).
      for (let i = 0; i < 10 && (await epochOf(db)).epoch === 1; i++) {
        // (An alarm the runtime is running right now is not "scheduled": then run the handler itself.)
        if (!(await runDurableObjectAlarm(replicator(db)))) {
          await runInDurableObject(replicator(db), (object) => object.alarm())
        }
      }
      const route = await epochOf(db)
      expect(route.epoch).toBe(2)
      expect(route.primary.node).not.toBe(oldNode)
      await conditions.until(() => acked.filter((a) => a.epoch === 2).length >= 30)
    } finally {
      stop = true
      await Promise.all(writers)
    }

    // Every acknowledged write is on the new primary (count and checksum).
    const rows = await platformClient(db.url, db.token).execute('SELECT k, v FROM w ORDER BY k')
    const stored = new Map(rows.rows.map((row) => [String(row.k), Number(row.v)]))
    const missing = acked.filter((a) => stored.get(a.k) !== a.v)
    expect(missing).toEqual([])
    const checksum = (list: Array<[string, number]>) => list.reduce((sum, [, v]) => (sum + v) % 2 ** 32, 0)
    expect(checksum(acked.map((a) => [a.k, stored.get(a.k) ?? -1]))).toBe(
      checksum(acked.map((a) => [a.k, a.v])),
    )
    expect(stored.size).toBeGreaterThanOrEqual(acked.length)
    // One primary at a time: per writer, no acknowledgement of epoch 1 after one of epoch 2.
    for (const w of [0, 1, 2, 3]) {
      const epochs = acked.filter((a) => a.writer === w).map((a) => a.epoch)
      expect(epochs).toEqual([...epochs].sort((a, b) => a - b))
    }
    const listed = await call(`/v1/databases/${db.name}`, { token: db.token })
    expect(listed.body.node).not.toBe(oldNode)

    // The old primary comes back: a stale router writing there under epoch 1 is refused.
    await restartNode(oldIndex)
    const stale: ProxyContext = {
      secret: readConfig(env).jwtSecret,
      db: first,
      readOnly: false,
      fence: {
        epoch: 1,
        acknowledge: (position) =>
          runInDurableObject(replicator(db), (object) => object.acknowledge(1, position)),
      },
    }
    const refused = await pipeline(stale, 3, insertBody('stale', 1)).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(HranaError)
    expect((refused as HranaError).code).toBe('NOT_ACKNOWLEDGED')
    // Both copies up, writes routed to each at once: only the current epoch's are acknowledged.
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const viaStale = await pipeline(stale, 3, insertBody(`stale-${i}`, i)).then(
          () => 'acknowledged',
          (error: unknown) => (error instanceof HranaError ? error.code : String(error)),
        )
        const current = await SELF.fetch(`${db.url}v3/pipeline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
          body: insertBody(`current-${i}`, i),
        })
        return [viaStale, current.status, current.headers.get('edgeblocks-epoch')]
      }),
    )
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => ['NOT_ACKNOWLEDGED', 200, '2']))
    // The next health check fences it in its copy too, and rebuilds it as a replica.
    await runDurableObjectAlarm(replicator(db))
    const oldCopy = namespaceClient(nodeById(env, oldNode), first.namespace)
    const role = await oldCopy.execute('SELECT epoch, role FROM _edgeblocks_epoch')
    expect(role.rows.map((r) => [Number(r.epoch), String(r.role)])).toEqual([[2, 'deposed']])
    await expect(oldCopy.execute("INSERT INTO _edgeblocks_changes (op, at) VALUES ('I', 0)")).rejects.toThrow(
      /fenced/,
    )
    const replicas = await call(`/v1/databases/${db.name}/replicas`, { token: db.token })
    const rebuilt = (replicas.body.items as Array<{ id: string; node: string; synchronous: boolean }>).find(
      (r) => r.node === oldNode,
    )
    expect(rebuilt?.synchronous).toBe(true)
    // The rebuilt copy converges on the new primary's rows.
    await runInDurableObject(replicator(db), (object) => object.sync())
    const count = async (query: string) => {
      const response = await SELF.fetch(`${db.url}v3/pipeline${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          baton: null,
          requests: [{ type: 'execute', stmt: { sql: 'SELECT count(*), sum(v) FROM w' } }, { type: 'close' }],
        }),
      })
      const body = (await response.json()) as {
        results: Array<{ response: { result: { rows: Array<Array<{ value: string }>> } } }>
      }
      return {
        rows: body.results[0]?.response.result.rows,
        servedBy: response.headers.get('edgeblocks-served-by'),
      }
    }
    const onReplica = await count(`?replica=${rebuilt?.id}`)
    expect(onReplica.servedBy).toBe(`replica:${rebuilt?.id}`)
    expect(onReplica.rows).toEqual((await count('')).rows)
    // What the old primary committed unacknowledged under epoch 1 is gone with its copy.
    const leaked = await platformClient(db.url, db.token).execute(
      "SELECT count(*) AS n FROM w WHERE k LIKE 'stale%'",
    )
    expect(leaked.rows[0]?.n).toBe(0)
    const after = await SELF.fetch(`${db.url}v3/pipeline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
      body: insertBody('after', 42),
    })
    expect(after.status).toBe(200)
    expect(after.headers.get('edgeblocks-epoch')).toBe('2')
  })

  it('is refused (409) when no reachable replica holds every acknowledged write', async () => {
    const other = await newDatabase()
    const plain = await newDatabase()
    const noSync = await call(`/v1/databases/${plain.name}/failover`, { token: plain.token, body: {} })
    expect(noSync.status).toBe(409)
    expect(noSync.headers.get('content-type')).toContain('application/problem+json')

    const db = await newDatabase()
    const client = platformClient(db.url, db.token)
    await client.execute('CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER NOT NULL)')
    const replica = await addReplica(db, { synchronous: true })
    // Another tenant cannot fail it over (its name is not theirs).
    expect((await call(`/v1/databases/${db.name}/failover`, { token: other.token, body: {} })).status).toBe(
      404,
    )
    const delayed = await call(`/v1/databases/${db.name}/replicas`, {
      token: db.token,
      body: { synchronous: true, delaySeconds: 5 },
    })
    expect(delayed.status).toBe(400)
    await client.execute("INSERT INTO w VALUES ('a', 1)")
    const index = NODE_IDS.indexOf(replica.node)
    await killNode(index)
    try {
      // The only synchronous replica is down: writes are not acknowledged (the documented rule)…
      await expect(client.execute("INSERT INTO w VALUES ('b', 2)")).rejects.toThrow(/not acknowledged/)
      await expect(
        client.batch(["INSERT INTO w VALUES ('x', 9)", "DELETE FROM w WHERE k = 'x'"], 'write'),
      ).rejects.toThrow(/not acknowledged/)
      // …and failing over would lose 'a'.
      const refused = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })
      expect(refused.status).toBe(409)
      expect((await epochOf(db)).epoch).toBe(1)
    } finally {
      await restartNode(index)
    }
    // The primary was not left fenced: writes go on once the replica is back.
    await client.execute("INSERT INTO w VALUES ('c', 3)")
    const switched = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })
    expect(switched.status, JSON.stringify(switched.body)).toBe(200)
    expect(switched.body).toEqual(expect.objectContaining({ epoch: 2, node: replica.node }))
    const rows = await client.execute('SELECT k FROM w ORDER BY k')
    expect(rows.rows.map((r) => r.k)).toEqual(['a', 'b', 'c'])
  })
})

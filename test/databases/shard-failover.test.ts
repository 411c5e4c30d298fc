/**
 * Failover of a partitioned database, shard by shard, against the real local libSQL servers:
 * with synchronous replicas of every shard, a storage node is killed (-9) under a concurrent
 * write load spread over the shards; `POST …/failover` fails over exactly the shards whose
 * primary was on it (each its own epoch), every acknowledged write is still there, writes go
 * on; a named shard switches over on request; bad input is refused.
 */
import { env, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  backendClient,
  type Database,
  getDatabase,
  namespaceClient,
  nodeById,
} from '../../workers/databases/catalog'
import { HranaError } from '../../workers/databases/hrana'
import { type PartitionedContext, partitionedPipeline } from '../../workers/databases/partitioned-hrana'
import { readConfig } from '../../workers/platform/config'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { killNode, NODE_IDS, restartNode } from '../kv/support'
import { Conditions, platformClient } from './support'

async function partitionedDatabase() {
  const tenant = uniqueTenant('sfo')
  const token = await tokenFor(tenant, ['databases:read', 'databases:write'])
  const name = `p-${crypto.randomUUID().slice(0, 8)}`
  const created = await call('/v1/databases', {
    token,
    body: { name, partitioning: { shards: 3, tables: { w: { key: 'customer', by: 'hash' } } } },
  })
  expect(created.status).toBe(201)
  const migrated = await call(`/v1/databases/${name}/migrations`, {
    token,
    body: { id: 'v1', statements: ['CREATE TABLE w (customer INTEGER PRIMARY KEY, v INTEGER NOT NULL)'] },
  })
  expect(migrated.status).toBe(200)
  return { tenant, token, name, url: `http://edge.test${created.body.url as string}` }
}

function insertBody(customer: number, v: number) {
  return JSON.stringify({
    baton: null,
    requests: [
      {
        type: 'execute',
        stmt: {
          sql: 'INSERT INTO w (customer, v) VALUES (?, ?)',
          args: [
            { type: 'integer', value: String(customer) },
            { type: 'integer', value: String(v) },
          ],
        },
      },
      { type: 'close' },
    ],
  })
}

describe('failover of a partitioned database', () => {
  it('fails over each shard whose primary is lost, losing no acknowledged write', async () => {
    const db = await partitionedDatabase()
    for (let i = 0; i < 2; i++) {
      const added = await call(`/v1/databases/${db.name}/replicas`, {
        token: db.token,
        body: { synchronous: true },
      })
      expect(added.status, JSON.stringify(added.body)).toBe(201)
    }
    const before = await getDatabase(env, db.tenant, db.name)
    const shards = before.partitions?.shards ?? []
    const lostNode = shards[0]?.node.id as string
    const lost = shards.flatMap((shard, i) => (shard.node.id === lostNode ? [i] : []))
    const index = NODE_IDS.indexOf(lostNode)

    const acked: Array<{ customer: number; v: number }> = []
    let ackedAfter = 0
    let failed = 0
    let failedOver = false
    let stop = false
    const conditions = new Conditions()
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const customer = w * 100_000 + i
        const v = (customer * 7919) % 1_000_003
        const response = await SELF.fetch(`${db.url}v3/pipeline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
          body: insertBody(customer, v),
        })
        const body = (await response.json().catch(() => undefined)) as
          | { results?: Array<{ type: string }> }
          | undefined
        if (response.ok && body?.results?.[0]?.type === 'ok') {
          acked.push({ customer, v })
          if (failedOver) ackedAfter++
        } else failed++
        conditions.check()
      }
    }
    const writers = [0, 1, 2, 3].map(writer)
    try {
      await conditions.until(() => acked.length >= 40)
      await killNode(index)
      await conditions.until(() => failed >= 4)
      const result = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })
      expect(result.status, JSON.stringify(result.body)).toBe(200)
      const moved = result.body.shards as Array<{ shard: number; epoch: number; node: string }>
      expect(moved.map((m) => m.shard)).toEqual(lost)
      for (const m of moved) {
        expect(m.epoch).toBe(2)
        expect(m.node).not.toBe(lostNode)
      }
      failedOver = true
      await conditions.until(() => ackedAfter >= 60)
    } finally {
      stop = true
      await Promise.all(writers)
      await restartNode(index)
    }
    // Every acknowledged write is on its shard's (new) primary.
    const client = platformClient(db.url, db.token)
    const rows = await client.execute('SELECT customer, v FROM w')
    const stored = new Map(rows.rows.map((row) => [Number(row.customer), Number(row.v)]))
    expect(acked.filter((a) => stored.get(a.customer) !== a.v)).toEqual([])
    const after = await getDatabase(env, db.tenant, db.name)
    for (const i of lost) expect(after.partitions?.shards[i]?.node.id).not.toBe(lostNode)

    // The lost node comes back. A stale router (the old map, epoch 1) writing to a failed-over
    // shard's old primary is refused; the next health check fences that copy and rebuilds it.
    const shardId = lost[0] as number
    const replicator = () =>
      env.DATABASE_REPLICATORS.get(
        env.DATABASE_REPLICATORS.idFromName(`${db.tenant}:database-replicator:${db.name}#${shardId}`),
      )
    const onShard = await backendClient(after.partitions?.shards[shardId] as Database).execute(
      'SELECT customer FROM w LIMIT 1',
    )
    const customer = Number(onShard.rows[0]?.customer)
    const stale: PartitionedContext = {
      secret: readConfig(env).jwtSecret,
      db: before,
      readOnly: false,
      shardFences: {
        [shardId]: {
          epoch: 1,
          acknowledge: (position) =>
            runInDurableObject(replicator(), (object) => object.acknowledge(1, position)),
        },
      },
    }
    const update = JSON.stringify({
      baton: null,
      requests: [
        { type: 'execute', stmt: { sql: `UPDATE w SET v = v + 1 WHERE customer = ${customer}` } },
        { type: 'close' },
      ],
    })
    const refused = await partitionedPipeline(stale, update).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(HranaError)
    expect((refused as HranaError).code).toBe('NOT_ACKNOWLEDGED')
    await runInDurableObject(replicator(), (object) => object.alarm())
    const oldShard = before.partitions?.shards[shardId] as Database
    const oldCopy = namespaceClient(nodeById(env, lostNode), oldShard.namespace)
    const role = await oldCopy.execute('SELECT epoch, role FROM _edgeblocks_epoch')
    expect(role.rows.map((r) => [Number(r.epoch), String(r.role)])).toEqual([[2, 'deposed']])
    await expect(oldCopy.execute("INSERT INTO _edgeblocks_changes (op, at) VALUES ('I', 0)")).rejects.toThrow(
      /fenced/,
    )
    const rebuilt = await getDatabase(env, db.tenant, db.name)
    expect(rebuilt.replicas).toEqual([])
    expect(
      rebuilt.partitions?.shards[shardId]?.replicas.filter((r) => r.node === lostNode && r.synchronous),
    ).toHaveLength(1)

    // A named shard switches over on request (its primary up): its epoch moves on, nothing lost.
    const other = [0, 1, 2].find((i) => !lost.includes(i)) ?? 0
    const switched = await call(`/v1/databases/${db.name}/failover`, {
      token: db.token,
      body: { shard: other },
    })
    expect(switched.status, JSON.stringify(switched.body)).toBe(200)
    expect(switched.body.shards).toEqual([
      expect.objectContaining({ shard: other, epoch: lost.includes(other) ? 3 : 2 }),
    ])
    const write = await SELF.fetch(`${db.url}v3/pipeline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${db.token}`, 'content-type': 'application/json' },
      body: insertBody(999_999, 1),
    })
    expect(write.status, await write.clone().text()).toBe(200)
    const count = await client.execute('SELECT count(*) AS n FROM w')
    expect(Number(count.rows[0]?.n)).toBe(stored.size + 1)

    // Bad input: a shard the database does not have, a malformed body; another tenant.
    for (const body of [{ shard: 3 }, { shard: 'x' }, { extra: true }]) {
      const refused = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body })
      expect(refused.status, JSON.stringify(body)).toBe(400)
    }
    const stranger = await tokenFor(uniqueTenant('sfo'), ['databases:write'])
    expect((await call(`/v1/databases/${db.name}/failover`, { token: stranger, body: {} })).status).toBe(404)
    // No shard's primary is lost now: nothing to fail over.
    expect((await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })).status).toBe(409)
  }, 120_000)
})

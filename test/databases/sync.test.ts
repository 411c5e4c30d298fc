/**
 * The embedded-replica wire of platform databases (`/v1/databases/{db}/info|export|sync`), byte
 * level, against the storage nodes: generations shown per frame log, frames ending at a commit,
 * end of generation in the shape the client reads, a replica of an earlier copy (after a failover,
 * after a delete and create) told to start again, tenants isolated, partitioned databases refused.
 * The official client itself is exercised in test/e2e/databases-sync.e2e.test.ts.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { GENERATION_STRIDE } from '../../workers/databases/sync-wire'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { newDatabase, platformClient } from './support'

const FRAME = 4096 + 24

function get(path: string, token?: string) {
  return SELF.fetch(`http://edge.test${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})
}

async function info(name: string, token: string): Promise<number> {
  const response = await get(`/v1/databases/${name}/info`, token)
  expect(response.status, await response.clone().text()).toBe(200)
  return ((await response.json()) as { current_generation: number }).current_generation
}

/** Every frame of generation `g` from `start`, page by page as the client asks for them. */
async function pull(name: string, token: string, g: number, start = 1) {
  const frames: Uint8Array[] = []
  let next = start
  for (;;) {
    const response = await get(`/v1/databases/${name}/sync/${g}/${next}/${next + 128}`, token)
    if (response.status === 400) return { frames, end: (await response.json()) as { generation: number } }
    expect(response.status, response.ok ? '' : await response.text()).toBe(200)
    const bytes = new Uint8Array(await response.arrayBuffer())
    expect(bytes.length % FRAME).toBe(0)
    for (let at = 0; at < bytes.length; at += FRAME) frames.push(bytes.subarray(at, at + FRAME))
    // every answer ends at a commit frame (its "database size after commit" is not zero)
    expect(new DataView(bytes.buffer, bytes.length - FRAME + 4, 4).getUint32(0)).toBeGreaterThan(0)
    next += bytes.length / FRAME
  }
}

describe('embedded-replica wire', () => {
  it('serves generations, frames, the database file and end of generation', async () => {
    const db = await newDatabase()
    const client = platformClient(db.url, db.token)
    await client.batch(
      ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', "INSERT INTO t VALUES (1, 'a')"],
      'write',
    )
    const g = await info(db.name, db.token)
    expect(g).toBeGreaterThan(GENERATION_STRIDE)
    expect(g % GENERATION_STRIDE).toBe(1)
    const file = new Uint8Array(
      await (await get(`/v1/databases/${db.name}/export/${g}`, db.token)).arrayBuffer(),
    )
    expect(new TextDecoder().decode(file.subarray(0, 15))).toBe('SQLite format 3')
    const first = await pull(db.name, db.token, g)
    expect(first.end).toMatchObject({ generation: g })
    expect(first.frames.length).toBe(file.length / 4096) // the base image: one frame per page

    await client.execute("INSERT INTO t VALUES (2, 'b')")
    const more = await pull(db.name, db.token, g, first.frames.length + 1)
    expect(more.frames.length).toBeGreaterThan(0)
    expect(await info(db.name, db.token)).toBe(g)

    // a read-only token may sync
    const reader = await tokenFor(db.tenant, ['databases:read'])
    expect(await info(db.name, reader)).toBe(g)
  })

  it('tells a replica of an earlier copy to start again (409), never serves it frames', async () => {
    const db = await newDatabase()
    await platformClient(db.url, db.token).execute('CREATE TABLE t (x)')
    const g = await info(db.name, db.token)
    for (const stale of [1, g - 1, g + GENERATION_STRIDE]) {
      const response = await get(`/v1/databases/${db.name}/sync/${stale}/1/129`, db.token)
      expect(response.status).toBe(409)
      expect(await response.json()).toMatchObject({ code: 'REPLICA_RESET_NEEDED' })
    }
    // deleted and created again: a new namespace, a new block of generations
    expect((await call(`/v1/databases/${db.name}`, { token: db.token, method: 'DELETE' })).status).toBe(200)
    expect((await call('/v1/databases', { token: db.token, body: { name: db.name } })).status).toBe(201)
    await platformClient(db.url, db.token).execute('CREATE TABLE t (x)')
    const again = await info(db.name, db.token)
    expect(Math.floor(again / GENERATION_STRIDE)).not.toBe(Math.floor(g / GENERATION_STRIDE))
    expect((await get(`/v1/databases/${db.name}/sync/${g}/1/129`, db.token)).status).toBe(409)
  })

  it('follows the primary after a failover', async () => {
    const db = await newDatabase()
    const client = platformClient(db.url, db.token)
    await client.execute('CREATE TABLE w (k TEXT PRIMARY KEY)')
    const replica = await call(`/v1/databases/${db.name}/replicas`, {
      token: db.token,
      body: { synchronous: true },
    })
    expect(replica.status, JSON.stringify(replica.body)).toBe(201)
    await client.execute("INSERT INTO w VALUES ('before')")
    const before = await info(db.name, db.token)
    const switched = await call(`/v1/databases/${db.name}/failover`, { token: db.token, body: {} })
    expect(switched.status, JSON.stringify(switched.body)).toBe(200)
    await client.execute("INSERT INTO w VALUES ('after')")
    const after = await info(db.name, db.token)
    expect(Math.floor(after / GENERATION_STRIDE)).not.toBe(Math.floor(before / GENERATION_STRIDE))
    expect((await get(`/v1/databases/${db.name}/sync/${before}/1/129`, db.token)).status).toBe(409)
    const file = new Uint8Array(
      await (await get(`/v1/databases/${db.name}/export/${after}`, db.token)).arrayBuffer(),
    )
    const text = new TextDecoder('latin1').decode(file)
    expect(text).toContain('before')
    expect(text).toContain('after')
  })

  it('isolates tenants, checks tokens and refuses partitioned databases', async () => {
    const db = await newDatabase()
    await platformClient(db.url, db.token).execute('CREATE TABLE t (x)')
    const stranger = await tokenFor(uniqueTenant('db'), ['databases:read', 'databases:write'])
    expect((await get(`/v1/databases/${db.name}/info`, stranger)).status).toBe(404)
    expect((await get(`/v1/databases/${db.name}/export/1`, stranger)).status).toBe(404)
    expect((await get(`/v1/databases/${db.name}/info`)).status).toBe(401)
    expect((await get(`/v1/databases/${db.name}/info`, 'x.y.z')).status).toBe(401)
    const other = await tokenFor(db.tenant, ['queue:read'])
    expect((await get(`/v1/databases/${db.name}/info`, other)).status).toBe(403)
    for (const bad of ['sync/1/0/5', 'sync/1/5/5', 'sync/99999999999/1/2', 'export/x']) {
      const response = await get(`/v1/databases/${db.name}/${bad}`, db.token)
      expect(response.status, bad).toBe(404)
    }

    const name = `sharded-${crypto.randomUUID().slice(0, 8)}`
    const created = await call('/v1/databases', {
      token: db.token,
      body: { name, partitioning: { shards: 2, tables: { t: { key: 'k', by: 'hash' } } } },
    })
    expect(created.status).toBe(201)
    const refused = await get(`/v1/databases/${name}/info`, db.token)
    expect(refused.status).toBe(409)
    expect(await refused.json()).toMatchObject({ code: 'PARTITIONED' })
  })
})

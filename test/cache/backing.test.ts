import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { createClient } from '@libsql/client/web'
import { describe, expect, it } from 'vitest'
import { cacheTester, nodeStub } from './support'

const libsqlUrl = () => env.LIBSQL_URL as string

function freshTable(): string {
  return `cache_${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`
}

async function tableRows(table: string): Promise<Record<string, string>> {
  const client = createClient({ url: libsqlUrl() })
  try {
    const result = await client.execute(`SELECT key, value FROM "${table}" ORDER BY key`)
    return Object.fromEntries(result.rows.map((row) => [String(row.key), String(row.value)]))
  } catch (error) {
    if (/no such table/i.test(String(error))) return {}
    throw error
  }
}

async function pendingRows(tenant: string, cache: string) {
  return runInDurableObject(nodeStub(tenant, cache, 0), (_instance, state) =>
    state.storage.sql
      .exec<{ key: string; value: string | null; attempts: number }>(
        'SELECT key, value, attempts FROM pending ORDER BY key',
      )
      .toArray(),
  )
}

/** Makes every queued change due now (the flush delay and backoff are in the future). */
async function makeDue(tenant: string, cache: string) {
  await runInDurableObject(nodeStub(tenant, cache, 0), (_instance, state) => {
    state.storage.sql.exec('UPDATE pending SET next_at = 0')
  })
}

describe('write-behind', () => {
  it('acknowledges from the node, flushes in a batch from the alarm, and loses nothing when evicted mid-flush', async () => {
    const t = await cacheTester()
    const table = freshTable()
    const source = { kind: 'libsql', url: libsqlUrl(), table }
    expect((await t.configure({ nodes: 1, backing: { source, write: 'behind' } })).status).toBe(201)
    await t.r('SET', 'a', '1')
    await t.r('SET', 'b', '2')
    await t.r('SET', 'a', '3')
    await t.r('SET', 'gone', 'x')
    await t.r('DEL', 'gone')
    await t.r('HSET', 'h', 'f', 'v') // not a string: not written behind
    expect(await pendingRows(t.tenant, t.cache)).toEqual([
      { key: 'a', value: '3', attempts: 0 },
      { key: 'b', value: '2', attempts: 0 },
      { key: 'gone', value: null, attempts: 0 },
    ])
    expect(await tableRows(table)).toEqual({})

    // Evict the object while its alarm is flushing; whatever happened, nothing is lost.
    await makeDue(t.tenant, t.cache)
    const stub = nodeStub(t.tenant, t.cache, 0)
    const flushing = runDurableObjectAlarm(stub).catch(() => false)
    await evictDurableObject(stub)
    await flushing
    const left = await pendingRows(t.tenant, t.cache)
    const flushed = await tableRows(table)
    for (const [key, value] of Object.entries({ a: '3', b: '2' })) {
      expect(flushed[key] === value || left.some((row) => row.key === key && row.value === value)).toBe(true)
    }
    if (left.length > 0) {
      await makeDue(t.tenant, t.cache)
      await runDurableObjectAlarm(stub)
    }
    expect(await pendingRows(t.tenant, t.cache)).toEqual([])
    expect(await tableRows(table)).toEqual({ a: '3', b: '2' })
  })

  it('a source that refuses keeps every change and retries with backoff until it accepts', async () => {
    const t = await cacheTester()
    const table = freshTable()
    await t.configure({
      nodes: 1,
      backing: { source: { kind: 'http', url: `${libsqlUrl()}/no-such-origin` }, write: 'behind' },
    })
    await t.r('SET', 'k', 'v')
    await makeDue(t.tenant, t.cache)
    await runDurableObjectAlarm(nodeStub(t.tenant, t.cache, 0))
    expect(await pendingRows(t.tenant, t.cache)).toEqual([{ key: 'k', value: 'v', attempts: 1 }])
    await runInDurableObject(nodeStub(t.tenant, t.cache, 0), (_instance, state) => {
      const [row] = state.storage.sql.exec<{ next_at: number }>('SELECT next_at FROM pending').toArray()
      expect(row?.next_at).toBeGreaterThan(Date.now())
    })
    // The source comes back (here: the settings point at a working one).
    await t.configure({
      nodes: 1,
      backing: { source: { kind: 'libsql', url: libsqlUrl(), table }, write: 'behind' },
    })
    await t.r('GET', 'k') // delivers the new settings to the node
    await makeDue(t.tenant, t.cache)
    await runDurableObjectAlarm(nodeStub(t.tenant, t.cache, 0))
    expect(await pendingRows(t.tenant, t.cache)).toEqual([])
    expect(await tableRows(table)).toEqual({ k: 'v' })
  })
})

describe('write-through and read-through', () => {
  it('write-through writes the source first; a refusing source fails the command and leaves the cache alone', async () => {
    const t = await cacheTester()
    const table = freshTable()
    await t.configure({
      nodes: 2,
      backing: { source: { kind: 'libsql', url: libsqlUrl(), table }, write: 'through' },
    })
    expect(await t.r('MSET', 'a', '1', 'b', '2')).toBe('OK')
    expect(await t.r('DEL', 'a')).toBe(1)
    expect(await tableRows(table)).toEqual({ b: '2' })

    const broken = await cacheTester()
    await broken.configure({
      nodes: 1,
      backing: { source: { kind: 'http', url: `${libsqlUrl()}/no-such-origin` }, write: 'through' },
    })
    const refused = await broken.cmd('SET', 'k', 'v')
    expect(refused.status).toBe(400)
    expect(refused.body.error).toMatch(/^ERR backing source refused the write/)
    expect(await broken.r('EXISTS', 'k')).toBe(0)
  })

  it('read-through fills a miss from the source with the read TTL; settings never show credentials', async () => {
    const t = await cacheTester()
    const table = freshTable()
    const client = createClient({ url: libsqlUrl() })
    await client.batch(
      [
        `CREATE TABLE "${table}" (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
        { sql: `INSERT INTO "${table}" VALUES (?, ?)`, args: ['user:1', 'ada'] },
      ],
      'write',
    )
    await t.configure({
      nodes: 3,
      backing: { source: { kind: 'libsql', url: libsqlUrl(), table }, readThrough: true, readTtlSeconds: 60 },
    })
    expect(await t.r('GET', 'user:1')).toBe('ada')
    expect(await t.r('TTL', 'user:1')).toBe(60)
    expect(await t.r('GET', 'user:2')).toBeNull()
    await client.execute({ sql: `UPDATE "${table}" SET value = 'changed' WHERE key = 'user:1'`, args: [] })
    expect(await t.r('GET', 'user:1')).toBe('ada') // served from the cache until the TTL
    const view = await t.configure({
      nodes: 3,
      backing: {
        source: { kind: 'libsql', url: libsqlUrl(), authToken: 'secret-token', table },
        readThrough: true,
      },
    })
    expect(JSON.stringify(view.body)).not.toContain('secret-token')
  })
})

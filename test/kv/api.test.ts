/**
 * The key-value API: namespaces, validation (nothing changed on bad input), conditional
 * writes, TTL, metadata, listing, bulk writes, last-writer-wins, tenant isolation.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { listVersions } from '../../workers/kv/replica-ranges'
import { connect } from '../../workers/kv/service'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { kvClient, NODE_IDS, replicaState } from './support'

async function nothingStored(ns: string): Promise<void> {
  for (const id of NODE_IDS) {
    expect(await listVersions(await connect(env, id), ns, '', '', 10)).toEqual([])
  }
}

describe('kv namespaces', () => {
  it('validates N, R and W against each other and the storage nodes, creating nothing on bad input', async () => {
    const token = await tokenFor(uniqueTenant('kv'), ['kv:read', 'kv:write'])
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ replicas: 4 }, 'body/replicas'],
      [{ replicas: 2, readQuorum: 3 }, 'body/readQuorum'],
      [{ replicas: 2, writeQuorum: 3, readQuorum: 1 }, 'body/writeQuorum'],
      [{ replicas: 0 }, 'body/replicas'],
      [{ conflict: 'newest' }, 'body/conflict'],
      [{ maxValueBytes: 2 * 1024 * 1024 }, 'body/maxValueBytes'],
      [{ extra: true }, 'body/extra'],
    ]
    for (const [body, path] of cases) {
      const response = await call('/v1/kv/namespaces/bad', { method: 'PUT', token, body })
      expect(response.status).toBe(400)
      expect((response.body.errors as Array<{ path: string }>).map((e) => e.path)).toContain(path)
    }
    expect((await call('/v1/kv/namespaces/bad', { token })).status).toBe(404)
    const created = await call('/v1/kv/namespaces/good', { method: 'PUT', token, body: { replicas: 3 } })
    expect(created.status).toBe(201)
    expect(created.body.settings).toMatchObject({
      replicas: 3,
      readQuorum: 2,
      writeQuorum: 2,
      conflict: 'siblings',
    })
    expect((await call('/v1/kv/namespaces/good', { method: 'PUT', token, body: {} })).status).toBe(409)
    const list = await call('/v1/kv/namespaces', { token })
    expect((list.body.items as Array<{ name: string }>).map((n) => n.name)).toEqual(['good'])
  })

  it('starts empty after a delete and re-create of the same name', async () => {
    const kv = await kvClient()
    await kv.put('k', 'old')
    expect(
      (await call(`/v1/kv/namespaces/${kv.namespace}`, { method: 'DELETE', token: kv.token })).status,
    ).toBe(200)
    expect((await kv.get('k')).status).toBe(404)
    await call(`/v1/kv/namespaces/${kv.namespace}`, { method: 'PUT', token: kv.token, body: {} })
    expect((await kv.get('k')).status).toBe(404)
  })
})

describe('kv keys', () => {
  it('refuses bad keys, oversized values, bad contexts and metadata with nothing stored', async () => {
    const kv = await kvClient({ maxValueBytes: 16 })
    const ns = await kv.ns()
    expect((await kv.put('a\u0001b', 'x')).status).toBe(400)
    expect((await kv.put('k'.repeat(513), 'x')).status).toBe(400)
    const big = await kv.put('big', 'x'.repeat(17))
    expect(big.status).toBe(413)
    expect((await kv.put('k', 'x', { headers: { 'x-kv-context': 'not-a-context' } })).status).toBe(400)
    expect((await kv.put('k', 'x', { headers: { 'x-kv-context': btoa('{"node-0":-1}') } })).status).toBe(400)
    expect((await kv.put('k', 'x', { headers: { 'x-kv-metadata': '{not json' } })).status).toBe(400)
    expect((await kv.put('k', 'x', { query: 'consistency=always' })).status).toBe(400)
    expect((await kv.put('k', 'x', { query: 'ttl=0' })).status).toBe(400)
    await nothingStored(ns)
    expect((await kv.put('k', 'x'.repeat(16))).status).toBe(200)
  })

  it('creates only with If-None-Match: * and replaces only the matching ETag', async () => {
    for (const consistency of ['quorum', 'strong']) {
      const kv = await kvClient()
      const query = `consistency=${consistency}`
      expect((await kv.put('c', 'v1', { query, headers: { 'if-none-match': '*' } })).status).toBe(200)
      expect((await kv.put('c', 'v2', { query, headers: { 'if-none-match': '*' } })).status).toBe(412)
      const read = await kv.get('c', query)
      const etag = read.headers.get('etag') as string
      expect((await kv.put('c', 'v3', { query, headers: { 'if-match': '"other"' } })).status).toBe(412)
      expect((await kv.get('c', query)).text).toBe('v1')
      expect((await kv.put('c', 'v3', { query, headers: { 'if-match': etag } })).status).toBe(200)
      const after = await kv.get('c', query)
      expect([after.status, after.text]).toEqual([200, 'v3'])
      expect((await kv.put('c', 'v4', { query, headers: { 'if-match': etag } })).status).toBe(412)
    }
  })

  it('stores TTLs and metadata, and hides expired values', async () => {
    const kv = await kvClient({ defaultTtlSeconds: 3600 })
    const before = Date.now()
    await kv.put('t', 'v', { query: 'ttl=60', headers: { 'x-kv-metadata': '{"a":1}' } })
    const read = await kv.get('t')
    const expiresAt = Number(read.headers.get('x-kv-expires-at'))
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000)
    await kv.put('d', 'v')
    expect(Number((await kv.get('d')).headers.get('x-kv-expires-at'))).toBeGreaterThanOrEqual(
      before + 3_600_000,
    )
  })

  it('resolves concurrent writes by hybrid logical clock under last-writer-wins', async () => {
    const kv = await kvClient({ conflict: 'lww' })
    await kv.put('k', 'first')
    const second = await kv.put('k', 'second')
    expect(second.json.siblings).toBe(1)
    const read = await kv.get('k')
    expect([read.status, read.text]).toEqual([200, 'second'])
    const state = await replicaState(await kv.ns(), 'k')
    expect(Object.values(state).every((ids) => ids?.length === 1 && ids[0] === second.json.version)).toBe(
      true,
    )
  })

  it('reads at every consistency level', async () => {
    const kv = await kvClient()
    await kv.put('e', 'v', { query: 'consistency=eventual' })
    for (const level of ['eventual', 'quorum', 'strong'])
      expect((await kv.get('e', `consistency=${level}`)).text).toBe('v')
  })

  it('lists keys by prefix across nodes with a cursor, leaving out deleted keys', async () => {
    const kv = await kvClient()
    const keys = Array.from({ length: 12 }, (_, i) => `p/${String(i).padStart(2, '0')}`)
    const bulk = await call(`/v1/kv/namespaces/${kv.namespace}/bulk`, {
      token: kv.token,
      body: {
        put: [
          ...keys.map((key) => ({ key, value: { key }, metadata: { n: 1 } })),
          { key: 'other', value: 1 },
        ],
      },
    })
    expect(bulk.status).toBe(200)
    expect((bulk.body.results as Array<{ ok: boolean }>).every((r) => r.ok)).toBe(true)
    await kv.del('p/03')
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await call(
        `/v1/kv/namespaces/${kv.namespace}/keys?prefix=p/&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
        { token: kv.token },
      )
      expect(page.status).toBe(200)
      seen.push(...(page.body.items as Array<{ key: string }>).map((item) => item.key))
      cursor = page.body.nextCursor as string | undefined
    } while (cursor)
    expect(seen).toEqual(keys.filter((key) => key !== 'p/03'))
    const json = await kv.get('p/01')
    expect(JSON.parse(json.text)).toEqual({ key: 'p/01' })
    expect(json.headers.get('content-type')).toBe('application/json')
  })

  it('rejects a whole bulk request over 1,000 entries or with one bad key', async () => {
    const kv = await kvClient()
    const tooMany = await call(`/v1/kv/namespaces/${kv.namespace}/bulk`, {
      token: kv.token,
      body: { put: Array.from({ length: 1001 }, (_, i) => ({ key: `k${i}`, value: i })) },
    })
    expect(tooMany.status).toBe(400)
    const badKey = await call(`/v1/kv/namespaces/${kv.namespace}/bulk`, {
      token: kv.token,
      body: {
        put: [
          { key: 'ok', value: 1 },
          { key: '', value: 2 },
        ],
      },
    })
    expect(badKey.status).toBe(400)
    await nothingStored(await kv.ns())
  })

  it('isolates tenants: same namespace names, separate data, no access across', async () => {
    const a = await kvClient()
    await a.put('secret', 'a-only')
    const otherToken = await tokenFor(uniqueTenant('kv'), ['kv:read', 'kv:write'])
    const path = `/v1/kv/namespaces/${a.namespace}`
    expect((await call(`${path}/values/secret`, { token: otherToken })).status).toBe(404)
    await call(path, { method: 'PUT', token: otherToken, body: {} })
    expect((await call(`${path}/values/secret`, { token: otherToken })).status).toBe(404)
    expect((await a.get('secret')).text).toBe('a-only')
    const readOnly = await tokenFor(a.tenant, ['kv:read'])
    expect((await call(`${path}/values/secret`, { method: 'PUT', token: readOnly, body: 'x' })).status).toBe(
      403,
    )
    expect((await call(`${path}/values/secret`)).status).toBe(401)
  })
})

/**
 * The databases' REST surface: create/list/get/delete, migrations (all or nothing, at most
 * once), statistics, validation with nothing created, tenant isolation.
 */
import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { newDatabase, platformClient } from './support'

describe('databases catalog', () => {
  it('creates, lists, gets and deletes; a re-created database starts empty', async () => {
    const { token, name, url } = await newDatabase()
    expect((await call('/v1/databases', { token, body: { name } })).status).toBe(409)
    const list = await call('/v1/databases', { token })
    expect((list.body.items as Array<{ name: string }>).map((d) => d.name)).toEqual([name])
    const got = await call(`/v1/databases/${name}`, { token })
    expect(got.body).toMatchObject({ name, url: `/v1/databases/${name}/` })
    await platformClient(url, token).execute('CREATE TABLE t (x)')
    await platformClient(url, token).execute('INSERT INTO t VALUES (1)')
    expect((await call(`/v1/databases/${name}`, { method: 'DELETE', token })).body).toEqual({ deleted: true })
    expect((await call(`/v1/databases/${name}`, { token })).status).toBe(404)
    expect((await call('/v1/databases', { token, body: { name } })).status).toBe(201)
    const tables = await platformClient(url, token).execute("SELECT name FROM sqlite_schema WHERE name = 't'")
    expect(tables.rows).toEqual([])
  })

  it('refuses bad input and creates nothing', async () => {
    const token = await tokenFor(uniqueTenant('db'), ['databases:read', 'databases:write'])
    for (const body of [
      {},
      { name: '' },
      { name: 'a/b' },
      { name: 'x'.repeat(129) },
      { name: 'ok', extra: 1 },
    ]) {
      expect((await call('/v1/databases', { token, body })).status).toBe(400)
    }
    expect((await call('/v1/databases', { token })).body.items).toEqual([])
  })

  it('needs the databases scopes', async () => {
    const tenant = uniqueTenant('db')
    const reader = await tokenFor(tenant, ['databases:read'])
    expect((await call('/v1/databases', { token: reader, body: { name: 'x' } })).status).toBe(403)
    expect((await call('/v1/databases', {})).status).toBe(401)
  })

  it('keeps tenants apart', async () => {
    const a = await newDatabase()
    const other = await tokenFor(uniqueTenant('db'), ['databases:read', 'databases:write'])
    expect((await call(`/v1/databases/${a.name}`, { token: other })).status).toBe(404)
    expect((await call(`/v1/databases/${a.name}/stats`, { token: other })).status).toBe(404)
    const hrana = platformClient(a.url, other)
    await expect(hrana.execute('SELECT 1')).rejects.toThrow(/No database/)
  })
})

describe('migrations and statistics', () => {
  it('applies a migration once, all or nothing, and reports size and rows', async () => {
    const { token, name, url } = await newDatabase()
    const path = `/v1/databases/${name}/migrations`
    const first = await call(path, {
      token,
      body: {
        id: '001-init',
        statements: [
          'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)',
          "INSERT INTO users (name) VALUES ('ada')",
        ],
      },
    })
    expect(first.body).toEqual({ id: '001-init', applied: true })
    const again = await call(path, {
      token,
      body: { id: '001-init', statements: ["INSERT INTO users (name) VALUES ('bob')"] },
    })
    expect(again.body).toEqual({ id: '001-init', applied: false })
    const broken = await call(path, {
      token,
      body: {
        id: '002-broken',
        statements: ["INSERT INTO users (name) VALUES ('eve')", 'CREATE TABLE oops ('],
      },
    })
    expect(broken.status).toBe(400)
    expect((await call(path, { token, body: { id: 'x', statements: [] } })).status).toBe(400)
    const stats = await call(`/v1/databases/${name}/stats`, { token })
    expect(stats.status).toBe(200)
    expect(stats.body.tables).toEqual([
      { name: '_edgeblocks_migrations', rows: 1 },
      { name: 'users', rows: 1 },
    ])
    expect((stats.body.migrations as Array<{ id: string }>).map((m) => m.id)).toEqual(['001-init'])
    expect(stats.body.sizeBytes).toBe((stats.body.pageCount as number) * (stats.body.pageSize as number))
    expect(stats.body.sizeBytes).toBeGreaterThan(0)
    const rows = await platformClient(url, token).execute('SELECT name FROM users')
    expect(rows.rows.map((row) => row.name)).toEqual(['ada'])
  })
})

/**
 * SQL databases under `npm run dev`: the README's curl walk-through, then the official
 * `@libsql/client` (Node build) aimed at `/v1/databases/{db}/`: statements, an interactive
 * transaction across requests, a read-only token refused a write.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createClient, LibsqlError } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

const run = promisify(execFile)
let platform: RunningPlatform
let token: string

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('databases-e2e', ['databases:read', 'databases:write'])
})

afterAll(async () => {
  await platform?.stop()
})

async function curl(path: string, body: unknown): Promise<unknown> {
  const { stdout } = await run('curl', [
    '-sS',
    '-X',
    'POST',
    `${platform.url}${path}`,
    '-H',
    `Authorization: Bearer ${token}`,
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify(body),
  ])
  return JSON.parse(stdout)
}

describe('databases under npm run dev', () => {
  it('serves the README walk-through and @libsql/client', async () => {
    expect(await curl('/v1/databases', { name: 'shop' })).toMatchObject({
      name: 'shop',
      url: '/v1/databases/shop/',
    })
    expect(
      await curl('/v1/databases/shop/migrations', {
        id: '001',
        statements: ['CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)'],
      }),
    ).toEqual({ id: '001', applied: true })
    const counted = (await curl('/v1/databases/shop/v2/pipeline', {
      baton: null,
      requests: [{ type: 'execute', stmt: { sql: 'SELECT count(*) FROM items' } }, { type: 'close' }],
    })) as { results: Array<{ type: string; response: { result: { rows: unknown[][] } } }> }
    expect(counted.results[0]?.response.result.rows).toEqual([[{ type: 'integer', value: '0' }]])

    const db = createClient({ url: `${platform.url}/v1/databases/shop/`, authToken: token })
    await db.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['lamp'] })
    const tx = await db.transaction('write')
    await tx.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['desk'] })
    expect((await tx.execute('SELECT count(*) AS n FROM items')).rows[0]?.n).toBe(2)
    await tx.commit()
    expect((await db.execute('SELECT name FROM items ORDER BY id')).rows.map((r) => r.name)).toEqual([
      'lamp',
      'desk',
    ])

    const reader = createClient({
      url: `${platform.url}/v1/databases/shop/`,
      authToken: await platform.token('databases-e2e', ['databases:read']),
    })
    expect((await reader.execute('SELECT count(*) AS n FROM items')).rows[0]?.n).toBe(2)
    await expect(reader.execute('DELETE FROM items')).rejects.toBeInstanceOf(LibsqlError)
    expect((await db.execute('SELECT count(*) AS n FROM items')).rows[0]?.n).toBe(2)
  })
})

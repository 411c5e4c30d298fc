// The statement timeout: a runaway statement is stopped with a clear error, the server keeps answering
// other connections meanwhile, committed data survives and the engine works afterwards.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, createClient, LibsqlError } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../apps/libsql/server.ts'
import { codeOf, get, table } from './support.ts'

const RUNAWAY =
  'WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1e12) SELECT max(i) FROM c'

let server: LibsqlServer
let dataDir: string

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'edgeblocks-libsql-timeout-'))
  server = await startLibsqlServer({ port: 0, dataDir, statementTimeoutMs: 2500 })
})

afterAll(async () => {
  await server.close()
  await rm(dataDir, { recursive: true, force: true })
})

/** Resolves once the server has `n` requests running in its engines. */
async function running(n: number): Promise<void> {
  while (server.runningRequests < n) await new Promise((resolve) => setTimeout(resolve, 10))
}

describe('statement timeout', () => {
  it('interrupts a runaway statement while other connections are answered', async () => {
    const t = table()
    const writer = createClient({ url: server.url })
    const reader = createClient({ url: server.url })
    const runawayClient = createClient({ url: server.url })
    try {
      await writer.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT)`)
      await writer.execute({ sql: `INSERT INTO ${t} VALUES (1, ?)`, args: ['committed'] })

      let runawayDone = false
      const runaway = runawayClient.execute(RUNAWAY).then(
        () => {
          runawayDone = true
          return undefined
        },
        (error: unknown) => {
          runawayDone = true
          return error
        },
      )
      await running(1)
      expect((await get(`${server.url}/health`)).status).toBe(200)
      const point = await reader.execute({ sql: `SELECT v FROM ${t} WHERE id = ?`, args: [1] })
      expect(point.rows[0]?.v).toBe('committed')
      expect(runawayDone).toBe(false)

      const error = await runaway
      expect(error).toBeInstanceOf(LibsqlError)
      expect((error as Error).message).toMatch(/statement timeout \(2500 ms\)/)

      const after = createClient({ url: server.url })
      try {
        await after.execute({ sql: `INSERT INTO ${t} VALUES (2, ?)`, args: ['after'] })
        const rows = await after.execute(`SELECT v FROM ${t} ORDER BY id`)
        expect(rows.rows.map((r) => r.v)).toEqual(['committed', 'after'])
      } finally {
        after.close()
      }
    } finally {
      for (const c of [writer, reader, runawayClient] as Client[]) c.close()
    }
  })

  it('rolls back the runaway transaction and keeps what was committed before', async () => {
    const t = table()
    const db = createClient({ url: server.url })
    try {
      await db.execute(`CREATE TABLE ${t} (v TEXT)`)
      await db.execute(`INSERT INTO ${t} VALUES ('before')`)
      const tx = await db.transaction('write')
      await tx.execute(`INSERT INTO ${t} VALUES ('uncommitted')`)
      const failed = await tx.execute(RUNAWAY).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((failed as Error).message).toMatch(/statement timeout/)
      tx.close()
      const rows = await db.execute(`SELECT v FROM ${t}`)
      expect(rows.rows.map((r) => r.v)).toEqual(['before'])
    } finally {
      db.close()
    }
  })

  it('does not count waiting for a lock: a long lock wait ends with SQLITE_BUSY', async () => {
    const small = await startLibsqlServer({
      port: 0,
      dataDir: ':memory:',
      statementTimeoutMs: 300,
      busyTimeoutMs: 1200,
    })
    const holder = createClient({ url: small.url })
    const waiter = createClient({ url: small.url })
    try {
      await holder.execute('CREATE TABLE w (x)')
      const tx = await holder.transaction('write')
      await tx.execute('INSERT INTO w VALUES (1)')
      expect(await codeOf(waiter.execute('INSERT INTO w VALUES (2)'))).toBe('SQLITE_BUSY')
      await tx.commit()
      const rows = await waiter.execute('SELECT x FROM w')
      expect(rows.rows.map((r) => r.x)).toEqual([1])
    } finally {
      holder.close()
      waiter.close()
      await small.close()
    }
  })
})

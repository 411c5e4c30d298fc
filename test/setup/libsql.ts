/**
 * Vitest global setup (runs in Node): starts the local libSQL server on a free loopback
 * port over a temporary directory, applies the migrations, and provides its URL to the
 * workerd test pool, which hands it to the Worker as `LIBSQL_URL`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLibsqlServer } from '../../apps/libsql/server'
import { migrateDatabase } from '../../scripts/migrate'

declare module 'vitest' {
  export interface ProvidedContext {
    libsqlUrl: string
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeblocks-test-'))
  const server = await startLibsqlServer({ host: '127.0.0.1', port: 0, dataDir })
  await migrateDatabase(server.url)
  project.provide('libsqlUrl', server.url)
  return async () => {
    await server.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Vitest global setup (runs in Node): starts the local libSQL server on a free loopback
 * port over a temporary directory, applies the migrations, and provides its URL to the
 * workerd test pool, which hands it to the Worker as `LIBSQL_URL`.
 *
 * It also starts three storage nodes (libSQL server processes, `STORAGE_NODES`) and a tiny
 * control server on 127.0.0.1 whose `POST /nodes/<i>/kill` (kill -9) and
 * `POST /nodes/<i>/restart` let tests in workerd crash and revive a node (`kvControlUrl`).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLibsqlServer } from '../../apps/libsql/server'
import { migrateDatabase } from '../../scripts/migrate'
import { type LocalStorageNodes, startStorageNodes } from '../../scripts/storage-nodes'

declare module 'vitest' {
  export interface ProvidedContext {
    libsqlUrl: string
    storageNodes: string
    kvControlUrl: string
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeblocks-test-'))
  const server = await startLibsqlServer({ host: '127.0.0.1', port: 0, dataDir })
  await migrateDatabase(server.url)
  project.provide('libsqlUrl', server.url)
  const nodes = await startStorageNodes({ count: 3, dataDir: join(dataDir, 'nodes') })
  const control = await startNodeControl(nodes)
  project.provide('storageNodes', nodes.setting)
  project.provide('kvControlUrl', control.url)
  return async () => {
    await control.close()
    await nodes.stop()
    await server.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function startNodeControl(nodes: LocalStorageNodes) {
  const server = createServer((request, response) => {
    const match = /^\/nodes\/(\d+)\/(kill|restart)$/.exec(request.url ?? '')
    if (request.method !== 'POST' || !match) {
      response.writeHead(404).end()
      return
    }
    const index = Number(match[1])
    const action = match[2] === 'kill' ? nodes.kill(index) : nodes.restart(index)
    action.then(
      () => response.writeHead(204).end(),
      (error: unknown) => response.writeHead(500).end(String(error)),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

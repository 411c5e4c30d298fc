/**
 * `npm run dev`: the whole platform on this machine, as a user runs it.
 *
 * 1. Creates `.dev.vars` with random secrets if it is missing (never overwrites it).
 * 2. Starts the local libSQL server (apps/libsql) and applies the migrations, and three
 *    storage nodes (libSQL server processes for the key-value store, `STORAGE_NODES`) unless
 *    `.dev.vars` names its own; each prints its pid, so `kill -9 <pid>` crashes one.
 * 3. Starts `wrangler dev` on 127.0.0.1 with the settings, waits until `/healthz` answers.
 * 4. Prints the URL, the docs URL and a token for tenant `dev` with every scope.
 * Ctrl-C (SIGINT) or SIGTERM stops all of it; so does a `kill -9` of this process (a
 * watchdog stops wrangler's process group). A start refuses ports another process holds
 * and stops a wrangler an earlier run left behind (scripts/dev-guard.ts).
 *
 * Flags (for running a second copy, e.g. the e2e suite): --port 8787, --libsql-port 8080,
 * --vars .dev.vars, --data .data/libsql, --persist .wrangler/state, --node-ports 8081,8082,8083,
 * --nodes-data .data/nodes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { RUNTIMES, type Runtime } from '../apps/host/build'
import { spawnHost } from '../apps/host/launch'
import { startLibsqlServer } from '../apps/libsql/server'
import { mintToken } from '../workers/platform/auth/token'
import { claimDevPorts, guardDevProcess, releaseDevPorts } from './dev-guard'
import { freePort } from './free-port'
import { migrateDatabase } from './migrate'
import { type LocalStorageNodes, startStorageNodes } from './storage-nodes'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { values: flags } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    'libsql-port': { type: 'string', default: '8080' },
    vars: { type: 'string', default: resolve(root, '.dev.vars') },
    data: { type: 'string', default: resolve(root, '.data/libsql') },
    persist: { type: 'string', default: resolve(root, '.wrangler/state') },
    'node-ports': { type: 'string', default: '8081,8082,8083' },
    'nodes-data': { type: 'string', default: resolve(root, '.data/nodes') },
    /** Run on a portable host (apps/host) instead of wrangler dev: node, bun or deno. */
    host: { type: 'string' },
  },
})

function ensureDevVars(path: string): Record<string, string> {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true })
    const secret = (bytes: number) => randomBytes(bytes).toString('base64url')
    writeFileSync(
      path,
      `# Local secrets for npm run dev; created once, never overwritten.\nJWT_SECRET=${secret(32)}\nROOT_KEY=${secret(24)}\n`,
      { mode: 0o600 },
    )
    console.log(`created ${path} with random secrets`)
  }
  const vars: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line)
    if (match?.[1]) vars[match[1]] = (match[2] ?? '').replace(/^"(.*)"$/, '$1')
  }
  return vars
}

async function waitUntilHealthy(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`)
    try {
      const response = await fetch(`${url}/healthz`)
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${url}/healthz did not answer within ${timeoutMs / 1000} s`)
}

const ports = { port: Number(flags.port), libsqlPort: Number(flags['libsql-port']) }
const pidFile = resolve(flags.persist, 'dev.pid.json')
mkdirSync(flags.persist, { recursive: true })
try {
  await claimDevPorts(pidFile, ports)
} catch (error) {
  console.error((error as Error).message)
  process.exit(1)
}
const vars = ensureDevVars(flags.vars)
mkdirSync(flags.data, { recursive: true })
const libsql = await startLibsqlServer({
  host: '127.0.0.1',
  port: ports.libsqlPort,
  dataDir: flags.data,
})
await migrateDatabase(libsql.url)
console.log(`libSQL     ${libsql.url} (data in ${flags.data}, migrations applied)`)

let storageNodes: LocalStorageNodes | undefined
if (!vars.STORAGE_NODES) {
  const ports = flags['node-ports'].split(',').map(Number)
  storageNodes = await startStorageNodes({ count: ports.length, dataDir: flags['nodes-data'], ports })
  storageNodes.urls.forEach((url, i) => {
    console.log(
      `node-${i}     ${url} (pid ${storageNodes?.pid(i)}, data in ${flags['nodes-data']}/node-${i})`,
    )
  })
}

const settings: Record<string, string> = {
  ...vars,
  LIBSQL_URL: libsql.url,
  ...(storageNodes ? { STORAGE_NODES: storageNodes.setting } : {}),
}
const wranglerArgs = [
  'dev',
  '--ip',
  '127.0.0.1',
  '--port',
  flags.port,
  '--inspector-port',
  String(await freePort()),
  '--persist-to',
  flags.persist,
  '--show-interactive-dev-session=false',
  ...Object.entries(settings).flatMap(([key, value]) => ['--var', `${key}:${value}`]),
]
const runtime = flags.host as Runtime | undefined
if (runtime !== undefined && !RUNTIMES.includes(runtime)) {
  console.error(`--host must be one of ${RUNTIMES.join(', ')}`)
  process.exit(1)
}
const wrangler = runtime
  ? await spawnHost(runtime, { port: ports.port, dataDir: resolve(flags.persist, 'host'), vars: settings })
  : spawn(resolve(root, 'node_modules/.bin/wrangler'), wranglerArgs, {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      detached: true,
    })

guardDevProcess(pidFile, wrangler, ports)

let stopping = false
async function stop(code: number) {
  if (stopping) return
  stopping = true
  if (wrangler.pid && wrangler.exitCode === null) {
    try {
      process.kill(-wrangler.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  await storageNodes?.stop()
  await libsql.close()
  releaseDevPorts(pidFile)
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
wrangler.on('exit', (code) => void stop(code ?? 1))

const url = `http://127.0.0.1:${flags.port}`
try {
  await waitUntilHealthy(url, wrangler)
} catch (error) {
  console.error(String(error))
  await stop(1)
}
const secret = settings.JWT_SECRET
if (!secret) throw new Error(`JWT_SECRET is missing from ${flags.vars}`)
const { token } = await mintToken(secret, { tenant: 'dev', scopes: ['admin'], ttlSeconds: 24 * 3600 })
console.log(`
edgeblocks is running${runtime ? ` (host: ${runtime})` : ''}
  API     ${url}
  Docs    ${url}/docs
  OpenAPI ${url}/openapi.json
  Token   (tenant "dev", scope admin, 24 h)
          export TOKEN=${token}
  Try     curl -H "Authorization: Bearer $TOKEN" ${url}/v1/whoami
Ctrl-C stops everything.
`)

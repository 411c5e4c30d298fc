/**
 * Starts the platform exactly as `npm run dev` does, but on free ports with its own
 * `.dev.vars`, data and state in a temporary directory, for the e2e suite and the
 * benchmarks. Tokens are minted through `POST /v1/tokens` with the root key.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port'

export { freePort }

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface RunningPlatform {
  url: string
  libsqlUrl: string
  /** The storage nodes' URLs (libSQL server processes started by the dev script). */
  storageNodeUrls: string[]
  rootKey: string
  /** The dev process's pid (`scripts/dev.ts`). */
  pid: number
  /** Mints a token for `tenant` with `scopes` through the API. */
  token(tenant: string, scopes: string[]): Promise<string>
  /** Everything the dev process printed so far. */
  output(): string
  stop(): Promise<void>
}

/** `node` arguments that run `npm run dev` on these ports with `.dev.vars`, data and state under `dir`. */
export function devProcessArgs(dir: string, port: number, libsqlPort: number, nodePorts: number[]): string[] {
  return [
    '--import',
    'tsx',
    join(root, 'scripts/dev.ts'),
    '--port',
    String(port),
    '--libsql-port',
    String(libsqlPort),
    '--vars',
    join(dir, '.dev.vars'),
    '--data',
    join(dir, 'libsql'),
    '--persist',
    join(dir, 'state'),
    '--node-ports',
    nodePorts.join(','),
    '--nodes-data',
    join(dir, 'nodes'),
    // EDGEBLOCKS_HOST=node|bun|deno runs the platform on that portable host instead of wrangler dev.
    ...(process.env.EDGEBLOCKS_HOST ? ['--host', process.env.EDGEBLOCKS_HOST] : []),
  ]
}

export async function startPlatform(extraVars: Record<string, string> = {}): Promise<RunningPlatform> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeblocks-platform-'))
  const rootKey = randomBytes(24).toString('base64url')
  // Benchmarks and e2e suites measure the blocks, not the gateway: its limits are high unless a caller sets them.
  const gatewayLimits = { GATEWAY_TENANT_LIMIT: '1000000/60s', GATEWAY_IP_LIMIT: '1000000/60s' }
  const vars = {
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ROOT_KEY: rootKey,
    ...gatewayLimits,
    ...extraVars,
  }
  await writeFile(
    join(dir, '.dev.vars'),
    Object.entries(vars)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  )
  const [port, libsqlPort] = [await freePort(), await freePort()]
  const nodePorts = [await freePort(), await freePort(), await freePort()]
  let output = ''
  const child: ChildProcess = spawn(process.execPath, devProcessArgs(dir, port, libsqlPort, nodePorts), {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  })
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 180_000
  while (!output.includes('edgeblocks is running')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`npm run dev did not start:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    url,
    libsqlUrl: `http://127.0.0.1:${libsqlPort}`,
    storageNodeUrls: nodePorts.map((nodePort) => `http://127.0.0.1:${nodePort}`),
    rootKey,
    pid: child.pid ?? 0,
    async token(tenant, scopes) {
      const response = await fetch(`${url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tenant, scopes, ttlSeconds: 3600 }),
      })
      if (response.status !== 201)
        throw new Error(`minting failed: ${response.status} ${await response.text()}`)
      return ((await response.json()) as { token: string }).token
    },
    output: () => output,
    stop,
  }
}

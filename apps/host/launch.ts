/**
 * Starts the host process for a runtime (used by `npm run start:<runtime>` through
 * scripts/dev.ts): builds the bundle, then runs it with Node, Bun or Deno (both from
 * node_modules, so no global install is needed), in a process group of its own, with
 * its settings in `EDGEBLOCKS_HOST_CONFIG` (not on the command line, which other users see).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildHost, type Runtime, readWranglerConfig } from './build'
import type { HostProcessConfig } from './host'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export function runtimeCommand(runtime: Runtime, bundle: string): [string, string[]] {
  if (runtime === 'bun') return [join(root, 'node_modules/.bin/bun'), ['run', bundle]]
  if (runtime === 'deno')
    return [join(root, 'node_modules/.bin/deno'), ['run', '--allow-all', '--no-prompt', '--quiet', bundle]]
  return [process.execPath, ['--enable-source-maps', '--no-warnings=ExperimentalWarning', bundle]]
}

export async function spawnHost(
  runtime: Runtime,
  options: { port: number; dataDir: string; vars: Record<string, string>; idleMs?: number },
): Promise<ChildProcess> {
  const bundle = await buildHost(runtime, join(options.dataDir, 'build'))
  const wrangler = readWranglerConfig()
  for (const table of wrangler.unsupported)
    console.warn(
      `wrangler.toml [[${table}]]: the portable host provides no such binding; the Worker runs without it`,
    )
  const config: HostProcessConfig = {
    port: options.port,
    name: wrangler.name,
    bindings: wrangler.bindings,
    services: wrangler.services,
    buckets: wrangler.buckets,
    crons: wrangler.crons,
    dataDir: options.dataDir,
    vars: { ...wrangler.vars, ...options.vars },
    idleMs: options.idleMs,
  }
  const [command, args] = runtimeCommand(runtime, bundle)
  return spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, EDGEBLOCKS_HOST_CONFIG: JSON.stringify(config), DENO_NO_UPDATE_CHECK: '1' },
    detached: true,
  })
}

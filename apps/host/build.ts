/**
 * Builds the Worker for a non-workerd runtime: esbuild bundles the runtime's entry point
 * (which imports workers/edge.ts) into one ES module, with `cloudflare:workers` aliased to
 * the host's base classes and wrangler.toml's `[alias]` entries applied, so block code is
 * the same file workerd runs. Also reads wrangler.toml (wrangler-config.ts) for the launcher.
 * A build takes about a second; the bundle lands in `<outDir>/host-<runtime>.mjs`.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type WranglerConfig, wranglerConfig } from './wrangler-config'

export type Runtime = 'node' | 'bun' | 'deno'
export const RUNTIMES: readonly Runtime[] = ['node', 'bun', 'deno']

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')

/** wrangler.toml as the host reads it, with `[alias]` paths resolved against the repository. */
export function readWranglerConfig(path = join(root, 'wrangler.toml')): WranglerConfig {
  const config = wranglerConfig(readFileSync(path, 'utf8'))
  const alias = Object.fromEntries(
    Object.entries(config.alias).map(([from, to]) => [from, resolve(root, to)]),
  )
  return { ...config, alias }
}

export async function buildHost(runtime: Runtime, outDir: string): Promise<string> {
  const { alias } = readWranglerConfig()
  const outfile = join(outDir, `host-${runtime}.mjs`)
  await build({
    entryPoints: [join(here, `main-${runtime}.ts`)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2023',
    sourcemap: 'linked',
    logLevel: 'warning',
    alias: { ...alias, 'cloudflare:workers': join(here, 'cloudflare-workers.ts') },
    external: ['bun:*', 'node:*'],
    // Bundled CommonJS dependencies call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __hostRequire } from 'node:module'; const require = __hostRequire(import.meta.url);",
    },
  })
  return outfile
}

/**
 * Builds the Worker for a non-workerd runtime: esbuild bundles the runtime's entry point
 * (which imports workers/edge.ts) into one ES module, with `cloudflare:workers` aliased to
 * the host's base classes and wrangler.toml's `[alias]` entries applied, so block code is
 * the same file workerd runs. Also reads the Durable Object bindings from wrangler.toml.
 * A build takes about a second; the bundle lands in `<outDir>/host-<runtime>.mjs`.
 */
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { ObjectBinding } from './host'

export type Runtime = 'node' | 'bun' | 'deno'
export const RUNTIMES: readonly Runtime[] = ['node', 'bun', 'deno']

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')

/** `[[durable_objects.bindings]]` (name, class_name) and `[alias]` entries from wrangler.toml. */
export function readWranglerConfig(path = join(root, 'wrangler.toml')) {
  const text = readFileSync(path, 'utf8')
  const bindings: ObjectBinding[] = []
  for (const table of text.split(/^\[\[durable_objects\.bindings\]\]\s*$/m).slice(1)) {
    const body = table.split(/^\[/m)[0] ?? ''
    const name = /^name\s*=\s*"([^"]+)"/m.exec(body)?.[1]
    const className = /^class_name\s*=\s*"([^"]+)"/m.exec(body)?.[1]
    if (name && className) bindings.push({ name, className })
  }
  const alias: Record<string, string> = {}
  const aliasTable = /^\[alias\]\s*$([\s\S]*?)(?=^\[)/m.exec(text)?.[1] ?? ''
  for (const match of aliasTable.matchAll(/^"([^"]+)"\s*=\s*"([^"]+)"/gm)) {
    if (match[1] && match[2]) alias[match[1]] = resolve(root, match[2])
  }
  const vars: Record<string, string> = {}
  const varsTable = /^\[vars\]\s*$([\s\S]*?)(?=^\[)/m.exec(text)?.[1] ?? ''
  for (const match of varsTable.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) {
    if (match[1]) vars[match[1]] = match[2] ?? ''
  }
  return { bindings, alias, vars }
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

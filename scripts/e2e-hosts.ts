/**
 * `npm run test:e2e:hosts`: the whole e2e suite (every `test/e2e/*.e2e.test.ts`, the same
 * files and assertions `npm run test:e2e` runs on workerd) against the Node, Bun and Deno
 * hosts in turn; EDGEBLOCKS_HOST selects the host in scripts/platform-process.ts. Hosts
 * run one after another: each file already starts its own platform (libSQL, storage
 * nodes, the host) and drives real clients, so two hosts at once on a 2-core CI machine
 * only slow both. Prints each host's wall time and the total.
 *
 * Arguments: file paths replace the default list; `--hosts node,bun` picks hosts.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { RUNTIMES, type Runtime } from '../apps/host/build'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Files that cannot run on a portable host, each with the reason. Keep this minimal: a
 * failure on a host is fixed in the host (apps/host), not excluded here.
 */
const EXCLUDED: Record<string, string> = {}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { hosts: { type: 'string', default: RUNTIMES.join(',') } },
})
const hosts = values.hosts.split(',') as Runtime[]
for (const host of hosts) {
  if (!RUNTIMES.includes(host))
    throw new Error(`--hosts: unknown host ${host} (one of ${RUNTIMES.join(', ')})`)
}
const files =
  positionals.length > 0
    ? positionals
    : readdirSync(join(root, 'test/e2e'))
        .filter((file) => file.endsWith('.e2e.test.ts'))
        .map((file) => `test/e2e/${file}`)
        .filter((file) => !(file in EXCLUDED))
        .sort()

for (const [file, reason] of Object.entries(EXCLUDED)) console.log(`skipping ${file} on the hosts: ${reason}`)
const timings: string[] = []
const started = Date.now()
let failed = false
for (const runtime of hosts) {
  console.log(`\n== e2e on the ${runtime} host: ${files.length} files`)
  const hostStarted = Date.now()
  const result = spawnSync('npx', ['vitest', 'run', '--config', 'test/e2e/vitest.config.ts', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, EDGEBLOCKS_HOST: runtime },
  })
  if (result.status !== 0) failed = true
  timings.push(
    `${runtime}: ${((Date.now() - hostStarted) / 1000).toFixed(0)} s (${result.status === 0 ? 'passed' : 'FAILED'})`,
  )
}
console.log(
  `\ne2e on the hosts: ${timings.join(', ')}; total ${((Date.now() - started) / 1000).toFixed(0)} s`,
)
process.exit(failed ? 1 : 0)

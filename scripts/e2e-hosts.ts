/**
 * `npm run test:e2e:hosts`: the e2e files that must pass on every portable host, run
 * against Node, Bun and Deno in turn (EDGEBLOCKS_HOST selects the host in
 * scripts/platform-process.ts). Arguments replace the default file list.
 */
import { spawnSync } from 'node:child_process'
import { RUNTIMES } from '../apps/host/build'

const DEFAULT_FILES = ['test/e2e/platform.e2e.test.ts', 'test/e2e/stream-tickets.e2e.test.ts']
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_FILES
let failed = false
for (const runtime of RUNTIMES) {
  console.log(`\n== e2e on the ${runtime} host: ${files.join(' ')}`)
  const result = spawnSync('npx', ['vitest', 'run', '--config', 'test/e2e/vitest.config.ts', ...files], {
    stdio: 'inherit',
    env: { ...process.env, EDGEBLOCKS_HOST: runtime },
  })
  if (result.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)

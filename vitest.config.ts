import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

/** Secrets for the Worker under test only; `npm run dev` makes random ones in `.dev.vars`. */
export const TEST_BINDINGS = {
  JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
  ROOT_KEY: 'test-root-key-0123456789',
  // The gateway's own limits, high so suites firing thousands of requests never see a 429;
  // the rate limiter's tests use the tiny override for "gateway-tiny" or their own options.
  GATEWAY_TENANT_LIMIT: '1000000/60s',
  GATEWAY_IP_LIMIT: '1000000/60s',
  GATEWAY_TENANT_OVERRIDES: '{"gateway-tiny":"5/60s"}',
  // Resharding jobs wait an hour between steps: tests fire each step's alarm themselves.
  RESHARD_STEP_DELAY_MS: '3600000',
  // The platform's request logs are off in tests (each request would write a line); the logs tests turn them on per app.
  LOGS_REQUEST_LOGS: 'off',
  // The crawler's tests crawl a site on 127.0.0.1; deployments refuse private networks by default.
  CRAWL_ALLOW_PRIVATE_NETWORKS: 'true',
}

/** Test files that kill and restart storage nodes (see test/setup/libsql.ts). */
const NODE_KILLING_TESTS = [
  'test/kv/faults.test.ts',
  'test/kv/strong.test.ts',
  'test/kv/rebalance.test.ts',
  'test/databases/failover.test.ts',
  'test/databases/shard-failover.test.ts',
]

/** The Worker under test in workerd, bound to the libSQL server and storage nodes of its project's global setup. */
function workerPool() {
  return cloudflareTest(({ inject }) => ({
    wrangler: { configPath: './wrangler.toml' },
    miniflare: {
      bindings: {
        ...TEST_BINDINGS,
        LIBSQL_URL: inject('libsqlUrl'),
        STORAGE_NODES: inject('storageNodes'),
      },
    },
  }))
}

export default defineConfig({
  test: {
    projects: [
      {
        extends: false,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/**/*.node.test.ts', 'test/**/*.logic.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        plugins: [workerPool()],
        test: {
          name: 'workers',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.node.test.ts', 'test/e2e/**', ...NODE_KILLING_TESTS],
          globalSetup: ['test/setup/libsql.ts', 'test/setup/origins.ts', 'test/setup/crawl-site.ts'],
          testTimeout: 30_000,
        },
      },
      {
        // Files that kill -9 storage nodes get storage nodes of their own (this project's global
        // setup starts them), so no other suite's data sits on a node they take down.
        plugins: [workerPool()],
        test: {
          name: 'workers-faults',
          include: NODE_KILLING_TESTS,
          // one at a time: two files killing different nodes at once would take a quorum down
          fileParallelism: false,
          globalSetup: ['test/setup/libsql.ts'],
          testTimeout: 30_000,
        },
      },
    ],
  },
})

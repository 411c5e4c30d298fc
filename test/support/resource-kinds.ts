/**
 * One resource of every kind, as a table: the fuzz test and the tenant-isolation sweep
 * create these for a tenant and then drive every operation of `/openapi.json` at them.
 * A new block adds one row (its create requests); every path parameter of its routes is
 * then filled from `FIXTURE_PARAMS` (plus what a row captures from a create response).
 *
 * Every resource is named `fx-1` (a queue, a counter, a topic, a policy, a schedule, a
 * generator and a clock all share the name: they are different kinds), so any `{name}`,
 * `{queue}`, `{topic}`… in a path names this tenant's resource of that block.
 */
import { env } from 'cloudflare:test'
import { call } from '../helpers'

export const FIXTURE_NAME = 'fx-1'

/**
 * Path parameter values that name the fixtures; unknown parameters get `FIXTURE_NAME`.
 * A name that is global rather than per tenant (a DNS zone) says `{tenantTag}`, replaced
 * here and in the create steps' paths by a tag derived from the tenant: unique per tenant,
 * yet not its name, so an error that echoes the name (a 409 for a taken zone) is no leak.
 */
export const FIXTURE_PARAMS: Record<string, string> = {
  zone: 'fx-1.t{tenantTag}.test',
  subscription: 'fx-sub',
  member: 'member-1',
  key: 'key-1',
  receiptHandle: 'AAAA',
  id: '00000000-0000-4000-8000-000000000000',
  tokenId: '00000000-0000-4000-8000-000000000000',
}

export interface CreateStep {
  method: string
  path: string
  body?: unknown
  /** `root`: authorised by the root key (token minting); otherwise the tenant's admin token. */
  auth?: 'root'
  /** Request headers (a non-JSON body names its content type here). */
  headers?: Record<string, string>
  /** Path parameters read from the response: parameter → response field. */
  capture?: Record<string, string>
}

export interface ResourceKind {
  kind: string
  create: CreateStep[]
}

export const RESOURCE_KINDS: ResourceKind[] = [
  {
    kind: 'queue (with a dead-letter queue and a message)',
    create: [
      { method: 'PUT', path: '/v1/queues/fx-dlq', body: {} },
      {
        method: 'PUT',
        path: '/v1/queues/fx-1',
        body: { deadLetter: { queue: 'fx-dlq', maxReceiveCount: 3 } },
      },
      { method: 'POST', path: '/v1/queues/fx-1/messages', body: { body: 'hello from {tenant}' } },
    ],
  },
  {
    kind: 'counter',
    create: [
      { method: 'PUT', path: '/v1/counters/fx-1', body: { shards: 2 } },
      { method: 'POST', path: '/v1/counters/fx-1/increment', body: { by: 5 } },
      { method: 'PUT', path: '/v1/counters/fx-1/members/member-1' },
    ],
  },
  {
    kind: 'topic (with a pull subscription and a message)',
    create: [
      { method: 'POST', path: '/v1/pubsub/topics', body: { name: 'fx-1' } },
      {
        method: 'POST',
        path: '/v1/pubsub/topics/fx-1/subscriptions',
        body: { name: 'fx-sub', type: 'pull' },
      },
      { method: 'POST', path: '/v1/pubsub/topics/fx-1/messages', body: { messages: [{ data: 'aGk=' }] } },
    ],
  },
  {
    kind: 'rate-limit policy',
    create: [
      {
        method: 'PUT',
        path: '/v1/ratelimit/policies/fx-1',
        body: { algorithm: 'token-bucket', limit: 100, period: '1m' },
      },
    ],
  },
  {
    kind: 'schedule and task',
    create: [
      {
        method: 'POST',
        path: '/v1/scheduler/schedules',
        body: {
          name: 'fx-1',
          cron: '0 3 1 1 *',
          target: { type: 'queue', queue: 'fx-1', body: 'tick for {tenant}' },
        },
      },
      {
        method: 'POST',
        path: '/v1/scheduler/tasks',
        body: { target: { type: 'queue', queue: 'fx-1', body: 'later for {tenant}' }, delaySeconds: 86_400 },
        capture: { id: 'id' },
      },
    ],
  },
  {
    kind: 'sequencer generator and clock',
    create: [
      { method: 'POST', path: '/v1/sequencer/generators/fx-1/ids', body: { kind: 'snowflake' } },
      { method: 'POST', path: '/v1/sequencer/clocks/fx-1/lamport', body: {} },
    ],
  },
  {
    kind: 'key-value namespace and a value',
    create: [
      { method: 'PUT', path: '/v1/kv/namespaces/fx-1', body: {} },
      { method: 'PUT', path: '/v1/kv/namespaces/fx-1/values/key-1', body: { note: 'value of {tenant}' } },
    ],
  },
  {
    kind: 'cache with settings and a key',
    create: [
      { method: 'PUT', path: '/v1/cache/fx-1', body: { nodes: 2 } },
      { method: 'POST', path: '/v1/cache/fx-1', body: ['SET', 'key-1', 'value of {tenant}'] },
    ],
  },
  {
    kind: 'search index with a document',
    create: [
      { method: 'POST', path: '/v1/search/indexes', body: { uid: 'fx-1', primaryKey: 'id' } },
      {
        method: 'POST',
        path: '/v1/search/indexes/fx-1/documents',
        body: [{ id: 1, title: 'doc of {tenant}' }],
      },
    ],
  },
  {
    kind: 'load-balancer pool and balancer',
    create: [
      {
        method: 'PUT',
        path: '/v1/lb/pools/fx-1',
        body: { origins: [{ name: 'a', url: 'http://127.0.0.2:9' }] },
      },
      { method: 'PUT', path: '/v1/lb/balancers/fx-1', body: { pools: ['fx-1'] } },
    ],
  },
  {
    kind: 'DNS zone (named after its tenant: zone names are global) with a pool-fed failover record',
    create: [
      {
        method: 'PUT',
        path: '/v1/dns/zones/fx-1.t{tenantTag}.test',
        body: {
          rrsets: [
            {
              name: 'www',
              type: 'TXT',
              changetype: 'REPLACE',
              records: [{ content: '"zone of {tenant}"' }],
            },
            {
              name: 'app',
              type: 'A',
              changetype: 'REPLACE',
              policy: { kind: 'failover' },
              records: [
                { content: '192.0.2.10', pool: 'fx-1' },
                { content: '192.0.2.20', role: 'secondary' },
              ],
            },
          ],
        },
      },
    ],
  },
  {
    kind: 'CDN site',
    create: [{ method: 'PUT', path: '/v1/cdn/sites/fx-1', body: { originUrl: 'http://127.0.0.2:9' } }],
  },
  {
    kind: 'SQL database',
    create: [
      { method: 'POST', path: '/v1/databases', body: { name: 'fx-1' } },
      { method: 'POST', path: '/v1/databases/fx-1/replicas', body: {}, capture: { replica: 'id' } },
    ],
  },
  {
    kind: 'search crawl (cancelled; its seed refuses connections)',
    create: [
      {
        method: 'POST',
        path: '/v1/search/crawls',
        body: {
          index: 'fx-1',
          seeds: ['http://127.0.0.1:9/{tenant}'],
          allow: ['127.0.0.1:9'],
          maxDepth: 0,
          maxPages: 1,
        },
        capture: { crawl: 'id' },
      },
      // Cancelled at once: a running job's statistics move on their own (robots.txt retries,
      // then its sitemap) while a sweep compares snapshots; a cancelled one stays as it is.
      { method: 'DELETE', path: '/v1/search/crawls/{crawl}' },
    ],
  },
  {
    kind: 'monitoring rule file, webhook receiver, silence and scrape job',
    create: [
      {
        method: 'PUT',
        path: '/v1/monitoring/rule-files/fx-1',
        headers: { 'content-type': 'application/yaml' },
        body: 'groups:\n  - name: fx-{tenant}\n    rules:\n      - record: fx:up\n        expr: up\n',
      },
      {
        method: 'PUT',
        path: '/v1/monitoring/receivers/fx-1',
        body: { url: 'https://hooks.invalid/{tenant}' },
      },
      {
        method: 'POST',
        path: '/v1/monitoring/silences',
        body: { matchers: [{ name: 'tenant', value: '{tenant}' }], endsAt: '2099-01-01T00:00:00Z' },
        capture: { silence: 'id' },
      },
      {
        method: 'PUT',
        path: '/v1/monitoring/scrape-jobs/fx-1',
        body: { targets: ['https://scrape.invalid/{tenant}/metrics'], intervalSeconds: 3600 },
      },
    ],
  },
  {
    kind: 'client-side error project (Sentry DSN)',
    create: [
      { method: 'POST', path: '/v1/monitoring/projects', body: { name: 'fx-1' }, capture: { project: 'id' } },
    ],
  },
  {
    kind: 'access token',
    create: [
      {
        method: 'POST',
        path: '/v1/tokens',
        auth: 'root',
        body: { tenant: '{tenant}', scopes: ['queue:read'] },
        capture: { tokenId: 'tokenId', fixtureToken: 'token' },
      },
    ],
  },
]

/** 16 hex digits (two FNV-1a hashes) of the tenant's name: a DNS label unique per tenant. */
export function tenantTag(tenant: string): string {
  const fnv = (seed: number) => {
    let hash = seed
    for (const char of tenant) hash = Math.imul(hash ^ (char.codePointAt(0) as number), 16777619) >>> 0
    return hash.toString(16).padStart(8, '0')
  }
  return `${fnv(2166136261)}${fnv(0x9747b28c)}`
}

/**
 * Creates every fixture for `tenant` (idempotent: an existing one answers 409 and stays).
 * Bodies may say `{tenant}`, so a leak of this tenant's data shows as its name elsewhere;
 * paths and `FIXTURE_PARAMS` may say `{tenantTag}` (names that are global, like a zone's), and a
 * path may name a parameter captured by an earlier step (`{crawl}`).
 */
export async function createFixtures(tenant: string, token: string): Promise<Record<string, string>> {
  const tag = tenantTag(tenant)
  const params = Object.fromEntries(
    Object.entries(FIXTURE_PARAMS).map(([param, value]) => [param, value.replaceAll('{tenantTag}', tag)]),
  )
  for (const row of RESOURCE_KINDS) {
    for (const step of row.create) {
      const body = JSON.parse(JSON.stringify(step.body ?? null)?.replaceAll('{tenant}', tenant) ?? 'null')
      const path = step.path
        .replaceAll('{tenantTag}', tag)
        .replace(/\{(\w+)\}/g, (placeholder, param: string) => params[param] ?? placeholder)
      const response = await call<Record<string, unknown>>(path, {
        method: step.method,
        token: step.auth === 'root' ? env.ROOT_KEY : token,
        ...(body !== null ? { body } : {}),
        ...(step.headers ? { headers: step.headers } : {}),
      })
      if (response.status >= 300 && response.status !== 409) {
        throw new Error(
          `${row.kind}: ${step.method} ${step.path} → ${response.status} ${JSON.stringify(response.body)}`,
        )
      }
      for (const [param, field] of Object.entries(step.capture ?? {})) {
        const value = response.body[field]
        if (typeof value === 'string') params[param] = value
      }
    }
  }
  return params
}

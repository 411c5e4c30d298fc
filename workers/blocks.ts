/**
 * The building blocks mounted in the Worker. Each block lives in `workers/<block>/` and
 * contributes one entry: its routes (mounted at `path`), and optionally a body limit and
 * a cron hook. `GET /v1` lists them.
 */
import type { Hono } from 'hono'
import { CACHE_BOUNDS } from '../schemas/cache'
import { DATABASES_MAX_BODY_BYTES } from '../schemas/databases'
import { KV_MAX_BODY_BYTES } from '../schemas/kv'
import { LOGS_LIMITS } from '../schemas/logs'
import { MONITORING_LIMITS } from '../schemas/monitoring'
import { PUBSUB_MAX_BODY_BYTES } from '../schemas/pubsub'
import { blobRoutes } from './blob/routes'
import { cacheRoutes } from './cache/routes'
import { cdnRoutes, serveCdnHost } from './cdn/routes'
import { counterRoutes } from './counters/routes'
import { databaseRoutes } from './databases/routes'
import { dnsRoutes } from './dns/routes'
import { kvRoutes } from './kv/routes'
import { lbRoutes, serveLbHost } from './lb/routes'
import { lokiRoutes } from './logs/loki-routes'
import { logsRoutes } from './logs/routes'
import { sentryIngestRoutes } from './monitoring/errors/ingest-routes'
import { otlpMetricsRoutes } from './monitoring/otlp/routes'
import { monitoringRoutes } from './monitoring/routes'
import type { Env } from './platform/env'
import type { HostTarget } from './platform/host-target'
import { pubsubRoutes } from './pubsub/routes'
import { queueRoutes } from './queue/routes'
import { ratelimitRoutes } from './ratelimit/routes'
import { schedulerRoutes } from './scheduler/routes'
import { searchRoutes } from './search/routes'
import { sequencerRoutes } from './sequencer/routes'

export interface Block {
  name: string
  version: string
  path: string
  description: string
  // biome-ignore lint/suspicious/noExplicitAny: sub-apps have their own typed variables
  routes: Hono<any>
  /** The body limit of the block's routes in bytes, when not the platform default. */
  maxBodyBytes?: number
  /**
   * Standard protocol endpoints served outside `/v1/<block>` at the paths real clients use
   * (e.g. Loki's `/loki/api/v1`); they share the block's body limit.
   */
  // biome-ignore lint/suspicious/noExplicitAny: sub-apps have their own typed variables
  protocolRoutes?: Array<{ path: string; routes: Hono<any> }>
  /** Called by the Worker's `scheduled()` (Cron Triggers). */
  scheduled?: (env: Env, controller: ScheduledController) => Promise<void>
  /**
   * Serves traffic for a tenant's own hostname whose DNS records point at a target of this
   * block (a CNAME to `<name>.<kind>.edgeblocks.internal.`, e.g. `shop.lb.edgeblocks.internal.`
   * for the load balancer `shop`). The DNS block's hostname routing resolves the name and
   * calls `serve` with the zone owner's tenant; `kind` is the label before `edgeblocks.internal.`.
   */
  hostTarget?: HostTarget
  /**
   * Paths under the block whose request bodies the platform's body limit leaves alone:
   * proxied traffic streaming through unread, or a route that enforces its own bound.
   */
  streamingPaths?: RegExp
}

/** The block serving `path`: under its `/v1/<block>` path or one of its protocol paths. */
export function blockForPath(path: string): Block | undefined {
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`)
  return BLOCKS.find((b) => under(b.path) || (b.protocolRoutes ?? []).some((p) => under(p.path)))
}

export const BLOCKS: Block[] = [
  {
    name: 'sequencer',
    version: '1',
    path: '/v1/sequencer',
    description: 'Unique IDs (Snowflake, UUIDv7, ULID, database ranges) and Lamport / hybrid logical clocks',
    routes: sequencerRoutes,
    // Every sequencer request body is a small JSON object.
    maxBodyBytes: 4 * 1024,
  },
  {
    name: 'counters',
    version: '1',
    path: '/v1/counters',
    description: 'Sharded int64 counters: eventual and strong reads, distinct counts, live totals',
    routes: counterRoutes,
  },
  {
    name: 'queue',
    version: '1',
    path: '/v1/queues',
    description: 'Message queues: at-least-once delivery, visibility timeouts, dead letters, FIFO, push',
    routes: queueRoutes,
    // A 1 MiB batch plus its JSON envelope; the exact limits (256 KiB per message, 1 MiB per batch) answer 413.
    maxBodyBytes: 1024 * 1024 + 256 * 1024,
  },
  {
    name: 'pubsub',
    version: '1',
    path: '/v1/pubsub',
    description: 'Publish-subscribe: ordered topic logs; pull, push and streaming subscribers; CloudEvents',
    routes: pubsubRoutes,
    // A batch of 100 messages of 256 KiB in base64 plus attributes; a single oversized message answers 400.
    maxBodyBytes: PUBSUB_MAX_BODY_BYTES,
  },
  {
    name: 'ratelimit',
    version: '1',
    path: '/v1/ratelimit',
    description: 'Exact global rate limiting: six algorithms, policies, multi-key checks, shadow mode',
    routes: ratelimitRoutes,
  },
  {
    name: 'scheduler',
    version: '1',
    path: '/v1/scheduler',
    description:
      'Task scheduling: delayed, cron and interval tasks; signed HTTP or queue/topic targets; fair',
    routes: schedulerRoutes,
  },
  {
    name: 'cache',
    version: '1',
    path: '/v1/cache',
    description:
      'Distributed cache: Redis commands over the Upstash REST wire, nodes on a hash ring, LRU/LFU, leases',
    routes: cacheRoutes,
    // Pipelines of up to 1,000 commands; a single argument is at most 1 MiB (a Redis error past that).
    maxBodyBytes: CACHE_BOUNDS.maxBodyBytes,
  },
  {
    name: 'logs',
    version: '1',
    path: '/v1/logs',
    description:
      'Distributed logging: Loki and OTLP ingest, label, word and field indexes, LogQL, live tail, archives',
    routes: logsRoutes,
    // Compressed batches up to 10 MiB (decompressed, 32 MiB); bigger bodies answer 413.
    maxBodyBytes: LOGS_LIMITS.maxBodyBytes,
    // Loki's HTTP API at the path Loki clients and Grafana use.
    protocolRoutes: [{ path: '/loki/api/v1', routes: lokiRoutes }],
  },
  {
    name: 'kv',
    version: '1',
    path: '/v1/kv',
    description:
      'Dynamo-style key-value store on libSQL replicas: N/R/W quorums, vector-clock siblings, hinted handoff, strong mode',
    routes: kvRoutes,
    // A 1 MiB value, or a bulk request of 1,000 entries.
    maxBodyBytes: KV_MAX_BODY_BYTES,
  },
  {
    name: 'dns',
    version: '1',
    path: '/v1/dns',
    description:
      'Authoritative DNS zones, a delegation tree, DNS-over-HTTPS, routing policies, DNSSEC, hostname routing',
    routes: dnsRoutes,
    // A zone file of 1 MiB (the import limit) plus slack; JSON PATCH bodies are far smaller.
    maxBodyBytes: 1024 * 1024 + 1024,
  },
  {
    name: 'blob',
    version: '1',
    path: '/v1/blob',
    description: 'Blob store: access keys and buckets of the S3-compatible object store',
    routes: blobRoutes,
  },
  {
    name: 'search',
    version: '1',
    path: '/v1/search',
    description:
      'Full-text search with a Meilisearch-compatible API: sharded indexes, BM25 with ranking rules, filters, facets',
    routes: searchRoutes,
    // Document batches are up to 10 MiB; the search routes answer the exact limit with a Meilisearch error.
    maxBodyBytes: 12 * 1024 * 1024,
    // The document write route reads its body itself, refusing it past 10 MiB with Meilisearch's 413.
    streamingPaths: /^\/v1\/search\/indexes\/[^/]+\/documents$/,
  },
  {
    name: 'lb',
    version: '1',
    path: '/v1/lb',
    description:
      'Load balancing: pools, health monitors, outlier ejection, eight algorithms, retries with a budget, affinity',
    routes: lbRoutes,
    streamingPaths: /^\/v1\/lb\/[^/]+\/proxy(?:\/|$)/,
    hostTarget: { kind: 'lb', serve: serveLbHost },
  },
  {
    name: 'cdn',
    version: '1',
    path: '/v1/cdn',
    description:
      'CDN: an RFC 9111 shared cache with a shield tier, collapsing, Range, tag and prefix purges, stats',
    routes: cdnRoutes,
    streamingPaths: /^\/v1\/cdn\/sites\/[^/]+\/fetch(?:\/|$)/,
    hostTarget: { kind: 'cdn', serve: serveCdnHost },
  },
  {
    name: 'databases',
    version: '1',
    path: '/v1/databases',
    description: 'SQL databases per tenant on libSQL storage nodes, served over Hrana for @libsql/client',
    routes: databaseRoutes,
    // One Hrana pipeline or one migration.
    maxBodyBytes: DATABASES_MAX_BODY_BYTES,
  },
  {
    name: 'monitoring',
    version: '1',
    path: '/v1/monitoring',
    description:
      'Service monitoring: Prometheus remote-write and text pushes, Gorilla-compressed series, PromQL over the Prometheus API',
    routes: monitoringRoutes,
    // Remote-write batches, OTLP exports and text pushes up to 8 MiB as sent.
    maxBodyBytes: MONITORING_LIMITS.maxBodyBytes,
    // Sentry SDKs post envelopes to /api/{project}/envelope/; OTLP/HTTP metrics go to the
    // path exporters use by default (beside POST /v1/logs).
    protocolRoutes: [
      { path: '/api', routes: sentryIngestRoutes },
      { path: '/v1/metrics', routes: otlpMetricsRoutes },
    ],
  },
]

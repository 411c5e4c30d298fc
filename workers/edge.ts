/**
 * The Worker: the Hono app for HTTP, `scheduled()` for Cron Triggers, and every Durable
 * Object class the blocks define (wrangler.toml binds them by these export names).
 */
import { createApp } from './app'
import { serveS3 } from './blob/s3-entry'
import { BLOCKS } from './blocks'
import type { Env } from './platform/env'
import { serveSqs } from './queue/sqs/entry'

export { BlobContent } from './blob/content'
export { BlobBucket } from './blob/object'
export { CacheNode } from './cache/object'
export { CdnKey } from './cdn/object'
export { CdnSite } from './cdn/site-object'
export { CounterAggregator, CounterShard } from './counters/object'
export { DatabaseReplicator } from './databases/failover-host'
export { DatabaseReshardJob } from './databases/reshard-job'
export { DnsZone } from './dns/object'
export { KvFeed } from './kv/feed-object'
export { KvHints } from './kv/hints-object'
export { KvLeader } from './kv/leader-object'
export { KvMaintenance } from './kv/maintenance-object'
export { LbPool } from './lb/object'
export { LogShard } from './logs/shard-object'
export { LogTenant } from './logs/tenant-object'
export { ErrorProject } from './monitoring/errors/object'
export { ErrorProjects } from './monitoring/errors/registry'
export { MonitoringRules } from './monitoring/rules/object'
export { MonitoringScrapes } from './monitoring/scrape/object'
export { MetricShard } from './monitoring/shard-object'
export { StreamTicketLedger } from './platform/auth/ticket-ledger'
export { PubsubTopic } from './pubsub/object'
export { QueueDepthRegistry } from './queue/depth-registry'
export { QueuePartition } from './queue/object'
export { RateLimitBucket } from './ratelimit/object'
export { SchedulerSchedule, SchedulerShard, SchedulerTenant } from './scheduler/object'
export { CrawlFetcher } from './search/crawl/fetcher'
export { CrawlHost } from './search/crawl/host-object'
export { CrawlJob } from './search/crawl/job-object'
export { SearchShard } from './search/shard/object'
export { SearchTasks } from './search/tasks'
export { GeneratorIdRegistry } from './sequencer/id-registry'
export { SequencerObject } from './sequencer/object'

const app = createApp()

export default {
  fetch: (request, env, ctx) =>
    serveS3(request, env, ctx) ?? serveSqs(request, env) ?? app.fetch(request, env, ctx),
  async scheduled(controller, env, ctx) {
    for (const block of BLOCKS) {
      if (block.scheduled) ctx.waitUntil(block.scheduled(env, controller))
    }
  },
} satisfies ExportedHandler<Env>

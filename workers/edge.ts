/**
 * The Worker: the Hono app for HTTP, `scheduled()` for Cron Triggers, and every Durable
 * Object class the blocks define (wrangler.toml binds them by these export names).
 */
import { createApp } from './app'
import { BLOCKS } from './blocks'
import type { Env } from './platform/env'

export { CounterAggregator, CounterShard } from './counters/object'
export { LogShard } from './logs/shard-object'
export { LogTenant } from './logs/tenant-object'
export { MetricShard } from './monitoring/shard-object'
export { PubsubTopic } from './pubsub/object'
export { QueuePartition } from './queue/object'
export { RateLimitBucket } from './ratelimit/object'
export { SchedulerSchedule, SchedulerShard, SchedulerTenant } from './scheduler/object'
export { GeneratorIdRegistry } from './sequencer/id-registry'
export { SequencerObject } from './sequencer/object'

const app = createApp()

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    for (const block of BLOCKS) {
      if (block.scheduled) ctx.waitUntil(block.scheduled(env, controller))
    }
  },
} satisfies ExportedHandler<Env>

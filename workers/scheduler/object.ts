/**
 * The scheduler's Durable Objects and how the rest of the block reaches them:
 * - `SchedulerShard` (`scheduler-shard#<i>`, shared by all tenants): one-off tasks and
 *   schedule runs, dispatched in fair rounds;
 * - `SchedulerSchedule` (`<tenant>:schedule:<name>`): one per recurring schedule;
 * - `SchedulerTenant` (`<tenant>:scheduler-tenant:settings`): a tenant's limits and
 *   signing secret.
 */
import type { Env } from '../platform/env'
import { hostedStub } from '../platform/hosted-object'
import { objectStub } from '../platform/tenancy'
import type { ShardLag } from './lag'
import type { SchedulerSchedule } from './schedule-object'
import type { SchedulerShard } from './shard-object'
import { SHARD_COUNT, shardName } from './tasks'
import type { SchedulerTenant } from './tenant-object'

export { SchedulerSchedule } from './schedule-object'
export { SchedulerShard } from './shard-object'
export { SchedulerTenant } from './tenant-object'

declare global {
  namespace Cloudflare {
    interface Env {
      SCHEDULER_SHARDS: DurableObjectNamespace<SchedulerShard>
      SCHEDULER_SCHEDULES: DurableObjectNamespace<SchedulerSchedule>
      SCHEDULER_TENANTS: DurableObjectNamespace<SchedulerTenant>
      /** "true" lets HTTP targets use plain http to 127.0.0.1 / localhost (local benchmarks). */
      SCHEDULER_ALLOW_INSECURE_LOOPBACK?: string
    }
  }
}

export function shardStub(env: Env, index: number): DurableObjectStub<SchedulerShard> {
  return hostedStub(env.SCHEDULER_SHARDS, shardName(index))
}

export function scheduleStub(env: Env, tenant: string, name: string): DurableObjectStub<SchedulerSchedule> {
  return objectStub(env.SCHEDULER_SCHEDULES, tenant, 'schedule', name)
}

export function tenantStub(env: Env, tenant: string): DurableObjectStub<SchedulerTenant> {
  return objectStub(env.SCHEDULER_TENANTS, tenant, 'scheduler-tenant', 'settings')
}

/** Every shard's lag snapshot, in parallel; a shard that does not answer is left out. */
export async function schedulerLag(env: Env): Promise<Array<{ shard: number; lag: ShardLag }>> {
  const settled = await Promise.allSettled(
    Array.from({ length: SHARD_COUNT }, (_, shard) => shardStub(env, shard).lagSnapshot()),
  )
  return settled.flatMap((result, shard) =>
    result.status === 'fulfilled' ? [{ shard, lag: result.value }] : [],
  )
}

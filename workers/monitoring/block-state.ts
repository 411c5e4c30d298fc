/** Gathers what block-metrics.ts renders: the queue depth registry and the scheduler shards. */
import type { Env } from '../platform/env'
import { platformDepthTotals, tenantDepthReports } from '../queue/depth-registry'
import { MAX_EXPORTED_QUEUES, queueDepths } from '../queue/depths'
import { schedulerLag } from '../scheduler/object'
import type { BlockState, QueueView } from './block-metrics'

/**
 * Reads the registry (one tenant's queues, or the platform's totals) and every scheduler
 * shard; what does not answer is left out of the scrape rather than failing it.
 */
export async function gatherBlockState(env: Env, tenant: string | undefined): Promise<BlockState> {
  const [queues, scheduler] = await Promise.all([
    (tenant === undefined
      ? platformDepthTotals(env).then((totals): QueueView => ({ kind: 'platform', totals }))
      : tenantDepthReports(env, tenant).then(
          (reports): QueueView => ({ kind: 'tenant', ...queueDepths(reports, MAX_EXPORTED_QUEUES) }),
        )
    ).catch(() => undefined), // the registry unreachable: no queue families in this scrape
    schedulerLag(env),
  ])
  return { queues, scheduler }
}

/**
 * The blocks' own state at `/metrics`, beside the per-isolate request metrics: queue depths
 * (from the queue depth registry, never from the queues themselves) and scheduler lag (from
 * the SHARD_COUNT scheduler shards). Gathering costs DEPTH_REGISTRY_SHARDS + SHARD_COUNT
 * object calls per scrape (one registry call instead of the totals for a tenant's view),
 * whatever the number of queues and tasks.
 *
 * Queue series name their tenant and queue only for the scraping tenant's own queues (a
 * token with `queue:read`), at most MAX_EXPORTED_QUEUES of them, the deepest first; an
 * anonymous scrape sees one unlabelled series per family, summed over the platform.
 * Rendering is a plain function of the gathered values (block-state.ts) and `now` (ages
 * are computed then).
 */
import type { DepthTotals } from '../queue/depth-registry'
import { MAX_EXPORTED_QUEUES, oldestAgeSeconds, type QueueDepth } from '../queue/depths'
import { LAG_BOUNDS, type ShardLag } from '../scheduler/lag'
import type { MetricFamily } from './exposition'
import { histogramSamples } from './platform-metrics'
import type { Labels } from './series'

export type QueueView =
  | { kind: 'tenant'; queues: QueueDepth[]; omitted: number }
  | { kind: 'platform'; totals: DepthTotals }

export interface BlockState {
  /** Undefined when the registry did not answer. */
  queues: QueueView | undefined
  scheduler: Array<{ shard: number; lag: ShardLag }>
}

const gauge = (name: string, help: string, samples: MetricFamily['samples']): MetricFamily => ({
  name,
  help,
  type: 'gauge',
  samples,
})

function queueFamilies(view: QueueView, now: number): MetricFamily[] {
  const rows: Array<{ labels: Labels; q: Omit<QueueDepth, 'tenant' | 'queue'> }> =
    view.kind === 'tenant'
      ? view.queues.map((q) => ({ labels: { tenant: q.tenant, queue: q.queue }, q }))
      : [{ labels: {}, q: { ...view.totals, hasDeadLetter: true } }]
  const each = (value: (q: Omit<QueueDepth, 'tenant' | 'queue'>) => number) =>
    rows.map(({ labels, q }) => ({ labels, value: value(q) }))
  const scope = view.kind === 'tenant' ? 'by tenant and queue' : 'summed over every queue'
  const families = [
    gauge(
      'edgeblocks_queue_messages_visible',
      `Messages ready to receive, ${scope}.`,
      each((q) => q.visible),
    ),
    gauge(
      'edgeblocks_queue_messages_not_visible',
      `Messages received and not yet acked (in flight), ${scope}.`,
      each((q) => q.inFlight),
    ),
    gauge(
      'edgeblocks_queue_messages_delayed',
      `Messages whose delay has not ended, ${scope}.`,
      each((q) => q.delayed),
    ),
    gauge(
      'edgeblocks_queue_messages_moving',
      `Messages on their way to a dead-letter queue or back from one, ${scope}.`,
      each((q) => q.moving),
    ),
    gauge(
      'edgeblocks_queue_oldest_message_age_seconds',
      `Age of the oldest message (0 when empty), ${scope}.`,
      each((q) => oldestAgeSeconds(q.oldestSentAt, now)),
    ),
    {
      name: 'edgeblocks_queue_dead_lettered_messages_total',
      help: `Messages moved to the dead-letter queue, for queues that have one, ${scope}.`,
      type: 'counter',
      samples: rows
        .filter(({ q }) => q.hasDeadLetter)
        .map(({ labels, q }) => ({ labels, value: q.deadLettered })),
    },
  ] satisfies MetricFamily[]
  if (view.kind === 'tenant') {
    families.push(
      gauge(
        'edgeblocks_queue_series_omitted',
        `Queues left out of this scrape (only the ${MAX_EXPORTED_QUEUES} deepest are exported).`,
        [{ labels: {}, value: view.omitted }],
      ),
    )
  } else {
    families.push(
      gauge('edgeblocks_queues', 'Queues whose partitions have reported their depth.', [
        { labels: {}, value: view.totals.queues },
      ]),
      {
        name: 'edgeblocks_queue_depth_reports_dropped_total',
        help: 'Depth reports of new partitions refused by a full registry object (since those objects started).',
        type: 'counter',
        samples: [{ labels: {}, value: view.totals.dropped }],
      },
    )
  }
  return families
}

function schedulerFamilies(shards: BlockState['scheduler']): MetricFamily[] {
  return [
    {
      name: 'edgeblocks_scheduler_lag_seconds',
      help: 'How late task attempts started after their due time, by scheduler shard.',
      type: 'histogram',
      samples: shards.flatMap(({ shard, lag }) =>
        histogramSamples({ shard: String(shard) }, lag.lag, LAG_BOUNDS),
      ),
    },
    gauge(
      'edgeblocks_scheduler_backlog_tasks',
      'Tasks due and not yet started, by scheduler shard.',
      shards.map(({ shard, lag }) => ({ labels: { shard: String(shard) }, value: lag.backlog })),
    ),
    gauge(
      'edgeblocks_scheduler_oldest_overdue_seconds',
      'How long the earliest due, not yet started task has been waiting (0 when none), by scheduler shard.',
      shards.map(({ shard, lag }) => ({ labels: { shard: String(shard) }, value: lag.oldestOverdueSeconds })),
    ),
  ]
}

export function blockFamilies(state: BlockState, now: number): MetricFamily[] {
  return [...(state.queues ? queueFamilies(state.queues, now) : []), ...schedulerFamilies(state.scheduler)]
}

/** Queue depth reports, their aggregation and cap, scheduler lag buckets, and their rendering. */
import { describe, expect, it } from 'vitest'
import { blockFamilies } from '../../workers/monitoring/block-metrics'
import { renderExposition } from '../../workers/monitoring/exposition'
import {
  DEPTH_REPORT_INTERVAL_MS,
  type DepthCounts,
  type DepthReport,
  DepthReporter,
  oldestAgeSeconds,
  queueDepths,
} from '../../workers/queue/depths'
import { dueTimeOf, LAG_BOUNDS, lagBucket, lagHistogram, lagSeconds } from '../../workers/scheduler/lag'

const empty: DepthCounts = {
  visible: 0,
  inFlight: 0,
  delayed: 0,
  moving: 0,
  oldestSentAt: null,
  deadLettered: 0,
  hasDeadLetter: false,
}
const report = (queue: string, partition: number, counts: Partial<DepthCounts>): DepthReport => ({
  tenant: 't',
  queue,
  partition,
  ...empty,
  ...counts,
})

describe('queue depths', () => {
  it('sums partitions per queue, keeps the oldest message, and caps the deepest first', () => {
    const { queues, omitted } = queueDepths(
      [
        report('a', 0, { visible: 1, oldestSentAt: 5_000 }),
        report('a', 1, {
          visible: 2,
          inFlight: 3,
          oldestSentAt: 2_000,
          deadLettered: 4,
          hasDeadLetter: true,
        }),
        report('b', 0, { delayed: 10 }),
        report('c', 0, { moving: 1 }),
      ],
      2,
    )
    expect(queues).toEqual([
      { ...empty, tenant: 't', queue: 'b', delayed: 10 },
      {
        tenant: 't',
        queue: 'a',
        visible: 3,
        inFlight: 3,
        delayed: 0,
        moving: 0,
        oldestSentAt: 2_000,
        deadLettered: 4,
        hasDeadLetter: true,
      },
    ])
    expect(omitted).toBe(1)
  })

  it('ages in whole seconds, 0 when empty', () => {
    expect(oldestAgeSeconds(null, 10_000)).toBe(0)
    expect(oldestAgeSeconds(1_000, 62_999)).toBe(61)
  })

  it('reports on change, at most once per interval, and only counts that differ', async () => {
    const sent: DepthCounts[] = []
    const reporter = new DepthReporter()
    const send = async (counts: DepthCounts) => {
      sent.push(counts)
    }
    expect(reporter.dueAt(100)).toBe(100)
    await reporter.flush(100, () => ({ ...empty, visible: 1 }), send)
    expect(sent).toHaveLength(1)
    expect(reporter.dueAt(200)).toBeUndefined()

    reporter.changed()
    expect(reporter.dueAt(200)).toBe(100 + DEPTH_REPORT_INTERVAL_MS)
    await reporter.flush(200, () => ({ ...empty, visible: 2 }), send)
    expect(sent).toHaveLength(1) // inside the interval: waits for the alarm at its end
    await reporter.flush(100 + DEPTH_REPORT_INTERVAL_MS, () => ({ ...empty, visible: 2 }), send)
    expect(sent.map((c) => c.visible)).toEqual([1, 2])

    reporter.changed()
    await reporter.flush(1_000_000, () => ({ ...empty, visible: 2 }), send)
    expect(sent).toHaveLength(2) // same counts: nothing sent, nothing pending
    expect(reporter.dueAt(1_000_000)).toBeUndefined()

    reporter.changed()
    await reporter.flush(
      2_000_000,
      () => ({ ...empty, visible: 3 }),
      async () => {
        throw new Error('registry unreachable')
      },
    )
    expect(reporter.dueAt(2_000_000)).toBe(2_000_000 + DEPTH_REPORT_INTERVAL_MS) // retried later
  })
})

describe('scheduler lag', () => {
  it('measures from the due time, or a schedule run’s planned time on its first attempt', () => {
    expect(lagSeconds(dueTimeOf({ dueAt: 10_000, plannedAt: null, attemptsSoFar: 0 }), 12_500)).toBe(2.5)
    expect(lagSeconds(dueTimeOf({ dueAt: 10_000, plannedAt: 9_000, attemptsSoFar: 0 }), 12_500)).toBe(3.5)
    expect(lagSeconds(dueTimeOf({ dueAt: 10_000, plannedAt: 9_000, attemptsSoFar: 1 }), 12_500)).toBe(2.5)
    expect(lagSeconds(10_000, 9_000)).toBe(0)
  })

  it('buckets by the first bound at or above the lag', () => {
    expect(lagBucket(0)).toBe(0)
    expect(lagBucket(0.01)).toBe(0)
    expect(LAG_BOUNDS[lagBucket(7)]).toBe(10)
    expect(lagBucket(901)).toBe(LAG_BOUNDS.length)
    const h = lagHistogram([
      { bucket: lagBucket(7), count: 2, sum: 14 },
      { bucket: LAG_BOUNDS.length, count: 1, sum: 1_000 },
    ])
    expect(h.count).toBe(3)
    expect(h.sum).toBe(1_014)
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(2)
  })
})

describe('rendering', () => {
  const now = 100_000
  const shard = {
    shard: 3,
    lag: {
      lag: lagHistogram([{ bucket: lagBucket(7), count: 1, sum: 7 }]),
      backlog: 2,
      oldestOverdueSeconds: 4.5,
    },
  }

  it("labels a tenant's queues and ages them at `now`", () => {
    const text = renderExposition(
      blockFamilies(
        {
          queues: {
            kind: 'tenant',
            queues: [
              { ...empty, tenant: 't', queue: 'q', visible: 4, oldestSentAt: 40_000, hasDeadLetter: true },
            ],
            omitted: 0,
          },
          scheduler: [shard],
        },
        now,
      ),
    )
    expect(text).toContain('edgeblocks_queue_messages_visible{tenant="t",queue="q"} 4\n')
    expect(text).toContain('edgeblocks_queue_oldest_message_age_seconds{tenant="t",queue="q"} 60\n')
    expect(text).toContain('edgeblocks_queue_dead_lettered_messages_total{tenant="t",queue="q"} 0\n')
    expect(text).toContain('edgeblocks_scheduler_lag_seconds_bucket{shard="3",le="5"} 0\n')
    expect(text).toContain('edgeblocks_scheduler_lag_seconds_bucket{shard="3",le="10"} 1\n')
    expect(text).toContain('edgeblocks_scheduler_lag_seconds_bucket{shard="3",le="+Inf"} 1\n')
    expect(text).toContain('edgeblocks_scheduler_lag_seconds_sum{shard="3"} 7\n')
    expect(text).toContain('edgeblocks_scheduler_backlog_tasks{shard="3"} 2\n')
    expect(text).toContain('edgeblocks_scheduler_oldest_overdue_seconds{shard="3"} 4.5\n')
  })

  it('sums the platform without tenant or queue labels; a missing registry leaves queues out', () => {
    const totals = { ...empty, visible: 9, oldestSentAt: 1_000, queues: 3, dropped: 0 }
    const text = renderExposition(blockFamilies({ queues: { kind: 'platform', totals }, scheduler: [] }, now))
    expect(text).toContain('edgeblocks_queue_messages_visible 9\n')
    expect(text).toContain('edgeblocks_queue_oldest_message_age_seconds 99\n')
    expect(text).toContain('edgeblocks_queues 3\n')
    expect(text).toContain('edgeblocks_queue_depth_reports_dropped_total 0\n')
    expect(text).not.toContain('tenant=')
    const partial = renderExposition(blockFamilies({ queues: undefined, scheduler: [shard] }, now))
    expect(partial).not.toContain('edgeblocks_queue_')
    expect(partial).toContain('# TYPE edgeblocks_scheduler_lag_seconds histogram')
  })
})

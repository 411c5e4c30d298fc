/**
 * Queue depths for the platform's `/metrics` (SQS's ApproximateNumberOfMessages…): what a
 * partition reports (its message counts by state), when it reports, and how the reports
 * become one line per queue.
 *
 * A partition reports from its alarm, only when its counts differ from the last report it
 * sent, and at most once per DEPTH_REPORT_INTERVAL_MS (a change inside the interval arms
 * the alarm for its end, so the last change is always reported). The reports go to a
 * registry object (depth-registry.ts) that `/metrics` reads in one call per registry
 * shard: a scrape never calls the queues themselves.
 * Guarantees: a registry row is never more than one interval (plus the alarm's delay)
 * behind its partition once it stops changing; at most MAX_EXPORTED_QUEUES queues per
 * scrape, the deepest first. Cost: a report is one COUNT … GROUP BY state scan of the
 * partition's messages and one RPC; the aggregation is O(partitions reported).
 */
import { shardFor } from '../platform/hashing'

export const DEPTH_REPORT_INTERVAL_MS = 10_000
/** Registry objects; a tenant's queues all report to one of them. */
export const DEPTH_REGISTRY_SHARDS = 4
/** Partitions one registry object keeps; reports of new partitions beyond it are dropped. */
export const MAX_REGISTERED_PARTITIONS = 10_000
/** Queue series exported per scrape (the rest are counted in `omitted`). */
export const MAX_EXPORTED_QUEUES = 500

export interface DepthCounts {
  /** Ready to receive (SQS ApproximateNumberOfMessages). */
  visible: number
  /** Received and not yet acked (…NotVisible). */
  inFlight: number
  /** Not visible before their delay ends (…Delayed). */
  delayed: number
  /** On their way to the dead-letter queue or back from it. */
  moving: number
  /** When the oldest message was sent (ms since the epoch, the partition's clock), null if empty. */
  oldestSentAt: number | null
  /** Messages moved from this partition to its dead-letter queue, since it was created. */
  deadLettered: number
  hasDeadLetter: boolean
}

export interface DepthReport extends DepthCounts {
  tenant: string
  queue: string
  partition: number
}

/** One queue: its partitions' counts summed (the oldest message over all of them). */
export interface QueueDepth extends DepthCounts {
  tenant: string
  queue: string
}

export function registryShardOf(tenant: string): number {
  return shardFor(tenant, DEPTH_REGISTRY_SHARDS)
}

export function sameCounts(a: DepthCounts | undefined, b: DepthCounts): boolean {
  return (
    a !== undefined &&
    a.visible === b.visible &&
    a.inFlight === b.inFlight &&
    a.delayed === b.delayed &&
    a.moving === b.moving &&
    a.oldestSentAt === b.oldestSentAt &&
    a.deadLettered === b.deadLettered &&
    a.hasDeadLetter === b.hasDeadLetter
  )
}

/** When a partition whose counts may have changed should report (`reportedAt`: its last report). */
export function nextReportAt(reportedAt: number | undefined, now: number): number {
  return reportedAt === undefined ? now : Math.max(now, reportedAt + DEPTH_REPORT_INTERVAL_MS)
}

/**
 * A partition's side of reporting: remembers whether its counts may have changed, what it
 * last sent and when. The host calls `changed()` after every state change, arms its alarm
 * for `dueAt(now)`, and calls `flush` from the alarm.
 */
export class DepthReporter {
  private last: DepthCounts | undefined
  private lastAt: number | undefined
  /** True at start: a restarted object reports once (the registry may be behind). */
  private dirty = true

  changed(): void {
    this.dirty = true
  }

  /** When the alarm should wake to report; undefined when nothing may have changed. */
  dueAt(now: number): number | undefined {
    return this.dirty ? nextReportAt(this.lastAt, now) : undefined
  }

  /** Sends the counts if they may have changed, the interval has passed, and they differ. */
  async flush(now: number, counts: () => DepthCounts, send: (counts: DepthCounts) => Promise<unknown>) {
    if (!this.dirty || nextReportAt(this.lastAt, now) > now) return
    const current = counts()
    this.dirty = false
    if (sameCounts(this.last, current)) return
    this.lastAt = now
    try {
      await send(current)
      this.last = current
    } catch {
      this.dirty = true // retried one interval later
    }
  }

  /** The queue is gone: the next report (of a queue created anew) goes at once. */
  reset(): void {
    this.last = undefined
    this.lastAt = undefined
    this.dirty = true
  }
}

function depth(q: DepthCounts): number {
  return q.visible + q.inFlight + q.delayed + q.moving
}

type Summable = Omit<DepthCounts, 'hasDeadLetter'>

/** Adds `from`'s messages into `into`; the oldest message is the older of the two. */
export function addCounts(into: Summable, from: Summable): void {
  into.visible += from.visible
  into.inFlight += from.inFlight
  into.delayed += from.delayed
  into.moving += from.moving
  into.deadLettered += from.deadLettered
  if (from.oldestSentAt !== null && (into.oldestSentAt === null || from.oldestSentAt < into.oldestSentAt))
    into.oldestSentAt = from.oldestSentAt
}

/** Partitions summed per queue; the `cap` deepest queues (ties by name), and how many were left out. */
export function queueDepths(
  reports: readonly DepthReport[],
  cap = MAX_EXPORTED_QUEUES,
): { queues: QueueDepth[]; omitted: number } {
  const byQueue = new Map<string, QueueDepth>()
  for (const r of reports) {
    const key = `${r.tenant}\n${r.queue}`
    const q = byQueue.get(key)
    if (!q) {
      const { partition: _, ...counts } = r
      byQueue.set(key, counts)
      continue
    }
    addCounts(q, r)
    q.hasDeadLetter ||= r.hasDeadLetter
  }
  const queues = [...byQueue.values()].sort(
    (a, b) => depth(b) - depth(a) || a.tenant.localeCompare(b.tenant) || a.queue.localeCompare(b.queue),
  )
  return { queues: queues.slice(0, cap), omitted: Math.max(0, queues.length - cap) }
}

/** Seconds since the oldest message was sent, whole seconds like SQS; 0 for an empty queue. */
export function oldestAgeSeconds(oldestSentAt: number | null, now: number): number {
  return oldestSentAt === null ? 0 : Math.max(0, Math.floor((now - oldestSentAt) / 1000))
}

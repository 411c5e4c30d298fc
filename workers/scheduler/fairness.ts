/**
 * Fair allocation of dispatch capacity across tenants.
 *
 * A scheduler shard is shared by every tenant. Each time its alarm fires it runs one
 * dispatch round over the tasks that are due:
 * - a round takes at most `perTenant` tasks from each tenant (and no more than the
 *   tenant's allowance, see below), so a tenant with 10,000 due tasks gets `perTenant`
 *   of them this round and another tenant's single due task goes out in the same round:
 *   no tenant waits more than one round behind another's backlog;
 * - within a tenant, higher priority first (`high`, `normal`, `low`), then the earliest
 *   due time, then the task id (a total order, so rounds are deterministic);
 * - across tenants the round is interleaved round-robin (first task of every tenant, then
 *   the second of every tenant, ...), tenants ordered by how long their head task waited.
 *
 * Each tenant's allowance comes from its limits, kept by one object per tenant:
 * - concurrency: at most `concurrency` attempts in flight across all shards (leases);
 * - rate: a token bucket refilled at `ratePerSecond`, holding at most `burst` tokens;
 *   one token per attempt started.
 * `grant` is that decision: pure, with `now` as an argument. Cost: O(n log n) per round
 * for n candidates (at most `perTenant` per tenant).
 */

export const PRIORITIES = ['high', 'normal', 'low'] as const
export type Priority = (typeof PRIORITIES)[number]

/** The number stored for a priority; lower runs first. */
export function priorityRank(priority: Priority): number {
  return PRIORITIES.indexOf(priority)
}

export interface Candidate {
  id: string
  tenant: string
  /** 0 = high, 1 = normal, 2 = low. */
  priorityRank: number
  dueAt: number
}

function compareWithinTenant(a: Candidate, b: Candidate): number {
  return a.priorityRank - b.priorityRank || a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/**
 * The tasks of one round, in dispatch order. `allowance(tenant)` caps a tenant below
 * `perTenant` (e.g. what its limits granted); omitted, every tenant may take `perTenant`.
 */
export function planRound(
  candidates: readonly Candidate[],
  perTenant: number,
  allowance: (tenant: string) => number = () => perTenant,
): Candidate[] {
  const byTenant = new Map<string, Candidate[]>()
  for (const candidate of candidates) {
    const queue = byTenant.get(candidate.tenant) ?? []
    queue.push(candidate)
    byTenant.set(candidate.tenant, queue)
  }
  const queues: Candidate[][] = []
  for (const [tenant, queue] of byTenant) {
    queue.sort(compareWithinTenant)
    const take = Math.max(0, Math.min(perTenant, allowance(tenant), queue.length))
    if (take > 0) queues.push(queue.slice(0, take))
  }
  const oldestDue = (queue: Candidate[]) => Math.min(...queue.map((task) => task.dueAt))
  queues.sort((a, b) => oldestDue(a) - oldestDue(b) || ((a[0]?.tenant ?? '') < (b[0]?.tenant ?? '') ? -1 : 1))
  const round: Candidate[] = []
  for (let position = 0; round.length < candidates.length; position++) {
    let tookAny = false
    for (const queue of queues) {
      const task = queue[position]
      if (task) {
        round.push(task)
        tookAny = true
      }
    }
    if (!tookAny) break
  }
  return round
}

export interface TenantLimits {
  /** Attempts in flight at once, across all shards. */
  concurrency: number
  /** Attempts started per second, sustained. */
  ratePerSecond: number
  /** Attempts that may start at once after an idle period (the bucket's size). */
  burst: number
}

export const DEFAULT_LIMITS: TenantLimits = { concurrency: 100, ratePerSecond: 100, burst: 100 }

export interface BucketState {
  tokens: number
  /** When `tokens` was computed, ms since the epoch. */
  refilledAt: number
}

export interface Grant {
  granted: number
  bucket: BucketState
  /** Why fewer than requested were granted. */
  reason: 'granted' | 'concurrency' | 'rate'
  /** With `reason: 'rate'`: when the next token arrives (ms since the epoch). */
  retryAt?: number
}

/** The bucket refilled up to `now` (never above `burst`). */
export function refill(bucket: BucketState, limits: TenantLimits, now: number): BucketState {
  const elapsedSeconds = Math.max(0, now - bucket.refilledAt) / 1000
  return {
    tokens: Math.min(limits.burst, bucket.tokens + elapsedSeconds * limits.ratePerSecond),
    refilledAt: Math.max(now, bucket.refilledAt),
  }
}

/**
 * Grants up to `requested` attempt starts to a tenant with `inFlight` attempts running:
 * limited by the free concurrency slots and the whole tokens in the bucket.
 */
export function grant(
  requested: number,
  inFlight: number,
  bucket: BucketState,
  limits: TenantLimits,
  now: number,
): Grant {
  const current = refill(bucket, limits, now)
  const freeSlots = Math.max(0, limits.concurrency - inFlight)
  const wholeTokens = Math.floor(current.tokens)
  const granted = Math.max(0, Math.min(requested, freeSlots, wholeTokens))
  const after = { tokens: current.tokens - granted, refilledAt: current.refilledAt }
  if (granted === requested) return { granted, bucket: after, reason: 'granted' }
  if (granted === freeSlots) return { granted, bucket: after, reason: 'concurrency' }
  const missingTokens = 1 - (after.tokens - Math.floor(after.tokens))
  return {
    granted,
    bucket: after,
    reason: 'rate',
    retryAt: now + Math.ceil((missingTokens / limits.ratePerSecond) * 1000),
  }
}

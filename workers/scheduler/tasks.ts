/**
 * The life of a task, as plain decisions (no storage, no clock, no randomness of its own).
 *
 * States: `scheduled` (waiting for its due time) → `running` (an attempt in flight) →
 * `succeeded`, or back to `scheduled` for a retry after a full-jitter exponential backoff
 * (`backoffDelayMs` from workers/platform/delivery.ts), or `failed` after its last
 * allowed attempt. A failed task stays in the failed list until retried by hand (a new
 * series of attempts) or until it expires. `cancelled` stops a scheduled, running or
 * failed task; an attempt already in flight finishes but is never retried.
 *
 * Guarantees: at-least-once (a task leaves `running` only with an attempt's outcome, or
 * when its lease expires, which counts as a failed attempt); a task never has two
 * attempts in flight; every attempt is recorded (the last `HISTORY_LIMIT` are kept).
 *
 * Placement: one-off tasks live in `SHARD_COUNT` shard objects chosen by the hash of the
 * task id. With an `Idempotency-Key` the shard is the hash of tenant and key, and the task
 * id is drawn until it hashes to that same shard, so a retried request always reaches the
 * object that remembers the key.
 */
import { type BackoffPolicy, backoffDelayMs } from '../platform/delivery'
import { shardFor } from '../platform/hashing'

export const SHARD_COUNT = 8
export const HISTORY_LIMIT = 100
/** Extra time past an attempt's timeout before its lease counts it as lost. */
export const LEASE_MARGIN_MS = 5_000
/** How long a succeeded or cancelled task is kept, and a failed one. */
export const KEEP_FINISHED_MS = 7 * 24 * 3600_000
export const KEEP_FAILED_MS = 30 * 24 * 3600_000
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000

export type TaskStatus = 'scheduled' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface RetryPolicy {
  maxAttempts: number
  initialDelayMs: number
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 15 * 60_000 }

export interface AttemptOutcome {
  ok: boolean
  status?: number
  error?: string
}

export type NextStep =
  | { status: 'succeeded' }
  | { status: 'scheduled'; dueAt: number; delayMs: number }
  | { status: 'failed' }

/**
 * What follows attempt number `attempt` (1-based) that ended at `now`. `random` in [0, 1)
 * picks the full-jitter delay: uniform in [0, min(maxDelay, initialDelay·2^(attempt-1))].
 */
export function afterAttempt(
  attempt: number,
  outcome: AttemptOutcome,
  retry: RetryPolicy,
  now: number,
  random: number,
): NextStep {
  if (outcome.ok) return { status: 'succeeded' }
  if (attempt >= retry.maxAttempts) return { status: 'failed' }
  const policy: BackoffPolicy = { baseMs: retry.initialDelayMs, capMs: retry.maxDelayMs }
  const delayMs = backoffDelayMs(attempt, random, policy)
  return { status: 'scheduled', dueAt: now + delayMs, delayMs }
}

/** When a task in a terminal state may be deleted. */
export function keepUntil(status: 'succeeded' | 'failed' | 'cancelled', now: number): number {
  return now + (status === 'failed' ? KEEP_FAILED_MS : KEEP_FINISHED_MS)
}

/** The name of shard `index`: shared by all tenants, so it carries none; every row in it does. */
export function shardName(index: number): string {
  return `scheduler-shard#${index}`
}

export function shardOfTask(taskId: string): number {
  return shardFor(taskId, SHARD_COUNT)
}

export function shardOfIdempotencyKey(tenant: string, key: string): number {
  return shardFor(`${tenant}\n${key}`, SHARD_COUNT)
}

/** A random task id (UUID v4) that lives in `shard` (expected SHARD_COUNT draws). */
export function newTaskId(shard?: number): string {
  for (;;) {
    const id = crypto.randomUUID()
    if (shard === undefined || shardOfTask(id) === shard) return id
  }
}

/**
 * A task id derived from `seed` (a schedule run), so creating the run's task twice names
 * the same task: the first 128 bits of SHA-256(seed), formatted as a UUID (version 8,
 * "custom", RFC 9562).
 */
export async function derivedTaskId(seed: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(seed)))
  const bytes = digest.slice(0, 16)
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

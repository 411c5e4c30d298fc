/**
 * The ingest path shared by every wire (Loki push, OTLP, NDJSON, the platform's own request
 * logs): limits, placement, the directory, the shards, the tail.
 *
 * 1. Lines over the tenant's `maxLineBytes` (or with too much metadata) are rejected one by
 *    one; the rest go on. 2. The tenant's lines/s and KiB/s limits are token buckets in the
 *    rate limiter's own objects (bursts up to BURST_SECONDS' worth): over either, the whole
 *    batch is refused with 429 and `Retry-After`. 3. Lines are placed by day (their
 *    timestamp's) and stream (hash of the label set) onto shards, which are registered in the
 *    tenant's directory first. 4. Each shard stores its part in one transaction, keyed by the
 *    batch hash, before anything is acknowledged.
 *
 * Guarantees: an acknowledged line is durable; a batch retried with the same bytes (or the
 * same Idempotency-Key) is stored once, even when the first attempt failed half way (each
 * shard remembers the hash). Cost: two rate-limit checks, one directory call, one call per
 * shard touched, in parallel.
 */
import { LOGS_LIMITS } from '../../schemas/logs'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { shardFor } from '../platform/hashing'
import { IsolateCache } from '../platform/isolate-cache'
import { objectName, objectStub } from '../platform/tenancy'
import { POLICY_BOUNDS } from '../ratelimit/decision'
import type { KeyPolicy } from '../ratelimit/object'
import { checkObject } from '../ratelimit/service'
import { dayOf, labelsKey, lineBytes, type Stream } from './entries'
import { BURST_SECONDS, type LogSettings } from './settings'
import { LOGS_KIND } from './shard-object'
import { type ShardKey, shardConfig } from './tenant-object'

export interface IngestOutcome {
  accepted: number
  rejected: number
  /** Why lines were rejected (the first reason), for OTLP's partialSuccess and Loki's 400. */
  rejectedReason: string
  /** True when every shard had already stored this batch (a retry). */
  duplicate: boolean
}

/** How long an isolate routes with settings it read (changes apply everywhere within this bound). */
export const SETTINGS_CACHE_MS = 5_000
const settingsCache = new IsolateCache<LogSettings>(SETTINGS_CACHE_MS)

export function tenantDirectory(env: Env, tenant: string) {
  return objectStub(env.LOG_TENANTS, tenant, LOGS_KIND, 'directory')
}

export function shardStub(env: Env, tenant: string, day: number, shard: number) {
  return objectStub(env.LOG_SHARDS, tenant, LOGS_KIND, String(day), shard)
}

export async function tenantSettings(env: Env, tenant: string): Promise<LogSettings> {
  const cached = settingsCache.lookup(tenant)
  if (cached) return cached.value
  return settingsCache.set(tenant, await tenantDirectory(env, tenant).settings())
}

export function forgetSettings(tenant: string): void {
  settingsCache.delete(tenant)
}

function bucketPolicy(name: string, perSecond: number): KeyPolicy {
  const burst = Math.min(POLICY_BOUNDS.maxLimit, perSecond * BURST_SECONDS)
  return {
    algorithm: 'token-bucket',
    limit: perSecond,
    periodMs: 1000,
    burst,
    fingerprint: `logs/${name}/${perSecond}/${burst}`,
  }
}

async function enforceRate(
  env: Env,
  tenant: string,
  what: 'lines' | 'kib',
  perSecond: number,
  cost: number,
): Promise<void> {
  const policy = bucketPolicy(what, perSecond)
  const unit = what === 'lines' ? 'lines' : 'KiB'
  if (cost > (policy.burst ?? perSecond)) {
    throw new AppError(
      'payload_too_large',
      `This batch of ${cost} ${unit} is over the tenant's burst of ${policy.burst} ${unit}; send smaller batches.`,
    )
  }
  if (cost === 0) return
  const decision = await checkObject(env.RATELIMIT, policy, objectName(tenant, 'logs-ingest', what), cost)
  if (!decision.allowed) {
    throw new AppError(
      'rate_limited',
      `Ingestion rate limit exceeded: ${perSecond} ${unit}/s for this tenant.`,
      {
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))) },
      },
    )
  }
}

/** Keeps the lines within the tenant's limits; counts and explains the others. */
function admit(
  streams: Stream[],
  settings: LogSettings,
): { kept: Stream[]; rejected: number; reason: string; lines: number; bytes: number } {
  let rejected = 0
  let reason = ''
  let lines = 0
  let bytes = 0
  const kept: Stream[] = []
  for (const stream of streams) {
    const entries = stream.entries.filter((entry) => {
      const size = lineBytes(entry.line)
      if (size > settings.maxLineBytes) {
        rejected++
        reason ||= `a line of ${size} bytes is over the ${settings.maxLineBytes}-byte limit`
        return false
      }
      if (entry.metadata && Object.keys(entry.metadata).length > LOGS_LIMITS.maxMetadata) {
        rejected++
        reason ||= `a line has over ${LOGS_LIMITS.maxMetadata} structured metadata pairs`
        return false
      }
      lines++
      bytes += size
      return true
    })
    if (entries.length > 0) kept.push({ labels: stream.labels, entries })
  }
  if (lines > LOGS_LIMITS.maxBatchLines)
    throw new AppError('payload_too_large', `A batch holds at most ${LOGS_LIMITS.maxBatchLines} lines.`)
  return { kept, rejected, reason, lines, bytes }
}

/** Groups lines by shard: day of their timestamp × hash of their stream's labels. */
export function placeLines(
  streams: Stream[],
  shards: number,
): Map<string, { key: ShardKey; streams: Stream[] }> {
  const placed = new Map<string, { key: ShardKey; streams: Stream[] }>()
  for (const stream of streams) {
    const shard = shardFor(labelsKey(stream.labels), shards)
    const byDay = new Map<number, Stream>()
    for (const entry of stream.entries) {
      const day = dayOf(entry.ms)
      let part = byDay.get(day)
      if (!part) {
        part = { labels: stream.labels, entries: [] }
        byDay.set(day, part)
        const id = `${day}#${shard}`
        const target = placed.get(id) ?? { key: [day, shard] as ShardKey, streams: [] }
        target.streams.push(part)
        placed.set(id, target)
      }
      part.entries.push(entry)
    }
  }
  return placed
}

export async function ingestStreams(
  env: Env,
  tenant: string,
  streams: Stream[],
  batchHash: string,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<IngestOutcome> {
  const settings = await tenantSettings(env, tenant)
  const { kept, rejected, reason, lines, bytes } = admit(streams, settings)
  if (lines === 0) return { accepted: 0, rejected, rejectedReason: reason, duplicate: false }
  await enforceRate(env, tenant, 'lines', settings.linesPerSecond, lines)
  await enforceRate(env, tenant, 'kib', settings.kibPerSecond, Math.ceil(bytes / 1024))
  const placed = [...placeLines(kept, settings.shards).values()]
  const directory = tenantDirectory(env, tenant)
  const registered = await directory.register(placed.map((p) => p.key))
  const results = await Promise.all(
    placed.map(({ key: [day, shard], streams: part }) =>
      shardStub(env, tenant, day, shard).ingest(
        shardConfig(tenant, day, shard, registered.settings),
        batchHash,
        part,
      ),
    ),
  )
  const duplicate = results.every((result) => result.duplicate)
  if (registered.tailing && !duplicate) waitUntil(directory.publish(kept))
  return { accepted: lines, rejected, rejectedReason: reason, duplicate }
}

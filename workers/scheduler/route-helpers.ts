/**
 * Checks and conversions the scheduler's routes share: the target URL rule (https, or
 * plain http to loopback only when SCHEDULER_ALLOW_INSECURE_LOOPBACK=true), the request
 * hash behind `Idempotency-Key`, the cron expression of a schedule request (parsed here, the
 * schema bounds only its length), and a validated schedule request turned into its spec.
 */

import { type CreateScheduleInput, canonicalTimeZone, type TargetInput } from '../../schemas/scheduler'
import { sha256Hex } from '../platform/encoding'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { parseCron } from './cron'
import type { ScheduleSpec } from './schedule-store'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** 400 unless an HTTP target is https (or loopback http with the setting on). */
export function checkTarget(env: Env, target: TargetInput, path = 'body/target/url'): void {
  if (target.type !== 'http') return
  const url = new URL(target.url)
  if (url.protocol === 'https:') return
  if (env.SCHEDULER_ALLOW_INSECURE_LOOPBACK === 'true' && LOOPBACK_HOSTS.has(url.hostname)) return
  throw new AppError('validation_failed', 'The target URL is not allowed.', {
    errors: [
      {
        path,
        message:
          'Targets must use https (plain http only to 127.0.0.1 / localhost with SCHEDULER_ALLOW_INSECURE_LOOPBACK=true)',
      },
    ],
  })
}

/** 400 (the validation problem of the request body) unless the cron expression parses. */
export function checkCron(cron: string | undefined, path = 'body/cron'): void {
  if (cron === undefined) return
  const parsed = parseCron(cron)
  if (parsed.ok) return
  throw new AppError('validation_failed', 'The request body is invalid.', {
    errors: [{ path, message: `Invalid cron expression: ${parsed.error}` }],
  })
}

/** SHA-256 of the validated request, hex: equal requests under one key hash equal. */
export function requestHash(input: unknown): Promise<string> {
  return sha256Hex(JSON.stringify(input))
}

/** The stored spec of a validated schedule request; `now` anchors an interval without `startAt`. */
export function scheduleSpecOf(input: CreateScheduleInput, now: number): ScheduleSpec {
  const timing: ScheduleSpec['timing'] =
    input.cron !== undefined
      ? { kind: 'cron', cron: input.cron, timeZone: canonicalTimeZone(input.timeZone ?? 'UTC') ?? 'UTC' }
      : {
          kind: 'interval',
          everySeconds: input.intervalSeconds ?? 0,
          anchorMs:
            input.startAt !== undefined
              ? Date.parse(input.startAt)
              : now + (input.intervalSeconds ?? 0) * 1000,
        }
  return {
    timing,
    target: input.target,
    priority: input.priority,
    retry: input.retry,
    timeoutMs: input.timeoutMs,
    overlap: input.overlap,
    catchup: input.catchup,
    catchupWindowMs: input.catchupWindowSeconds * 1000,
    jitterMs: input.jitterSeconds * 1000,
  }
}
